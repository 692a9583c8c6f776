"""Values the API may send beyond what it documents: every one is kept and shown as it is, never a crash,
and anything but SUCCESS is not a success (issue 15, Workspace 8). What people write (rules, the CLI's and
chatops' arguments, the simulator's edits) is held to one vocabulary, `monitor.workspace.vocabulary`."""

from __future__ import annotations

import pytest
from rich.console import Console

from monitor.arguments import build_parser
from monitor.chatops.commands import ListTasks, parse_command
from monitor.chatops.replies import show_reply
from monitor.decide import Observation, TaskCondition, consecutive_failures
from monitor.notify.text import render_text
from monitor.rules.load import load_rules_text
from monitor.slack.alert import render_alert
from monitor.tasklist import task_table
from monitor.workspace.models import ExecutionRecord, ScheduledTask, TaskDetail
from monitor.workspace.vocabulary import LAST_STATUSES, SCHEDULED_TYPES, TASK_TYPES
from tests.support.slack import all_text, payload


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_every_task_type_is_a_word_of_rules_cli_and_chatops(task_type: str) -> None:
    load_rules_text(f"rules:\n  - name: r\n    match:\n      task_type: {task_type}\n", "rules.yaml")
    assert build_parser().parse_args(["tasks", "--type", task_type]).task_type == task_type
    assert parse_command(f"list type={task_type}") == ListTasks(task_type=task_type)


@pytest.mark.parametrize("scheduled_type", SCHEDULED_TYPES)
def test_every_scheduled_type_is_a_word_of_rules_cli_and_chatops(scheduled_type: str) -> None:
    load_rules_text(f"rules:\n  - name: r\n    match:\n      scheduled_type: {scheduled_type}\n", "r.yaml")
    assert build_parser().parse_args(["tasks", "--schedule", scheduled_type]).schedule == scheduled_type
    assert parse_command(f"list schedule={scheduled_type}") == ListTasks(schedule=scheduled_type)


@pytest.mark.parametrize("status", LAST_STATUSES)
def test_every_status_is_a_word_of_the_cli_and_chatops(status: str) -> None:
    assert build_parser().parse_args(["tasks", "--status", status]).status == status
    assert parse_command(f"list status={status}") == ListTasks(status=status)


def test_rules_may_name_every_task_type_the_sdk_knows() -> None:
    ruleset = load_rules_text(
        "rules:\n  - name: deletes\n    match:\n      task_type: DELETE_BLACK_ECS\n", "rules.yaml"
    )
    assert ruleset.rules[0].name == "deletes"


@pytest.mark.parametrize(
    ("statuses", "count"),
    [
        (["FAIL", "FAIL", "SUCCESS", "FAIL"], 2),
        (["RUNNING", "FAIL", "SKIP", "SUCCESS"], 2),  # a run still going is not a success
        (["PARTIAL_SUCCESS", "FAIL"], 1),
        (["SUCCESS", "FAIL"], 0),
        ([None, "FAIL"], 1),
    ],
)
def test_only_success_ends_a_streak_of_failures(statuses: list[str | None], count: int) -> None:
    records = [
        ExecutionRecord(id=f"r{i}", status=status, start_time=f"2026-11-{29 - i:02d} 08:00:00")
        for i, status in enumerate(statuses)
    ]
    assert consecutive_failures(records) == count


@pytest.mark.parametrize("status", ["RUNNING", "PARTIAL_SUCCESS", "success", None])
def test_a_lookup_resolves_only_on_success(status: str | None) -> None:
    observation = Observation.looked_up("t", "p", exists=True, last_status=status)
    assert observation.condition is TaskCondition.UNRESOLVED


UNKNOWN = {
    "type": "MIGRATE_DESKTOP",
    "last_status": "FAIL",
    "scheduled_type": "YEAR",
    "life_cycle_type": "ON_MOON",
}


def test_unknown_values_are_shown_as_they_are_in_slack_and_text() -> None:
    message = payload(task=UNKNOWN)
    body = all_text(render_alert(message))
    text = render_text(message)
    for value in ("MIGRATE_DESKTOP", "YEAR"):
        assert value in body
        assert value in text


def test_unknown_values_are_shown_as_they_are_in_the_terminal() -> None:
    task = ScheduledTask(
        id="t-1", task_name="n", task_type="MIGRATE_DESKTOP", last_status="RUNNING", scheduled_type="YEAR"
    )
    console = Console(width=250, record=True)
    console.print(task_table([task]))
    shown = console.export_text()
    for value in ("MIGRATE_DESKTOP", "RUNNING", "YEAR"):
        assert value in shown


def test_a_record_status_without_a_mark_is_shown_raw_in_tasks_show() -> None:
    records = [
        ExecutionRecord(id="r1", status="PARTIAL_SUCCESS", start_time="2026-11-29 08:00:00"),
        ExecutionRecord(id="r2", status="FAIL", start_time="2026-11-28 08:00:00"),
    ]
    shown = repr(show_reply(TaskDetail(id="t-1", task_type="DELETE_BLACK_ECS"), None, records, []).blocks)
    assert "PARTIAL_SUCCESS" in shown
    assert "DELETE_BLACK_ECS" in shown
    assert "FAIL 2026" not in shown  # known statuses keep just their mark
