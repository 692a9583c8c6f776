"""`/tasks` answers as pure functions: what each shows, that user data is escaped, and that every answer is
valid Block Kit within Slack's limits (slack_sdk's models, 50 blocks) - for small and very large inputs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.chatops.commands import Failed, ListTasks
from monitor.chatops.replies import (
    NEXT_PAGE_ACTION_ID,
    PAGE_SIZE,
    PREVIOUS_PAGE_ACTION_ID,
    StatusView,
    ack_reply,
    alerts_reply,
    error_reply,
    help_reply,
    list_reply,
    refusal_reply,
    show_reply,
    silence_added_reply,
    silences_reply,
    status_reply,
    unsilence_reply,
)
from monitor.decide import AlertState, AlertStatus
from monitor.rules.load import compile_match
from monitor.silences import Silence
from monitor.slack.message import SlackMessage
from monitor.store.base import MessageRef
from monitor.workspace.models import ExecutionRecord, RecordDetail, ScheduledTask, TaskDetail
from tests.support.slack import assert_valid

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
HOSTILE = "<!channel> & <@U123> `rm -rf` *bold*"


def text_of(message: SlackMessage) -> str:
    return repr(message.blocks)


def buttons(message: SlackMessage) -> list[tuple[str, str]]:
    return [
        (element["action_id"], element["value"])
        for block in message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def task(index: int, **changes: Any) -> ScheduledTask:
    values: dict[str, Any] = {
        "id": f"00000000-0000-4000-8000-{index:012d}",
        "task_name": f"task-{index:05d}",
        "task_type": "REBOOT",
        "scheduled_type": "DAY",
        "last_status": "FAIL",
        "next_execution_time": "2026-11-30 02:00:00",
        "enable": True,
    }
    values.update(changes)
    return ScheduledTask.model_validate(values)


def alert(index: int, **changes: Any) -> AlertState:
    values: dict[str, Any] = {
        "fingerprint": f"{index:016x}",
        "rule_name": "prod",
        "project": "p",
        "task_id": f"t-{index}",
        "task_name": f"task-{index}",
        "status": AlertStatus.FIRING,
        "episode": 1,
        "last_status": "FAIL",
        "record_id": None,
        "next_execution_time": None,
        "occurrences": 1,
        "consecutive_failures": 1,
        "opened_at": NOW - timedelta(minutes=index),
        "updated_at": NOW,
    }
    values.update(changes)
    return AlertState(**values)


def test_help_lists_every_subcommand_and_says_what_was_not_understood() -> None:
    message = help_reply(note="unknown subcommand 'lsit'")
    assert_valid(message)
    for word in ("list", "failed", "show", "alerts", "silence", "silences", "unsilence", "ack", "status"):
        assert f"`{word}" in text_of(message)
    assert "unknown subcommand 'lsit'" in message.text


def test_help_on_one_topic() -> None:
    message = help_reply("silence")
    assert_valid(message)
    assert "silence &lt;task_id|name-glob&gt; &lt;duration|time-interval&gt; [reason]" in text_of(message)
    assert "`unsilence" not in text_of(message)


@pytest.mark.parametrize(
    ("page", "rows", "button_pages"),
    [
        (1, PAGE_SIZE, {NEXT_PAGE_ACTION_ID: 2}),
        (2, PAGE_SIZE, {PREVIOUS_PAGE_ACTION_ID: 1, NEXT_PAGE_ACTION_ID: 3}),
        (3, 5, {PREVIOUS_PAGE_ACTION_ID: 2}),
        (99, 5, {PREVIOUS_PAGE_ACTION_ID: 2}),
    ],
)
def test_a_listing_shows_one_page_with_buttons_to_its_neighbours(
    page: int, rows: int, button_pages: dict[str, int]
) -> None:
    tasks = [task(i) for i in range(2 * PAGE_SIZE + 5)]
    message = list_reply(ListTasks(status="FAIL", page=page), tasks, complete=True)
    assert_valid(message)
    shown = re.findall(r"task-\d{5}", text_of(message))
    assert len(shown) == rows
    assert {action: int(value.rpartition("=")[2]) for action, value in buttons(message)} == button_pages
    assert all(value.startswith("list status=FAIL page=") for _, value in buttons(message))
    assert "of 3" in message.text


def test_failed_pages_through_failed() -> None:
    message = list_reply(Failed(), [task(i) for i in range(PAGE_SIZE + 1)], complete=True)
    assert buttons(message) == [(NEXT_PAGE_ACTION_ID, "failed page=2")]
    assert "FAIL or SKIP" in text_of(message)


def test_a_listing_is_a_table_with_ids_names_and_status() -> None:
    message = list_reply(
        ListTasks(), [task(1, task_name="nightly reboot", last_status="SKIP")], complete=True
    )
    [table] = [b["text"]["text"] for b in message.blocks if "```" in b.get("text", {}).get("text", "")]
    header, row = table.strip("`\n").splitlines()
    assert header.split() == ["Name", "Type", "Schedule", "Status", "Next", "run", "ID"]
    assert row.split() == ["nightly", "reboot", "REBOOT", "DAY", "SKIP", "2026-11-30", "02:00:00", task(1).id]
    assert header.index("ID") == row.index(task(1).id)  # columns line up


def test_hostile_task_names_show_literally_and_cannot_end_the_code_block() -> None:
    message = list_reply(ListTasks(name="<!here>"), [task(1, task_name=HOSTILE)], complete=True)
    assert_valid(message)
    table = text_of(message)
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in table
    assert table.count("```") == 2


def test_names_full_of_markup_characters_split_the_table_instead_of_cutting_it() -> None:
    tasks = [task(i, task_name="<&>" * 20 + f"{i:02d}") for i in range(PAGE_SIZE)]
    message = list_reply(ListTasks(), tasks, complete=True)
    assert_valid(message)
    tables = [
        b["text"]["text"] for b in message.blocks if b.get("text", {}).get("text", "").startswith("```")
    ]
    assert len(tables) > 1
    assert all(table.endswith("```") for table in tables)
    assert sum(table.count(task(0).id[:-12]) for table in tables) == PAGE_SIZE


def test_long_unicode_names_are_clipped_to_their_column() -> None:
    message = list_reply(ListTasks(), [task(1, task_name="任务" * 500 + "🚀" * 100)], complete=True)
    assert_valid(message)
    assert ("任务" * 16)[:31] + "…" in text_of(message)


def test_an_incomplete_listing_says_so() -> None:
    message = list_reply(ListTasks(), [task(1)], complete=False, problems=["page 3 failed: <HTTP 500>"])
    assert_valid(message)
    assert "incomplete: page 3 failed: &lt;HTTP 500&gt;" in text_of(message)


def test_an_empty_listing() -> None:
    message = list_reply(ListTasks(name="nothing"), [], complete=True)
    assert_valid(message)
    assert "No task matches." in text_of(message)
    assert buttons(message) == []


def test_ten_thousand_tasks_are_one_valid_page() -> None:
    message = list_reply(ListTasks(), [task(i) for i in range(10_000)], complete=True)
    assert_valid(message)
    assert "10000 scheduled tasks" in message.text
    assert "page 1 of 500" in message.text


def test_show_a_task_with_its_executions_and_failed_desktops() -> None:
    detail = TaskDetail(
        id="t-1", task_name=HOSTILE, task_type="REBOOT", scheduled_type="DAY", description="<b>"
    )
    records = [
        ExecutionRecord(
            id=f"r{i}", start_time=f"2026-11-2{i} 02:00:00", status=s, success_num=9, failed_num=1
        )
        for i, s in enumerate(["FAIL", "SUCCESS", "SKIP"])
    ]
    desktops = [
        RecordDetail(desktop_name=f"desk-{i}", exec_status="FAIL", fail_reason="<!channel> timeout")
        for i in range(8)
    ]
    message = show_reply(detail, task(1, last_status="FAIL"), records, desktops)
    assert_valid(message)
    text = text_of(message)
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in text
    assert "oldest → newest: ⏭️✅❌" in text
    assert "desk-4: &lt;!channel&gt; timeout" in text
    assert "desk-5" not in text
    assert "… and 3 more" in text


@pytest.mark.parametrize(
    ("next_run", "started"),
    [
        pytest.param("2026-11-30 02:00:00", "2026-11-29 02:00:00", id="the API reference's local form"),
        pytest.param("2026-11-29T18:00:00Z", "2026-11-28T18:00:00.000Z", id="RFC 3339 in UTC"),
    ],
)
def test_times_read_the_same_in_either_form(next_run: str, started: str) -> None:
    """`/tasks list` and `/tasks show` show the task's local time whatever form the API sent."""
    listed = task(1, next_execution_time=next_run, time_zone="Asia/Shanghai")
    assert "2026-11-30 02:00:00" in text_of(list_reply(ListTasks(), [listed], complete=True))
    record = ExecutionRecord(id="r", start_time=started, time_zone="Asia/Shanghai", status="FAIL")
    shown = text_of(show_reply(TaskDetail(id=listed.id, time_zone="Asia/Shanghai"), listed, [record], []))
    assert "*Next run*\\n2026-11-30 02:00:00 Asia/Shanghai" in shown
    assert "2026-11-29 02:00:00 Asia/Shanghai" in shown


