"""Our client against the real simulator over loopback: every auth mode, every fault class, real paging."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from monitor.config import Credentials, WorkspaceSettings
from monitor.devtools.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_IAM_DOMAIN,
    DEFAULT_IAM_PASSWORD,
    DEFAULT_IAM_USER,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    DEFAULT_SECURITY_TOKEN,
    DEFAULT_TEMP_ACCESS_KEY,
    DEFAULT_TEMP_SECRET_KEY,
    Simulator,
    start_simulator,
)
from monitor.devtools.sim.entities import SimDesktop
from monitor.workspace.client import RetryPolicy, TaskFilter, WorkspaceClient
from monitor.workspace.errors import (
    AuthError,
    ConfigurationError,
    MalformedResponseError,
    NotFoundError,
    ServerError,
)
from monitor.workspace.factory import build_client
from monitor.workspace.models import format_api_time
from tests.support.simapi import small_options

FAST_RETRY = RetryPolicy(attempts=4, wait_initial=0.01, wait_max=0.05, wait_jitter=0, max_retry_after=0.2)


def settings_for(sim: Simulator, **extra: Any) -> WorkspaceSettings:
    return WorkspaceSettings(
        endpoint=sim.base_url,
        iam_endpoint=sim.base_url,
        project_id=DEFAULT_PROJECT_ID,
        concurrency=4,
        retry_attempts=4,
        **extra,
    )


CREDENTIALS = {
    "aksk": Credentials(access_key=DEFAULT_ACCESS_KEY, secret_key=DEFAULT_SECRET_KEY),
    "temporary aksk": Credentials(
        access_key=DEFAULT_TEMP_ACCESS_KEY,
        secret_key=DEFAULT_TEMP_SECRET_KEY,
        security_token=DEFAULT_SECURITY_TOKEN,
    ),
    "iam password": Credentials(
        iam_username=DEFAULT_IAM_USER, iam_password=DEFAULT_IAM_PASSWORD, iam_domain=DEFAULT_IAM_DOMAIN
    ),
    "static token": Credentials(auth_token="static-token-for-tests"),
}


@pytest.fixture
async def big_sim() -> AsyncIterator[Simulator]:
    """Enough failing tasks for several pages, a static token the simulator accepts."""
    options = small_options(
        tasks=400, fail_rate=0.4, skip_rate=0.1, static_tokens=("static-token-for-tests",)
    )
    async with start_simulator(options) as running:
        yield running


def expected_failing(sim: Simulator) -> set[str]:
    return {t.id for status in ("FAIL", "SKIP") for t in sim.state.with_status(status)}


@pytest.mark.parametrize("mode", list(CREDENTIALS))
async def test_every_auth_mode_pages_through_all_failing_tasks(big_sim: Simulator, mode: str) -> None:
    async with build_client(settings_for(big_sim), CREDENTIALS[mode]) as client:
        listing = await client.fetch_failing()
    assert listing.complete
    assert {t.id for t in listing.tasks} == expected_failing(big_sim)
    assert len(listing.tasks) > 150  # several pages per status


async def test_show_records_and_details_of_a_failing_task(big_sim: Simulator) -> None:
    failing = big_sim.state.with_status("FAIL", triggered=False)[0]
    async with build_client(settings_for(big_sim), CREDENTIALS["aksk"]) as client:
        detail = await client.get_task(failing.id)
        records = await client.list_records(failing.id)
        desktops = await client.list_record_details(failing.id, records[0].id)
    assert detail.id == failing.id
    assert detail.task_name == failing.task_name
    assert records[0].status == "FAIL"
    assert any(d.exec_status == "FAIL" and d.fail_reason for d in desktops)


@pytest.mark.parametrize("status", [400, 404])
async def test_unknown_task_is_not_found(big_sim: Simulator, status: int) -> None:
    big_sim.state.options.not_found_status = status
    async with build_client(settings_for(big_sim), CREDENTIALS["aksk"]) as client:
        with pytest.raises(NotFoundError) as caught:
            await client.get_task("no-such-task")
    assert caught.value.status == status


async def test_both_time_forms_show_the_same_times(big_sim: Simulator) -> None:
    """The simulator writes times as the API reference says or as the live cloud was seen to (RFC 3339 in
    UTC, milliseconds in record details); people are shown the same local times either way."""
    task = next(t for t in big_sim.state.with_status("FAIL", triggered=False) if t.next_execution_time)
    shown: dict[str, tuple[str, list[str], list[str]]] = {}
    raw: dict[str, str | None] = {}
    for form in ("local", "rfc3339"):
        big_sim.state.options.time_format = form
        async with build_client(settings_for(big_sim), CREDENTIALS["aksk"]) as client:
            listing = await client.fetch_tasks(TaskFilter(task_name=task.task_name))
            records = await client.list_records(task.id)
            details = await client.list_record_details(task.id, records[0].id)
        listed = next(t for t in listing.tasks if t.id == task.id)
        raw[form] = details[0].start_time
        shown[form] = (
            format_api_time(listed.next_execution_time, listed.time_zone),
            [format_api_time(r.start_time, r.time_zone) for r in records],
            [format_api_time(d.start_time, d.time_zone) for d in details],
        )
    assert raw["rfc3339"] is not None
    assert raw["rfc3339"].endswith(".000Z")
    assert raw["local"] != raw["rfc3339"]
    assert shown["local"] == shown["rfc3339"]
    assert shown["local"][0].endswith(f" {task.time_zone}")


async def test_failed_desktops_beyond_the_first_hundred_are_found(big_sim: Simulator) -> None:
    """An execution on 300 desktops whose failures are all past the first page of 100: the details are
    paged by offset, to the end or until enough failures are known."""
    task = big_sim.state.with_status("SUCCESS", triggered=False)[0]
    task.desktops = [SimDesktop(id=f"d-{i:03d}", name=f"desk-{i:03d}") for i in range(300)]
    failing = [f"desk-{i:03d}" for i in range(150, 160)]
    record = big_sim.state.add_execution(task.id, "FAIL", failed_desktops=failing)
    stats = big_sim.state.stats
    async with build_client(settings_for(big_sim), CREDENTIALS["aksk"]) as client:
        everything = await client.list_record_details(task.id, record.id)
        asked = stats.count("details")
        first_five = await client.list_record_details(
            task.id, record.id, enough=lambda ds: sum(d.exec_status == "FAIL" for d in ds) >= 5
        )
    assert len(everything) == 300
    assert [d.desktop_name for d in everything if d.exec_status == "FAIL"] == failing
    assert asked == 4  # three full pages, then an empty one
    assert len(first_five) == 200
    assert stats.count("details") - asked == 2


async def test_wrong_secret_key_is_rejected_with_what_to_check(big_sim: Simulator) -> None:
    wrong = Credentials(access_key=DEFAULT_ACCESS_KEY, secret_key="not-the-secret")
    async with build_client(settings_for(big_sim), wrong) as client:
        with pytest.raises(AuthError) as caught:
            await client.fetch_failing()
    assert caught.value.error_code == "APIGW.0301"
    assert "verify HUAWEICLOUD_SDK_AK/SK and the project id" in str(caught.value)


async def test_wrong_iam_password_is_rejected(big_sim: Simulator) -> None:
    wrong = Credentials(iam_username=DEFAULT_IAM_USER, iam_password="nope", iam_domain=DEFAULT_IAM_DOMAIN)
    async with build_client(settings_for(big_sim), wrong) as client:
        with pytest.raises(AuthError, match="IAM refused the password login"):
            await client.fetch_failing()


@pytest.mark.parametrize("answer", ["APIGW.0307", "APIGW.0301"])
async def test_expired_iam_token_is_renewed_and_the_request_succeeds(big_sim: Simulator, answer: str) -> None:
    """Whether the gateway says "The token must be updated." (APIGW.0307) or "Incorrect IAM authentication
    information: the token has expired" (APIGW.0301): one new token, one retry."""
    big_sim.state.authenticator.expired_as_0301 = answer == "APIGW.0301"
    async with build_client(settings_for(big_sim), CREDENTIALS["iam password"]) as client:
        await client.fetch_tasks(TaskFilter(last_status="FAIL"))
        assert big_sim.state.expire_tokens() == 1
        listing = await client.fetch_tasks(TaskFilter(last_status="FAIL"))
    assert listing.complete
    assert big_sim.state.stats_snapshot()["requests"]["token"] == {"201": 2}


