"""The client's write path against the simulator over loopback: a POST acts at most once.

A write is sent again only when it certainly was not taken (a 429, a connection that never opened); a
timeout, a reset or a 5xx is reported as "may have run, check the job" and never repeated. Requests are
counted at the simulator, so "not repeated" is what reached the wire, not what the client believes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from monitor.devtools.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    Simulator,
    start_simulator,
)
from monitor.devtools.sim.entities import SimRecord, SimTask
from monitor.workspace.auth import AkSkAuth
from monitor.workspace.client import RetryPolicy, WorkspaceClient
from monitor.workspace.errors import (
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from monitor.workspace.jobs import DesktopOutcome, follow_job
from monitor.workspace.redo import POWER_OPS, PowerRedo, ScriptRedo, plan_redo, start_redo
from tests.support.simapi import small_options

FAST_RETRY = RetryPolicy(attempts=4, wait_initial=0.01, wait_max=0.05, wait_jitter=0, max_retry_after=0.05)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with start_simulator(small_options()) as running:
        yield running


def client_for(sim: Simulator, *, timeout: float = 10.0) -> WorkspaceClient:
    return WorkspaceClient(
        endpoint=sim.base_url,
        project_id=DEFAULT_PROJECT_ID,
        auth=AkSkAuth(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, project_id=DEFAULT_PROJECT_ID),
        retry=FAST_RETRY,
        timeout=timeout,
    )


def desktops(sim: Simulator, n: int) -> list[str]:
    return list(sim.state.desktop_names())[:n]


async def seen_by_sim(sim: Simulator, endpoint: str) -> int:
    """Requests the simulator finished on `endpoint`, once the ones still in flight (a delayed answer the
    client gave up on) have finished: the client cannot send more once it has raised."""
    while sim.state.stats.in_flight:  # noqa: ASYNC110 - the simulator's counter has no event to wait on
        await asyncio.sleep(0.01)
    return sim.state.stats.count(endpoint)


def failed_script_execution(sim: Simulator) -> tuple[SimTask, SimRecord]:
    return next(
        (task, record)
        for task in sim.state.tasks
        if task.task_type == "EXECUTE_SCRIPT"
        for record in task.records
        if record.count("FAIL")
    )


async def test_a_power_action_is_signed_with_its_body_and_returns_the_job(sim: Simulator) -> None:
    """The simulator checks the signature over the body's hash: a wrong hash would be a 401."""
    targets = desktops(sim, 3)
    async with client_for(sim) as client:
        result = await client.desktop_action(targets, "reboot", power_type="HARD")
    assert result.job_id in sim.state.jobs.jobs
    assert result.failed_operation_list == []
    assert sim.state.jobs.actions == [{"desktop_ids": targets, "op_type": "reboot", "type": "HARD"}]


async def test_a_job_runs_then_succeeds_on_every_desktop(sim: Simulator) -> None:
    async with client_for(sim) as client:
        result = await client.desktop_action(desktops(sim, 2), "os-start")
        assert result.job_id is not None
        first = await client.get_job(result.job_id)
        second = await client.get_job(result.job_id)
    assert (first.status, first.finished) == ("RUNNING", False)
    assert (second.status, second.finished) == ("SUCCESS", True)
    assert second.failed_desktops() == []


async def test_a_job_failing_on_some_desktops_names_each_with_its_reason(sim: Simulator) -> None:
    bad, good = desktops(sim, 2)
    sim.state.jobs.fail_desktops[bad] = "The desktop is being rebuilt."
    async with client_for(sim) as client:
        result = await client.desktop_action([bad, good], "os-stop")
        assert result.job_id is not None
        await client.get_job(result.job_id)
        job = await client.get_job(result.job_id)
    assert job.status == "FAILED"
    assert [(sub.desktop_id, sub.fail_reason) for sub in job.failed_desktops()] == [
        (bad, "The desktop is being rebuilt.")
    ]


async def test_a_hanging_job_stays_running(sim: Simulator) -> None:
    sim.state.jobs.hang = True
    async with client_for(sim) as client:
        result = await client.desktop_action(desktops(sim, 1), "os-hibernate")
        assert result.job_id is not None
        for _ in range(3):
            job = await client.get_job(result.job_id)
            assert not job.finished


async def test_unknown_desktops_are_refused_in_the_answer(sim: Simulator) -> None:
    async with client_for(sim) as client:
        result = await client.desktop_action([*desktops(sim, 1), "no-such-desktop"], "os-start")
    assert [f.desktop_id for f in result.failed_operation_list] == ["no-such-desktop"]


async def test_a_timed_out_action_is_not_repeated_and_may_have_run(sim: Simulator) -> None:
    sim.state.add_fault("delay", endpoint="action", seconds=0.5)
    async with client_for(sim, timeout=0.1) as client:
        with pytest.raises(OutcomeUnknownError, match="may have run, check the job") as caught:
            await client.desktop_action(desktops(sim, 1), "reboot")
    assert not caught.value.retryable
    assert isinstance(caught.value.cause, TransportError)
    assert await seen_by_sim(sim, "action") == 1