def test_show_counts_the_failed_desktops_the_execution_reports_beyond_those_listed() -> None:
    """Desktops are read up to a cap (and only until enough failed ones are known): the rest is counted by
    the execution record."""
    record = ExecutionRecord(id="r", status="FAIL", failed_num=1200, success_num=5)
    desktops = [RecordDetail(desktop_name=f"desk-{i}", exec_status="FAIL") for i in range(6)]
    shown = text_of(show_reply(TaskDetail(id="t-1"), None, [record], desktops, failed_total=1200))
    assert "desk-4" in shown
    assert "desk-5" not in shown
    assert "… and 1195 more" in shown


def test_show_a_task_that_never_ran() -> None:
    message = show_reply(TaskDetail(id="t-1"), None, [], [])
    assert_valid(message)
    assert "No executions recorded yet." in text_of(message)


def test_alerts_link_to_their_messages() -> None:
    refs = {alert(1).fingerprint: MessageRef(alert(1).fingerprint, 1, "C0DESKOPS01", "1764400000.000100")}
    message = alerts_reply([alert(1), alert(2, acknowledged_by="alice")], refs, team_domain="acme")
    link = "<https://acme.slack.com/archives/C0DESKOPS01/p1764400000000100|message>"
    assert_valid(message, allowed=[link])
    text = text_of(message)
    assert link in text
    assert "not posted yet" in text
    assert "👀 alice" in text
    assert text.index("task-2") < text.index("task-1")  # longest open first