def fast_client(sim: Simulator, concurrency: int = 4) -> WorkspaceClient:
    from monitor.workspace.auth import AkSkAuth

    return WorkspaceClient(
        endpoint=sim.base_url,
        project_id=DEFAULT_PROJECT_ID,
        auth=AkSkAuth(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, project_id=DEFAULT_PROJECT_ID),
        concurrency=concurrency,
        retry=FAST_RETRY,
    )


async def test_concurrency_bound_holds_on_the_wire() -> None:
    async with start_simulator(small_options(tasks=600, fail_rate=1.0, skip_rate=0, latency_ms=20)) as sim:
        async with fast_client(sim, concurrency=3) as client:
            listing = await client.fetch_tasks(TaskFilter(last_status="FAIL"))
        stats = sim.state.stats_snapshot()
    assert listing.complete
    assert stats["max_in_flight"] == 3


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"kind": "status", "status": 503, "count": 2}, id="503 twice"),
        pytest.param(
            {"kind": "status", "status": 429, "count": 2, "headers": {"Retry-After": "0.05"}}, id="429"
        ),
        pytest.param({"kind": "html", "count": 1}, id="502 html page"),
        pytest.param({"kind": "drop", "count": 2}, id="dropped connection"),
        pytest.param({"kind": "delay", "seconds": 0.05, "count": 3}, id="slow answers"),
    ],
)
async def test_transient_faults_are_retried_and_the_listing_completes(
    big_sim: Simulator, fault: dict[str, Any]
) -> None:
    big_sim.state.add_faults([{"endpoint": "list", **fault}])
    async with fast_client(big_sim) as client:
        listing = await client.fetch_failing()
    assert listing.complete
    assert {t.id for t in listing.tasks} == expected_failing(big_sim)
    assert sum(big_sim.state.stats_snapshot()["faults_injected"].values()) >= 1