async def test_a_reset_connection_is_not_repeated(sim: Simulator) -> None:
    sim.state.add_fault("drop", endpoint="action")
    async with client_for(sim) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.desktop_action(desktops(sim, 1), "reboot")
    assert await seen_by_sim(sim, "action") == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_5xx_is_not_repeated(sim: Simulator, status: int) -> None:
    sim.state.add_fault("status", endpoint="action", status=status, count=10)
    async with client_for(sim) as client:
        with pytest.raises(OutcomeUnknownError) as caught:
            await client.desktop_action(desktops(sim, 1), "reboot")
    assert isinstance(caught.value.cause, ServerError)
    assert caught.value.status == status
    assert await seen_by_sim(sim, "action") == 1
    assert sim.state.jobs.actions == []


async def test_a_429_is_retried_and_acts_once(sim: Simulator) -> None:
    """A 429 is the gateway refusing before the service saw the request: sending it again is safe."""
    sim.state.add_fault("status", endpoint="action", status=429, count=2)
    async with client_for(sim) as client:
        result = await client.desktop_action(desktops(sim, 1), "reboot")
    assert result.job_id is not None
    assert await seen_by_sim(sim, "action") == 3
    assert len(sim.state.jobs.actions) == 1


async def test_429s_without_end_give_up_as_rate_limited(sim: Simulator) -> None:
    sim.state.add_fault("status", endpoint="action", status=429, count=100)
    async with client_for(sim) as client:
        with pytest.raises(RateLimitedError):
            await client.desktop_action(desktops(sim, 1), "reboot")
    assert await seen_by_sim(sim, "action") == FAST_RETRY.attempts


async def test_a_read_only_user_is_told_the_missing_iam_action(sim: Simulator) -> None:
    sim.state.jobs.read_only = True
    async with client_for(sim) as client:
        with pytest.raises(PermissionDeniedError, match="workspace:desktops:operate") as caught:
            await client.desktop_action(desktops(sim, 1), "reboot")
    assert caught.value.action == "workspace:desktops:operate"
    assert "grant the IAM user the action workspace:desktops:operate" in str(caught.value)
    assert await seen_by_sim(sim, "action") == 1


async def test_a_refused_connection_is_not_an_unknown_outcome() -> None:
    """Nothing listens: the request never left, so it is a plain transport error, not "may have run"."""
    client = WorkspaceClient(
        endpoint="http://127.0.0.1:9",
        project_id=DEFAULT_PROJECT_ID,
        auth=AkSkAuth(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, project_id=DEFAULT_PROJECT_ID),
        retry=FAST_RETRY,
    )
    async with client:
        with pytest.raises(TransportError) as caught:
            await client.desktop_action(["d"], "reboot")
    assert caught.value.sent is False
    assert not isinstance(caught.value, OutcomeUnknownError)


async def test_a_script_retry_reruns_the_failed_desktops_with_their_output(sim: Simulator) -> None:
    task, record = failed_script_execution(sim)
    failed = {d.desktop_id for d in record.details if d.exec_status == "FAIL"}
    async with client_for(sim) as client:
        originals = await client.list_script_records(record.id)
        script_task_id = await client.retry_script_execution(task.execute_task_id, record.id)
        rerun = await client.list_script_records(script_task_id)
        detail = await client.get_script_record(rerun[0].id)
    assert {r.resource_id for r in originals if r.status == "FAIL"} == failed
    assert sim.state.jobs.script_retries == [(task.execute_task_id, record.id)]
    assert {r.resource_id for r in rerun} == failed
    assert all(r.status == "SUCCESS" for r in rerun)
    assert detail.output is not None
    assert detail.output.endswith("exit 0")


async def test_a_script_retry_failing_again_tells_reason_and_output(sim: Simulator) -> None:
    task, record = failed_script_execution(sim)
    desktop = next(d.desktop_id for d in record.details if d.exec_status == "FAIL")
    sim.state.jobs.fail_desktops[desktop] = "disk full"
    async with client_for(sim) as client:
        script_task_id = await client.retry_script_execution(task.execute_task_id, record.id)
        again = [r for r in await client.list_script_records(script_task_id) if r.resource_id == desktop]
        detail = await client.get_script_record(again[0].id)
    assert (detail.status, detail.reason) == ("FAIL", "disk full")
    assert detail.output is not None
    assert "disk full" in detail.output


async def test_a_timed_out_script_retry_is_not_repeated(sim: Simulator) -> None:
    task, record = failed_script_execution(sim)
    sim.state.add_fault("status", endpoint="script_retry", status=500)
    async with client_for(sim) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.retry_script_execution(task.execute_task_id, record.id)
    assert await seen_by_sim(sim, "script_retry") == 1