def test_many_alerts_stay_within_the_block_limit() -> None:
    message = alerts_reply([alert(i, task_name=HOSTILE) for i in range(500)], {}, team_domain=None)
    assert_valid(message)
    assert "… and 460 more." in text_of(message)


def test_no_alerts() -> None:
    assert "No firing alerts" in alerts_reply([], {}, team_domain=None).text


def silence(index: int, **changes: Any) -> Silence:
    values: dict[str, Any] = {
        "id": f"s-{index:08x}",
        "matcher": compile_match({"task_name": "prod-*"}, where="test"),
        "until": NOW + timedelta(hours=index + 1),
        "comment": HOSTILE,
        "created_by": "alice",
        "created_at": NOW,
    }
    values.update(changes)
    return Silence(**values)


def test_silences_show_active_ones_with_what_they_match() -> None:
    message = silences_reply([silence(1), silence(2, until=NOW - timedelta(seconds=1))], NOW)
    assert_valid(message)
    text = text_of(message)
    assert "s-00000001" in text
    assert "s-00000002" not in text
    assert "task_name `prod-*`" in text
    assert "(2h left)" in text
    assert "&lt;!channel&gt;" in text


def test_many_silences_stay_within_the_block_limit() -> None:
    message = silences_reply([silence(i) for i in range(300)], NOW)
    assert_valid(message)
    assert len(message.blocks) <= 50