async def test_persistent_5xx_ends_in_a_server_error(big_sim: Simulator) -> None:
    big_sim.state.add_fault("status", endpoint="list", count=100, status=500)
    async with fast_client(big_sim) as client:
        with pytest.raises(ServerError):
            await client.fetch_tasks(TaskFilter(last_status="FAIL"))


@pytest.mark.parametrize("kind", ["bad_json", "wrong_types"])
async def test_garbage_on_the_first_page_is_a_clear_error(big_sim: Simulator, kind: str) -> None:
    big_sim.state.add_fault(kind, endpoint="list")
    async with fast_client(big_sim) as client:
        with pytest.raises(MalformedResponseError, match=r"GET /v2/\{project_id\}/scheduled-tasks"):
            await client.fetch_tasks(TaskFilter(last_status="FAIL"))


async def test_garbage_on_a_later_page_makes_the_listing_incomplete(big_sim: Simulator) -> None:
    big_sim.state.add_fault("bad_json", endpoint="list", skip=1)  # page 0 is fine, the next one is not
    async with fast_client(big_sim, concurrency=1) as client:
        listing = await client.fetch_tasks(TaskFilter(last_status="FAIL"))
    assert listing.total_count > 100
    assert len(listing.tasks) == listing.total_count - 50
    assert not listing.complete
    assert listing.problems


@pytest.mark.parametrize("extra", [120, 7, -7, -60])
async def test_a_wrong_total_count_still_lists_every_task(big_sim: Simulator, extra: int) -> None:
    """total_count off by +N or -N: the listing pages until a short page, and is complete."""
    big_sim.state.add_fault("lie_total", endpoint="list", count=100, extra=extra)
    async with fast_client(big_sim) as client:
        listing = await client.fetch_tasks(TaskFilter(last_status="FAIL"))
    assert listing.complete
    assert listing.problems == []
    assert {t.id for t in listing.tasks} == {t.id for t in big_sim.state.with_status("FAIL", triggered=False)}


@pytest.mark.parametrize("mode", ["insert", "remove"])
async def test_a_list_that_shifts_between_pages_is_deduplicated_and_rechecked(
    big_sim: Simulator, mode: str
) -> None:
    big_sim.state.add_fault("shift", endpoint="list", mode=mode, n=3)
    async with fast_client(big_sim, concurrency=1) as client:
        listing = await client.fetch_tasks(TaskFilter(last_status="FAIL"))
    ids = [t.id for t in listing.tasks]
    assert len(ids) == len(set(ids))
    current = {t.id for t in big_sim.state.with_status("FAIL", triggered=False)}
    assert current <= set(ids)  # nothing that exists now was missed
    assert listing.complete  # the second pass saw a list that held still


async def test_endpoint_that_is_not_workspace_is_named() -> None:
    def not_workspace(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            404, text="<html><body>Not Found</body></html>", headers={"Content-Type": "text/html"}
        )

    from monitor.workspace.auth import StaticTokenAuth

    async with WorkspaceClient(
        endpoint="http://127.0.0.1:9",
        project_id=DEFAULT_PROJECT_ID,
        auth=StaticTokenAuth("x" * 10),
        transport=httpx.MockTransport(not_workspace),
    ) as client:
        with pytest.raises(ConfigurationError, match=r"check workspace\.region / workspace\.endpoint"):
            await client.fetch_failing()