async def no_wait(_seconds: float) -> None:
    """follow_job's pause between lookups, skipped: the simulator's job moves on each lookup."""


async def test_following_a_job_reports_the_desktops_that_failed_again(sim: Simulator) -> None:
    bad, good = desktops(sim, 2)
    sim.state.jobs.fail_desktops[bad] = "The desktop is being rebuilt."
    async with client_for(sim) as client:
        result = await client.desktop_action([bad, good], "reboot")
        assert result.job_id is not None
        outcome = await follow_job(client, result.job_id, checks=5, sleep=no_wait)
    assert (outcome.finished, outcome.succeeded, outcome.checks) == (True, False, 2)
    names = sim.state.desktop_names()
    assert outcome.failed_desktops == [DesktopOutcome(bad, names[bad], "The desktop is being rebuilt.")]


async def test_following_a_job_that_succeeds(sim: Simulator) -> None:
    async with client_for(sim) as client:
        result = await client.desktop_action(desktops(sim, 3), "os-start")
        assert result.job_id is not None
        outcome = await follow_job(client, result.job_id, sleep=no_wait)
    assert outcome.succeeded
    assert outcome.failed_desktops == []


async def test_following_a_hanging_job_stops_after_the_bound_unfinished(sim: Simulator) -> None:
    sim.state.jobs.hang = True
    async with client_for(sim) as client:
        result = await client.desktop_action(desktops(sim, 1), "reboot")
        assert result.job_id is not None
        outcome = await follow_job(client, result.job_id, checks=4, sleep=no_wait)
    assert (outcome.finished, outcome.succeeded, outcome.checks) == (False, False, 4)
    assert await seen_by_sim(sim, "job") == 4


async def test_a_power_task_is_redone_on_its_failed_desktops_only(sim: Simulator) -> None:
    task, record = next(
        (t, r)
        for t in sim.state.tasks
        if t.task_type in POWER_OPS
        for r in t.records[:1]
        if 0 < r.count("FAIL") < len(r.details)
    )
    async with client_for(sim) as client:
        (latest, *_) = await client.list_records(task.id)
        plan = plan_redo(task.task_type, latest, await client.list_record_details(task.id, latest.id))
        assert isinstance(plan, PowerRedo)
        started = await start_redo(client, plan)
    failed = [d.desktop_id for d in record.details if d.exec_status == "FAIL"]
    assert started.job_id in sim.state.jobs.jobs
    assert sim.state.jobs.actions == [
        {"desktop_ids": failed, "op_type": POWER_OPS[task.task_type], "type": "SOFT"}
    ]


async def test_a_script_task_is_redone_with_the_records_execute_task_id(sim: Simulator) -> None:
    task, record = failed_script_execution(sim)
    async with client_for(sim) as client:
        found = next(r for r in await client.list_records(task.id, limit=100) if r.id == record.id)
        plan = plan_redo(task.task_type, found, await client.list_record_details(task.id, found.id))
        assert isinstance(plan, ScriptRedo)
        started = await start_redo(client, plan)
    assert sim.state.jobs.script_retries == [(found.execute_task_id, record.id)]
    assert started.script_task_id is not None


async def test_a_read_only_user_is_told_the_script_retry_action(sim: Simulator) -> None:
    task, record = failed_script_execution(sim)
    sim.state.jobs.read_only = True
    async with client_for(sim) as client:
        with pytest.raises(PermissionDeniedError) as caught:
            await client.retry_script_execution(task.execute_task_id, record.id)
    assert caught.value.action == "workspace:scripts:retry"


@pytest.mark.parametrize("kind", ["bad_json", "wrong_types"])
async def test_an_unreadable_answer_to_an_action_that_ran_is_may_have_run(sim: Simulator, kind: str) -> None:
    """The action was taken (the simulator counts it) but its answer cannot be read: never sent again."""
    sim.state.add_fault(kind, endpoint="action")
    async with client_for(sim) as client:
        with pytest.raises(OutcomeUnknownError, match="may have run"):
            await client.desktop_action(desktops(sim, 1), "reboot")
    assert await seen_by_sim(sim, "action") == 1
    assert len(sim.state.jobs.actions) == 1


async def test_an_html_page_instead_of_an_answer_is_may_have_run(sim: Simulator) -> None:
    sim.state.add_fault("html", endpoint="action", status=200)
    async with client_for(sim) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.desktop_action(desktops(sim, 1), "reboot")
    assert await seen_by_sim(sim, "action") == 1


async def test_a_script_retry_answer_naming_no_task_is_may_have_run(sim: Simulator) -> None:
    task, record = failed_script_execution(sim)
    sim.state.add_fault("wrong_types", endpoint="script_retry")
    async with client_for(sim) as client:
        with pytest.raises(OutcomeUnknownError, match="task_id"):
            await client.retry_script_execution(task.execute_task_id, record.id)
    assert sim.state.jobs.script_retries == [(task.execute_task_id, record.id)]
