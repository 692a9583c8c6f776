"""State mutations (executions, edits, create/delete, shift), IAM logins, scenarios and the CLI hooks."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.devtools.sim import SimOptions, SimState, UnknownTask
from monitor.devtools.sim.auth import IamFailure
from monitor.devtools.sim.cli import add_arguments, options_from_args, run
from monitor.devtools.sim.faults import parse_fault
from monitor.devtools.sim.query import TaskFilters

NOW = datetime(2026, 11, 29, 5, 0, 0, tzinfo=UTC)


@pytest.fixture
def state() -> SimState:
    return SimState(SimOptions(tasks=60, fail_rate=0.2, skip_rate=0.1, seed=2, clock=lambda: NOW))


def test_add_execution_is_newest_first_and_moves_last_status(state: SimState) -> None:
    task = next(t for t in state.tasks if t.last_status == "SUCCESS" and t.scheduled_type == "DAY")
    before = len(task.records)
    desktop = task.desktops[0].name
    record = state.add_execution(task.id, "FAIL", failed_desktops=[desktop], fail_reason="disk full")
    assert task.records[0] is record
    assert len(task.records) == before + 1
    assert task.last_status == "FAIL"
    assert [(d.desktop_name, d.fail_reason) for d in record.details if d.exec_status == "FAIL"] == [
        (desktop, "disk full")
    ]
    assert task.next_execution_time is not None
    assert task.next_execution_time > "2026-11-29"
    state.add_execution(task.task_name, "SUCCESS")  # by exact name too
    assert task.last_status == "SUCCESS"


@pytest.mark.parametrize(
    ("status", "desktops", "error"),
    [("BROKEN", None, "status must be"), ("FAIL", "ws-1", "failed_desktops must be")],
)
def test_add_execution_validates(state: SimState, status: str, desktops: object, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        state.add_execution(state.tasks[0].id, status, desktops)  # type: ignore[arg-type]
    with pytest.raises(UnknownTask):
        state.add_execution("no-such-task", "FAIL")


def test_patch_sets_fields_and_moves_the_schedule(state: SimState) -> None:
    task = next(t for t in state.tasks if t.scheduled_type == "DAY")
    state.patch_task(task.id, {"enable": False, "task_name": "renamed", "scheduled_time": "23:59:00"})
    assert (task.enable, task.task_name) == (False, "renamed")
    assert task.next_execution_time is not None
    assert task.next_execution_time.endswith("23:59:00")
    bad_edits: list[tuple[dict[str, object], str]] = [
        ({"enable": "no"}, "true or false"),
        ({"id": "x"}, "cannot be set"),
        ({"nope": 1}, "cannot"),
    ]
    for bad, error in bad_edits:
        with pytest.raises(ValueError, match=error):
            state.patch_task(task.id, bad)


def test_create_and_delete(state: SimState) -> None:
    task = state.create_task(
        {"id": "my-task", "task_name": "new one", "last_status": "FAIL", "desktops": ["a", "b"]}
    )
    assert state.tasks[-1] is task
    assert task.records[0].status == "FAIL"
    assert [d.name for d in task.desktops] == ["a", "b"]
    with pytest.raises(ValueError, match="exists"):
        state.create_task({"id": "my-task"})
    state.delete_task("my-task")
    with pytest.raises(UnknownTask):
        state.task("my-task")


def test_shift_inserts_at_the_front_or_removes_matching_tasks(state: SimState) -> None:
    filters = TaskFilters(last_status="FAIL")
    before = [t.id for t in state.find(filters)]
    state.shift(parse_fault({"kind": "shift", "n": 2}), filters)
    after = [t.id for t in state.find(filters)]
    assert after[2:] == before
    assert len(after) == len(before) + 2
    state.shift(parse_fault({"kind": "shift", "mode": "remove", "n": 3}), filters)
    assert [t.id for t in state.find(filters)] == after[3:]


def test_login_checks_user_password_domain_and_scope(state: SimState) -> None:
    opts = state.options

    def body(password: str = opts.iam_password, scope: dict[str, str] | None = None) -> dict[str, object]:
        user = {"name": opts.iam_user, "password": password, "domain": {"name": opts.iam_domain}}
        return {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": user}},
                "scope": {"project": scope or {"id": opts.project_id}},
            }
        }

    token = state.login(body())
    assert token.project_id == opts.project_id
    assert token.issued_at == NOW
    assert state.login(body(scope={"name": opts.region})).value != token.value
    for bad in (body(password="wrong"), body(scope={"id": "other"})):
        with pytest.raises(IamFailure) as caught:
            state.login(bad)
        assert caught.value.status == 401
    assert state.expire_tokens() == 2


SCENARIO = """
steps:
  - - {action: create, set: {id: scripted, task_name: scripted task, last_status: SUCCESS}}
    - {action: fault, fault: {kind: status, status: 503, endpoint: list}}
  - - {action: execute, task: scripted task, status: FAIL}
  - actions:
      - {action: patch, task: scripted, set: {enable: false}}
      - {action: clear_faults}
      - {action: expire_tokens}
  - - {action: delete, task: scripted}
