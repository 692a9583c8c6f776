"""The Home tab (`monitor.chatops.home.home_view`) as a pure function: valid for slack_sdk's own models
(`View`, each `Block`) within Slack's 100 blocks for 0, 1 and 500 alerts; grouped by severity with links to
the messages and the messages' own buttons; health and silences; user data escaped."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from monitor.chatops.home import ALERTS_SHOWN, SILENCES_SHOWN, HomeData, home_view
from monitor.chatops.replies import ProjectPoll, StatusView
from monitor.decide import AlertState, AlertStatus
from monitor.rules.load import compile_match
from monitor.silences import Silence
from monitor.slack.actions import ACK_ACTION_ID, RETRY_ACTION_ID, SILENCE_MENU_ACTION_ID
from monitor.store.base import MessageRef
from tests.support.slack import assert_no_user_markup, texts

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
HOSTILE = "<!channel> *bold* <https://evil.example|click> & co"
URL = "https://acme.slack.com/"
SEVERITIES = {"prod": "critical", "lab": "warning", "docs": "info"}
LINK = re.compile(r"<https://acme\.slack\.com/archives/C[0-9A-Z]+/p\d+\|message>")


def alert(index: int, **changes: Any) -> AlertState:
    rules = ("prod", "lab", "docs", "gone")
    values: dict[str, Any] = {
        "fingerprint": f"{index:016x}",
        "rule_name": rules[index % 4],
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


def status(**changes: Any) -> StatusView:
    values: dict[str, Any] = {
        "last_poll_at": NOW - timedelta(minutes=1),
        "last_poll_seconds": 1.5,
        "last_poll_complete": True,
        "last_poll_tasks": 3,
        "api_error": None,
        "slack_error": None,
        "outbox_backlog": 0,
        "projects": (ProjectPoll("p-1", NOW - timedelta(minutes=1)), ProjectPoll("p-2", None, "HTTP 503")),
    }
    values.update(changes)
    return StatusView(**values)


def data(alerts: list[AlertState], silences: Sequence[Silence] = (), **changes: Any) -> HomeData:
    refs = {a.fingerprint: MessageRef(a.fingerprint, 1, "C0DESKOPS01", f"17644032{i:02d}.000100")
            for i, a in enumerate(alerts)}  # fmt: skip
    values: dict[str, Any] = {
        "alerts": alerts,
        "refs": refs,
        "severities": SEVERITIES,
        "silences": list(silences),
        "status": status(),
        "workspace_url": URL,
    }
    values.update(changes)
    return HomeData(**values)


def assert_valid_view(view: dict[str, Any]) -> None:
    """As Slack would take it: slack_sdk's View and Block models, 100 blocks, 250 kB, escaped text."""
    View(**view).validate_json()
    View(**view).to_dict()
    assert 0 < len(view["blocks"]) <= 100
    for block in view["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None
        assert type(parsed) is not Block
        parsed.validate_json()
    assert len(json.dumps(view, ensure_ascii=False).encode()) < 250_000
    for kind, text in texts(view["blocks"]):
        if kind == "plain_text":
            assert not set(text) & set("<>&"), text
        else:
            assert_no_user_markup(text, LINK.findall(text))


def buttons(view: dict[str, Any]) -> list[tuple[str, str]]:
    """(action_id, the alert it acts on) of each control: a button's value, a menu option's "...|<alert>"."""
    return [
        (element["action_id"], element.get("value") or element["options"][0]["value"].partition("|")[2])
        for block in view["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def shown(view: dict[str, Any]) -> str:
    return "\n".join(text for _, text in texts(view["blocks"]))


@pytest.mark.parametrize("count", [0, 1, 500])
def test_the_home_tab_is_valid_block_kit_for_0_1_and_500_alerts(count: int) -> None:
    view = home_view(data([alert(i, task_name=f"{HOSTILE} {i}") for i in range(count)]), NOW)
    assert view["type"] == "home"
    assert_valid_view(view)


def test_no_alerts_says_so() -> None:
    view = home_view(data([]), NOW)
    assert "Firing alerts (0)" in shown(view)
    assert "✅ No firing alerts." in shown(view)
    assert buttons(view) == []


def test_one_alert_links_its_message_and_has_its_messages_buttons() -> None:
    one = alert(0)
    view = home_view(data([one]), NOW)
    assert "<https://acme.slack.com/archives/C0DESKOPS01/p1764403200000100|message>" in shown(view)
    assert buttons(view) == [(ACK_ACTION_ID, one.fingerprint), (SILENCE_MENU_ACTION_ID, one.fingerprint)]
    assert "🔴 *critical* (1)" in shown(view)


def test_an_acknowledged_alert_has_no_acknowledge_button_as_on_its_message() -> None:
    view = home_view(data([alert(0, acknowledged_by="alice")]), NOW)
    assert [action for action, _ in buttons(view)] == [SILENCE_MENU_ACTION_ID]
    assert "👀 alice" in shown(view)


def test_alerts_are_grouped_by_severity_most_severe_first() -> None:
    view = home_view(data([alert(i) for i in range(8)]), NOW)
    text = shown(view)
    heads = [text.index(head) for head in ("*critical* (2)", "*warning* (2)", "*info* (2)", "*other* (2)")]
    assert heads == sorted(heads)


def test_with_500_alerts_the_top_ones_are_shown_and_the_rest_counted() -> None:
    alerts = [alert(i) for i in range(500)]
    view = home_view(data(alerts), NOW)
    assert len(buttons(view)) == 2 * ALERTS_SHOWN
    text = shown(view)
    assert "Firing alerts (500)" in text
    # All 30 go to the critical group (125 alerts): the rest of it, and every other group, is counted.
    assert f"… and {125 - ALERTS_SHOWN} more critical" in text
    assert "… and 125 more warning" in text
    assert "… and 125 more other" in text
    # The longest-open critical alerts come first.
    critical = sorted((a for a in alerts if a.rule_name == "prod"), key=lambda a: a.opened_at)
    assert buttons(view)[0] == (ACK_ACTION_ID, critical[0].fingerprint)


def test_health_shows_the_status_fields_and_each_project() -> None:
    view = home_view(data([], status=status(api_error="HTTP 500 <boom>", slack_error="not_in_channel")), NOW)
    text = shown(view)
    assert "*Workspace API*\n⚠️ HTTP 500 &lt;boom&gt;" in text
    assert "*Slack*\n⚠️ not_in_channel" in text
    assert "✅ *p-1*: last successful poll" in text
    assert "⚠️ *p-2*: no successful poll yet · ⚠️ HTTP 503" in text


def test_active_silences_are_listed_and_ended_ones_are_not() -> None:
    silences = [silence(i) for i in range(SILENCES_SHOWN + 3)]
    silences.append(silence(99, until=NOW - timedelta(minutes=1)))
    view = home_view(data([], silences), NOW)
    assert_valid_view(view)
    text = shown(view)
    assert f"Active silences ({SILENCES_SHOWN + 3})" in text
    assert "s-00000063" not in text
    assert "… and 3 more" in text


def test_a_notice_is_shown_on_top() -> None:
    view = home_view(data([], notice="👀 Alert `x` acknowledged."), NOW)
    assert view["blocks"][0]["text"]["text"] == "👀 Alert `x` acknowledged."


def test_without_the_workspace_url_the_message_is_named_not_linked() -> None:
    view = home_view(data([alert(0)], workspace_url=None), NOW)
    assert "message 1764403200.000100 in <#C0DESKOPS01>" in shown(view)


def test_with_retries_on_an_alert_of_a_redoable_task_has_retry_with_its_confirm() -> None:
    reboot, rebuild, unknown = alert(0), alert(1), alert(2)
    types = {reboot.task_id: "REBOOT", rebuild.task_id: "REBUILD"}
    view = home_view(data([reboot, rebuild, unknown], retry=True, task_types=types), NOW)
    assert_valid_view(view)
    retries = [value for action, value in buttons(view) if action == RETRY_ACTION_ID]
    assert retries == [reboot.fingerprint]
    [element] = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == RETRY_ACTION_ID]  # fmt: skip
    assert element["confirm"]["confirm"]["text"] == "Retry"


def test_with_retries_off_no_alert_has_retry() -> None:
    view = home_view(data([alert(0)], task_types={"t-0": "REBOOT"}), NOW)
    assert RETRY_ACTION_ID not in [action for action, _ in buttons(view)]


def test_500_alerts_with_retry_buttons_stay_within_block_kit_limits() -> None:
    alerts = [alert(i) for i in range(500)]
    view = home_view(data(alerts, retry=True, task_types={a.task_id: "REBOOT" for a in alerts}), NOW)
    assert_valid_view(view)
    assert len(buttons(view)) == 3 * ALERTS_SHOWN