@pytest.mark.parametrize(
    "message",
    [
        silence_added_reply(silence(0), NOW),
        silences_reply([], NOW),
        unsilence_reply("s-1", True),
        unsilence_reply("<!channel>", False),
        ack_reply("0123456789abcdef", True, by="<@U1>"),
        ack_reply("0123456789abcdef", False, by="alice"),
        error_reply("The Workspace API failed: <html>" + "x" * 5000),
        refusal_reply("silence alerts"),
        status_reply(StatusView(None, None, None, None, None, None, 0), NOW),
        status_reply(
            StatusView(NOW - timedelta(seconds=75), 1.25, False, 12, "HTTP 500 <x>", "not_in_channel", 3), NOW
        ),
    ],
)
def test_small_answers_are_valid(message: SlackMessage) -> None:
    assert_valid(message)


def test_status_shows_the_last_poll_errors_and_backlog() -> None:
    view = StatusView(NOW - timedelta(seconds=75), 1.25, False, 12, "HTTP 500 <x>", "not_in_channel", 3)
    text = text_of(status_reply(view, NOW))
    assert "(1m15s ago, took 1.2s), INCOMPLETE, 12 failing tasks" in text
    assert "HTTP 500 &lt;x&gt;" in text
    assert "not_in_channel" in text
    assert "3 waiting" in text


@pytest.mark.parametrize(
    ("leader", "is_me", "shown"),
    [
        ("db-host-a:4242", True, "db-host-a:4242 (this replica)"),
        ("db-host-b:77", False, "db-host-b:77"),
        (None, False, None),
    ],
)
def test_status_says_which_replica_leads(leader: str | None, is_me: bool, shown: str | None) -> None:
    view = StatusView(NOW, 1.0, True, 0, None, None, 0, leader=leader, leader_is_me=is_me)
    message = status_reply(view, NOW)
    assert_valid(message)
    text = text_of(message)
    if shown is None:
        assert "Leader" not in text
    else:
        assert "*Leader*" in text
        assert shown in text
        assert is_me or "(this replica)" not in text


@given(
    names=st.lists(st.text(max_size=300), max_size=3 * PAGE_SIZE),
    page=st.integers(min_value=1, max_value=5),
    status=st.sampled_from([None, "FAIL", "SKIP", "SUCCESS"]),
    filter_name=st.one_of(st.none(), st.text(min_size=1, max_size=40)),
)
def test_any_task_names_make_a_valid_escaped_page(
    names: list[str], page: int, status: str | None, filter_name: str | None
) -> None:
    tasks = [task(i, task_name=name) for i, name in enumerate(names)]
    message = list_reply(ListTasks(status=status, name=filter_name, page=page), tasks, complete=True)
    assert_valid(message)
    for block in message.blocks:
        text = block.get("text", {}).get("text", "")
        if text.startswith("```"):
            assert text.endswith("```")
            assert text.count("```") == 2


@given(
    name=st.text(max_size=500),
    description=st.text(max_size=2000),
    reason=st.text(max_size=500),
    desktops=st.integers(min_value=0, max_value=30),
)
def test_any_task_detail_makes_a_valid_escaped_answer(
    name: str, description: str, reason: str, desktops: int
) -> None:
    detail = TaskDetail(id="t-1", task_name=name, description=description)
    failed = [RecordDetail(desktop_name=name, fail_reason=reason) for _ in range(desktops)]
    records = [ExecutionRecord(id="r", start_time=reason[:40], status="FAIL")]
    assert_valid(show_reply(detail, None, records, failed, problems=[reason]))
