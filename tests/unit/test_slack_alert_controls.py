"""The alert message's Silence menu, Runbook link, script output sections with "Full output", and broadcast
recoveries: every message valid Block Kit (slack_sdk's models) within our limits, user data escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, SectionBlock, StaticSelectElement

from monitor.chatops.modals import output_modal
from monitor.decide import AlertState, AlertStatus, Decision, DecisionKind
from monitor.notify.payload import build_payload
from monitor.rules.load import load_rules_text
from monitor.slack.actions import (
    ACK_ACTION_ID,
    RUNBOOK_ACTION_ID,
    SCRIPT_OUTPUT_ACTION_ID,
    SILENCE_MENU_ACTION_ID,
)
from monitor.slack.alert import render_alert, render_thread_reply, render_update
from monitor.slack.blocks import MAX_MESSAGE_WEIGHT, blocks_weight
from monitor.slack.controls import parse_silence_choice, silence_menu
from monitor.slack.mrkdwn import slack_len
from monitor.workspace.actions import ScriptRecord
from monitor.workspace.models import ScheduledTask
from tests.support.slack import MENTION, all_text, assert_valid, buttons, controls, payload

HOSTILE = "<!channel> *bold* ```fence``` <https://evil.example|click> &amp; \x00\x1b[31m\u202eevil\u2028"


def script_payload(*outputs: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return payload(task={"type": "EXECUTE_SCRIPT", "name": "patch-tuesday"}, script_outputs=list(outputs),
                   **changes)  # fmt: skip


def output(
    desktop: str = "desk-01", tail: str | None = "step 2/2 failed\nexit 1", **more: Any
) -> dict[str, Any]:
    return {"record_id": f"rec-{desktop}", "desktop_name": desktop, "result_code": "1",
            "reason": "Access is denied.", "output_tail": tail, **more}  # fmt: skip


def actions_of(message: Any) -> dict[str, Any]:
    (block,) = [b for b in message.blocks if b["type"] == "actions"]
    return {element["action_id"]: element for element in block["elements"]}


# -- the Silence menu ----------------------------------------------------------------------------------------


def test_the_silence_menu_offers_durations_and_custom_with_a_confirm() -> None:
    message = render_alert(payload())
    assert_valid(message, allowed={MENTION})
    menu = actions_of(message)[SILENCE_MENU_ACTION_ID]
    StaticSelectElement(**{k: v for k, v in menu.items() if k != "type"}).validate_json()
    labels = [option["text"]["text"] for option in menu["options"]]
    assert labels == ["Silence 1 hour", "Silence 4 hours", "Silence 1 day", "Silence 1 week",
                      "Custom… (with a reason)"]  # fmt: skip
    assert [option["value"] for option in menu["options"]] == [
        f"{key}|0123456789abcdef" for key in ("1h", "4h", "1d", "1w", "custom")
    ]
    assert menu["confirm"]["confirm"]["text"] == "Silence"
    assert {menu["confirm"][part]["type"] for part in ("title", "text", "confirm", "deny")} == {"plain_text"}


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("1h|0123456789abcdef", ("0123456789abcdef", timedelta(hours=1))),
        ("4h|0123456789abcdef", ("0123456789abcdef", timedelta(hours=4))),
        ("1d|0123456789abcdef", ("0123456789abcdef", timedelta(days=1))),
        ("1w|0123456789abcdef", ("0123456789abcdef", timedelta(weeks=1))),
        ("custom|0123456789abcdef", ("0123456789abcdef", None)),
        ("1000d|0123456789abcdef", None),
        ("1h|", None),
        ("1h|<!channel>", None),
        ("", None),
    ],
)
def test_a_menu_choice_is_parsed_or_refused(value: str, parsed: object) -> None:
    assert parse_silence_choice(value) == parsed


def test_no_menu_for_an_id_that_is_not_one() -> None:
    assert silence_menu("<!channel>|x") is None


# -- the runbook -------------------------------------------------------------------------------------------


def test_the_runbook_is_a_link_button_on_firing_alerts() -> None:
    url = "https://wiki.example.com/rb/REBOOT?task=t-1"
    message = render_alert(payload(runbook_url=url))
    assert_valid(message, allowed={MENTION})
    assert controls(message) == [ACK_ACTION_ID, SILENCE_MENU_ACTION_ID, RUNBOOK_ACTION_ID]
    link = actions_of(message)[RUNBOOK_ACTION_ID]
    ButtonElement(**{k: v for k, v in link.items() if k != "type"}).validate_json()
    assert link["url"] == url
    assert link["text"]["text"] == "📖 Runbook"
    resolved = render_update(payload(runbook_url=url, alert_status="resolved", kind="RESOLVED"))
    assert controls(resolved) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://wiki.example.com/x",
        "javascript:alert(1)",
        "https://x.example.com/a b",
        "https://x/" + "a" * 3000,
        7,
    ],
)
def test_a_runbook_url_that_is_not_a_safe_https_link_shows_no_button(url: object) -> None:
    message = render_alert(payload(runbook_url=url))
    assert_valid(message, allowed={MENTION})
    assert RUNBOOK_ACTION_ID not in controls(message)


def alert_state(rule: str, task_id: str, name: str | None, now: datetime) -> AlertState:
    return AlertState(fingerprint="0123456789abcdef", rule_name=rule, project="p-1", task_id=task_id,
                      task_name=name, status=AlertStatus.FIRING, episode=1, last_status="FAIL",
                      record_id=None, next_execution_time=None, occurrences=1, consecutive_failures=1,
                      opened_at=now, updated_at=now, notified_at=now, notified_occurrence=1)  # fmt: skip


def rule_payload(rules: str, task: ScheduledTask, kind: DecisionKind = DecisionKind.NEW) -> dict[str, Any]:
    (rule,) = load_rules_text(rules, "r.yaml").rules
    now = datetime(2026, 12, 6, tzinfo=UTC)
    state = alert_state(rule.name, task.id, task.task_name, now)
    return build_payload(Decision(kind, "why", state), state, rule, task=task, now=now)


def test_the_runbook_url_is_rendered_with_escaped_task_fields() -> None:
    rules = 'rules:\n  - name: prod\n    runbook_url: "https://wiki.example.com/rb/{task_type}?name={task_name}&a={alert_id}"\n'
    task = ScheduledTask(id="t-1", task_name="a&b=<!channel> /x#y", task_type="REBOOT")
    built = rule_payload(rules, task)
    assert built["runbook_url"] == (
        "https://wiki.example.com/rb/REBOOT?name=a%26b%3D%3C%21channel%3E%20%2Fx%23y&a=0123456789abcdef"
    )
    message = render_alert(built)
    assert_valid(message)
    assert actions_of(message)[RUNBOOK_ACTION_ID]["url"] == built["runbook_url"]


def test_a_name_too_long_for_a_link_leaves_out_the_runbook_not_the_alert() -> None:
    rules = 'rules:\n  - name: prod\n    runbook_url: "https://wiki.example.com/rb/{task_name}"\n'
    built = rule_payload(rules, ScheduledTask(id="t-1", task_name="%" * 1000))
    assert "runbook_url" not in built
    assert_valid(render_alert(built))


# -- broadcast recoveries ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("notify", "kind", "broadcast"),
    [
        ("broadcast", DecisionKind.RESOLVED, True),
        ("true", DecisionKind.RESOLVED, False),
        ("broadcast", DecisionKind.RECURRED, False),
        ("broadcast", DecisionKind.REPEAT, False),
    ],
)
def test_only_a_broadcast_rules_recovery_goes_to_the_channel_too(
    notify: str, kind: DecisionKind, broadcast: bool
) -> None:
    rules = f"rules:\n  - name: prod\n    notify_resolved: {notify}\n"
    built = rule_payload(rules, ScheduledTask(id="t-1", task_name="prod-reboot"), kind)
    reply = render_thread_reply(built)
    kwargs = reply.post_kwargs("C1", thread_ts="1.2")
    assert kwargs.get("reply_broadcast", False) is broadcast
    assert "reply_broadcast" not in reply.post_kwargs("C1")  # not a reply: nothing to broadcast


# -- script output -------------------------------------------------------------------------------------------


def test_a_script_alert_shows_each_failed_desktops_reason_and_output_tail_with_a_full_output_button() -> None:
    message = render_alert(script_payload(output("desk-01"), output("desk-02", tail=None)))
    assert_valid(message, allowed={MENTION})
    sections = [
        b for b in message.blocks if b.get("accessory", {}).get("action_id") == SCRIPT_OUTPUT_ACTION_ID
    ]
    assert [s["text"]["text"] for s in sections] == [
        "📜 *desk-01* (exit 1): Access is denied.\n```step 2/2 failed\nexit 1```",
        "📜 *desk-02* (exit 1): Access is denied.",
    ]
    assert [button for button in buttons(message) if button[0] == SCRIPT_OUTPUT_ACTION_ID] == [
        (SCRIPT_OUTPUT_ACTION_ID, "rec-desk-01"),
        (SCRIPT_OUTPUT_ACTION_ID, "rec-desk-02"),
    ]
    for block in sections:
        SectionBlock(**{k: v for k, v in block.items() if k != "type"}).validate_json()


def test_hostile_output_is_escaped_and_cannot_leave_its_code_block() -> None:
    message = render_alert(
        script_payload(
            output("<@U0BOSS>", tail=HOSTILE, reason=HOSTILE, result_code="<!here>", record_id="rec-1")
        )
    )
    assert_valid(message, allowed={MENTION})
    text = all_text(message)
    assert "<!channel>" not in text
    assert "<https://evil.example|click>" not in text
    assert "&lt;!channel&gt;" in text
    (section,) = [
        b for b in message.blocks if b.get("accessory", {}).get("action_id") == SCRIPT_OUTPUT_ACTION_ID
    ]
    body = section["text"]["text"]
    assert body.count("```") == 2, "the output's own fences are look-alikes: the block cannot be closed early"
    assert not any(char in body for char in "\x00\x1b\u202e\u2028")


def test_huge_output_on_three_desktops_stays_within_every_limit() -> None:
    huge = ("<&>" * 200 + "\n") * 500 + "THE END"
    message = render_alert(script_payload(*(output(f"desk-{i}", tail=huge) for i in range(5))))
    assert_valid(message, allowed={MENTION})
    assert blocks_weight(message.blocks) <= MAX_MESSAGE_WEIGHT
    assert len([b for b in message.blocks if b.get("accessory")]) == 3, "three desktops at most"
    assert "THE END" in all_text(message), "the tail is kept: a script fails at its end"


def test_a_record_id_that_is_not_an_id_gets_no_button() -> None:
    message = render_alert(script_payload(output(record_id="<!channel>")))
    assert_valid(message, allowed={MENTION})
    assert SCRIPT_OUTPUT_ACTION_ID not in controls(message)
    assert "Access is denied." in all_text(message)


def test_a_resolved_alert_drops_its_script_output() -> None:
    message = render_update(script_payload(output(), alert_status="resolved", kind="RESOLVED"))
    assert SCRIPT_OUTPUT_ACTION_ID not in controls(message)


def test_a_failed_again_reply_shows_the_new_output() -> None:
    reply = render_thread_reply(script_payload(output(tail="run 2\nexit 3"), kind="RECURRED", occurrences=2))
    assert_valid(reply)
    assert "```run 2\nexit 3```" in all_text(reply)


def test_the_payload_keeps_the_tail_of_each_script_record() -> None:
    record = ScriptRecord(id="rec-1", resource_name="desk-01", result_code="1", reason="boom",
                          output="\n".join(f"line {i}" for i in range(100)))  # fmt: skip
    rules = "rules:\n  - name: prod\n"
    (rule,) = load_rules_text(rules, "r.yaml").rules
    now = datetime(2026, 12, 6, tzinfo=UTC)
    state = alert_state("prod", "t-1", "x", now)
    built = build_payload(Decision(DecisionKind.NEW, "why", state), state, rule, task=None, now=now,
                          script_records=[record])  # fmt: skip
    [kept] = built["script_outputs"]
    assert kept["record_id"] == "rec-1"
    assert kept["output_tail"].endswith("line 99")
    assert "line 50" not in kept["output_tail"]


def test_an_actions_block_parses_as_slack_sdk_sees_it() -> None:
    message = render_alert(payload(runbook_url="https://wiki.example.com/x"))
    (block,) = [b for b in message.blocks if b["type"] == "actions"]
    parsed = ActionsBlock(**{k: v for k, v in block.items() if k != "type"})
    parsed.validate_json()
    assert [type(element).__name__ for element in parsed.elements] == [
        "ButtonElement",
        "StaticSelectElement",
        "ButtonElement",
    ]


def test_output_of_emoji_is_shortened_until_the_message_is_light_enough_for_slack() -> None:
    """Found by fuzzing: 900 emoji weigh 27,000 in Slack's count (each may be stored as a long shortcode);
    the tails are cut shorter until the whole message is within MAX_MESSAGE_WEIGHT."""
    message = render_alert(script_payload(*(output(f"desk-{i}", tail="😀" * 900) for i in range(3))))
    assert_valid(message, allowed={MENTION})
    assert len([b for b in message.blocks if b.get("accessory")]) == 3, "every desktop still named"


def test_the_full_output_window_cuts_emoji_output_by_slacks_count() -> None:
    """Found by fuzzing: code blocks were cut at 2,900 characters, not UTF-16 units; an emoji counts two, so
    Slack's 3,000 cut a block and left its fence open."""
    view = output_modal(ScriptRecord(id="rec-1", status="FAIL", output="<" * 900 + "😀" * 20_000))
    sections = [block["text"]["text"] for block in view["blocks"] if block["type"] == "section"]
    bodies = [text for text in sections if text.startswith("```")]
    assert len(bodies) > 1
    assert all(body.endswith("```") for body in bodies)
    assert all(slack_len(body) <= 3000 for body in bodies)
