"""Which redo each kind of task gets, on which desktops: the issue 18 table as a table test."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.workspace.models import ExecutionRecord, RecordDetail
from monitor.workspace.redo import NoRedo, PowerRedo, ScriptRedo, claim_key, plan_redo


def record(**fields: Any) -> ExecutionRecord:
    return ExecutionRecord.model_validate({"id": "rec-1", "execute_task_id": "exec-1", **fields})


def details(*outcomes: tuple[str, str]) -> list[RecordDetail]:
    return [RecordDetail(desktop_id=desktop, exec_status=status) for desktop, status in outcomes]


MIXED = details(("d-1", "FAIL"), ("d-2", "SUCCESS"), ("d-3", "FAIL"), ("d-4", "SKIP"), ("d-1", "FAIL"))


@pytest.mark.parametrize(
    ("task_type", "expected"),
    [
        ("START", PowerRedo("os-start", ("d-1", "d-3"))),
        ("STOP", PowerRedo("os-stop", ("d-1", "d-3"))),
        ("REBOOT", PowerRedo("reboot", ("d-1", "d-3"))),
        ("HIBERNATE", PowerRedo("os-hibernate", ("d-1", "d-3"))),
        ("EXECUTE_SCRIPT", ScriptRedo("exec-1", "rec-1", 2)),
        ("REBUILD", NoRedo("rebuilding desktops is destructive: redo it from the console")),
        ("CREATE_SNAPSHOT", NoRedo("snapshots cost storage: take them again from the console")),
        ("DELETE_BLACK_ECS", NoRedo("deleting servers is destructive: redo it from the console")),
        ("SOMETHING_NEW", NoRedo("SOMETHING_NEW tasks cannot be redone from Slack")),
        (None, NoRedo("the task's type is unknown")),
    ],
)
def test_each_task_type_is_redone_on_its_failed_desktops_only(
    task_type: str | None, expected: object
) -> None:
    assert plan_redo(task_type, record(), MIXED) == expected


def test_nothing_to_redo_when_no_desktop_failed() -> None:
    ok = details(("d-1", "SUCCESS"), ("d-2", "SKIP"))
    assert plan_redo("REBOOT", record(), ok) == NoRedo("no desktop failed in this execution")
    assert plan_redo("EXECUTE_SCRIPT", record(), ok) == NoRedo("no desktop failed in this execution")


def test_a_script_redo_needs_the_records_execute_task_id() -> None:
    plan = plan_redo("EXECUTE_SCRIPT", record(execute_task_id=None), MIXED)
    assert plan == NoRedo("the execution record names no script execution task (execute_task_id)")


def test_a_script_redo_counts_failures_from_the_record_when_details_were_not_read() -> None:
    assert plan_redo("EXECUTE_SCRIPT", record(failed_num=7), []) == ScriptRedo("exec-1", "rec-1", 7)


def test_the_claim_key_is_per_alert_and_record() -> None:
    assert claim_key("fp-1", "rec-1") == claim_key("fp-1", "rec-1")
    assert len({claim_key("fp-1", "rec-1"), claim_key("fp-1", "rec-2"), claim_key("fp-2", "rec-1")}) == 3