"""


def test_scenario_steps(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO)
    state = SimState(SimOptions(tasks=5, scenario=path))
    first = state.advance_scenario()
    assert (first["step"], first["steps"], first["done"]) == (1, 4, False)
    assert state.faults.pending()[0]["status"] == 503
    state.advance_scenario()
    assert state.task("scripted").last_status == "FAIL"
    state.advance_scenario()
    assert state.task("scripted").enable is False
    assert state.faults.pending() == []
    assert state.advance_scenario()["done"] is True
    with pytest.raises(ValueError, match="finished"):
        state.advance_scenario()


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ("{}", "a list of steps"),
        ("- oops", "step 1: a step is a list"),
        ("- - {action: fly}", "step 1, action 1: action must be one of"),
        ("- - {action: execute, task: x}", "needs status"),
        ("- - {action: delete}", "needs 'task'"),
        ("- - {action: fault, fault: {kind: nope}}", "kind must be one of"),
        ("- [", "not YAML"),
    ],
)
def test_bad_scenarios_are_caught_when_loaded(tmp_path: Path, document: str, error: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(document)
    with pytest.raises(ValueError, match=error):
        SimState(SimOptions(tasks=1, scenario=path))


def test_a_failing_action_names_its_step(state: SimState) -> None:
    state.load_scenario([[{"action": "delete", "task": "ghost"}]])
    with pytest.raises(ValueError, match=r"scenario step 1, action 1 \(delete\)"):
        state.advance_scenario()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"fail_rate": 1.5}, "fail_rate"),
        ({"fail_rate": 0.6, "skip_rate": 0.6}, "must not exceed"),
        ({"tasks": -1}, "tasks"),
        ({"step_seconds": 0}, "step_seconds"),
    ],
)
def test_bad_options(kwargs: dict[str, float], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        SimOptions(**kwargs)  # type: ignore[arg-type]


def test_secrets_stay_out_of_repr() -> None:
    text = repr(SimOptions(static_tokens=("tok-123",)))
    assert "sim-secret-key" not in text
    assert "tok-123" not in text
    assert "sim-password" not in text


def test_cli_flags_map_to_options(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    defaults = parser.parse_args([])
    assert (defaults.host, defaults.port, defaults.tasks, defaults.seed) == ("127.0.0.1", 8900, 500, 1)
    args = parser.parse_args(["--port", "0", "--tasks", "9", "--fail-rate", "0.1", "--token-ttl", "60"])
    options = options_from_args(args)
    assert (options.port, options.tasks, options.fail_rate, options.token_ttl_seconds) == (0, 9, 0.1, 60.0)
    bad = parser.parse_args(["--scenario", str(tmp_path / "missing.yaml")])
    assert run(bad) == 2
    assert run(parser.parse_args(["--fail-rate", "2"])) == 2


def test_listings_follow_every_change_despite_the_selection_cache(state: SimState) -> None:
    """`find` caches per filter; each kind of change must show in the next listing."""
    failing = TaskFilters(last_status="FAIL")
    before = {t.id for t in state.find(failing)}
    ok = next(t for t in state.tasks if t.last_status == "SUCCESS" and not t.triggered)
    state.add_execution(ok.id, "FAIL")
    assert {t.id for t in state.find(failing)} == before | {ok.id}
    state.patch_task(ok.id, {"last_status": "SKIP"})
    assert ok.id not in {t.id for t in state.find(failing)}
    created = state.create_task({"last_status": "FAIL"})
    assert created.id in {t.id for t in state.find(failing)}
    state.delete_task(created.id)
    assert {t.id for t in state.find(failing)} == before
