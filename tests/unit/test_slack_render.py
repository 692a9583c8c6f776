"""Slack rendering: each kind of message as a table of cases, escaping, times, digests and their splitting.

`assert_valid` (tests/support/slack.py) checks each message against slack_sdk's Block Kit models and every
limit we promise, and that no markup from user data reaches any text field.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.decide import Observation, decide
from monitor.notify.payload import build_payload
from monitor.notify.text import render_text
from monitor.rules.load import compile_match
from monitor.rules.model import Location, Rule
from monitor.slack.actions import ACK_ACTION_ID, SILENCE_MENU_ACTION_ID
from monitor.slack.alert import render_alert, render_thread_reply, render_update
from monitor.slack.digest import render_digest
from monitor.slack.message import EVENT_TYPE, alerts_in_metadata
from monitor.slack.mrkdwn import (
    api_time_epoch,
    escape_mrkdwn,
    history_strip,
    iso_epoch,
    mention_text,
    safe_cut,
    slack_date,
    slack_len,
    user_text,
)
from monitor.workspace.models import ExecutionRecord, RecordDetail, ScheduledTask
from tests.support.slack import (
    MENTION,
    all_text,
    assert_valid,
    buttons,
    controls,
    many,
    minimal,
    payload,
)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<http://evil|click>", "&lt;http://evil|click&gt;"),
        ("&amp;", "&amp;amp;"),
        ("a & b > c < d", "a &amp; b &gt; c &lt; d"),
        ("plain @here", "plain @here"),
    ],
)
def test_escape_mrkdwn(raw: str, escaped: str) -> None:
    assert escape_mrkdwn(raw) == escaped


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("abcdefghij", 5, "abcd…"),
        ("ab&cd", 6, "ab…"),  # "ab&amp;" would be 7: the entity is never cut, it is left out
        ("&&&&", 11, "&amp;&amp;…"),
        ("line\nbreak\tand\x00nul", 40, "line break and nul"),
        (None, 10, ""),
        (12345, 10, "12345"),
        ("\ud800x", 10, "\ufffdx"),
        ("🙂🙂🙂", 4, "🙂…"),  # each is two UTF-16 units
    ],
)
def test_user_text_escapes_cleans_and_clips_safely(value: object, limit: int, expected: str) -> None:
    assert user_text(value, limit) == expected
    assert slack_len(user_text(value, limit)) <= limit


def test_user_text_keeps_line_breaks_when_asked() -> None:
    assert user_text("a\r\nb\n\n\n\nc", 20, one_line=False) == "a\nb\n\nc"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("x &amp; y", 6, "x…"),
        ("x &amp; y", 8, "x &amp;…"),
        ("see <!date^1^{time}|t> now", 12, "see…"),
        ("first line\nsecond line", 20, "first line…"),
    ],
)
def test_safe_cut_never_breaks_markup(text: str, limit: int, expected: str) -> None:
    assert safe_cut(text, limit) == expected


@pytest.mark.parametrize(
    ("mention", "expected"),
    [
        ("<!subteam^S0123|@oncall>", "<!subteam^S0123|@oncall>"),
        ("<!subteam^S0123>", "<!subteam^S0123>"),
        ("<@U0123> <!here>", "<@U0123> <!here>"),
        ("@ops-team", "@ops-team"),
        ("<!subteam^S1|a&b>", "<!subteam^S1|a&amp;b>"),
        ("<http://evil|x>", "&lt;http://evil|x&gt;"),
        ("<!channel|x>", "&lt;!channel|x&gt;"),
        ("<@U1>\n<!everyone>", "<@U1> <!everyone>"),
        (None, ""),
        (42, ""),
    ],
)
def test_mention_text_passes_only_valid_tokens(mention: object, expected: str) -> None:
    assert mention_text(mention) == expected


def test_history_strip_reads_oldest_to_newest() -> None:
    assert history_strip(["FAIL", "SKIP", "SUCCESS", "WEIRD"]) == "❔✅⏭️❌"
    assert history_strip([]) == ""


# Times.
@pytest.mark.parametrize(
    ("text", "zone", "epoch"),
    [
        ("2024-11-30 02:00:00", "Asia/Shanghai", 1732903200),
        ("2024-11-30 02:00:00", "UTC+08:00", 1732903200),
        ("2024-11-30 02:00:00", "GMT+8", 1732903200),
        ("2024-11-29 18:00:00", "UTC", 1732903200),
        ("2024-11-30 02:00:00", "Mars/Olympus", None),
        ("2024-11-30 02:00:00", "../../etc/passwd", None),
        ("30/11/2024", "UTC", None),
        (None, "UTC", None),
        ("2024-11-30 02:00:00", None, None),
        ("2024-11-29T18:00:00Z", "Asia/Shanghai", 1732903200),
        ("2024-11-29T18:00:00.000Z", None, 1732903200),
        ("2024-11-30T02:00:00+08:00", "Mars/Olympus", 1732903200),
    ],
)
def test_api_time_epoch(text: object, zone: object, epoch: int | None) -> None:
    assert api_time_epoch(text, zone) == epoch


def test_iso_epoch_and_slack_date() -> None:
    assert iso_epoch("2024-11-29T18:00:00+00:00") == 1732903200
    assert iso_epoch("2024-11-29T18:00:00") == 1732903200  # naive is UTC
    assert iso_epoch("yesterday") is None
    assert slack_date(1732903200) == "<!date^1732903200^{date_short_pretty} {time}|2024-11-29 18:00 UTC>"
    assert slack_date(-5) == "-5"


@pytest.mark.parametrize(
    ("next_run", "started"),
    [
        pytest.param("2024-11-30 02:00:00", "2024-11-29 02:00:00", id="the API reference's local form"),
        pytest.param("2024-11-29T18:00:00Z", "2024-11-28T18:00:00.000Z", id="RFC 3339 in UTC"),
        pytest.param("2024-11-30T02:00:00+08:00", "2024-11-29T02:00:00+08:00", id="RFC 3339 with offset"),
    ],
)
def test_every_time_form_renders_the_same(next_run: str, started: str) -> None:
    """Whatever form the API sends, people read the task's local time with its zone named, and their own."""
    latest = {**payload()["latest_execution"], "start_time": started}
    changed = payload(task={"next_execution_time": next_run}, latest_execution=latest)
    body = all_text(render_alert(changed))
    date = "<!date^1732903200^{date_short_pretty} {time}|2024-11-29 18:00 UTC>"
    assert f"*Next run*\n2024-11-30 02:00:00 Asia/Shanghai ({date})" in body
    assert "*Last run*\n2024-11-29 02:00:00 Asia/Shanghai (<!date^1732816800^" in body
    text = render_text(changed)
    assert "next run 2024-11-30 02:00:00 Asia/Shanghai" in text
    assert "latest run 2024-11-29 02:00:00 Asia/Shanghai" in text


def test_times_show_the_api_text_and_the_readers_local_time() -> None:
    body = all_text(render_alert(payload()))
    date = "<!date^1732903200^{date_short_pretty} {time}|2024-11-29 18:00 UTC>"
    next_run = f"2024-11-30 02:00:00 Asia/Shanghai ({date})"
    assert f"*Next run*\n{next_run}" in body
    assert "*Last run*\n2024-11-29 02:00:00 Asia/Shanghai (<!date^1732816800^" in body
    unknown_zone = all_text(render_alert(payload(task={"time_zone": "Mars/Olympus"}, latest_execution={})))
    assert "*Next run*\n2024-11-30 02:00:00 Mars/Olympus\n" in unknown_zone + "\n"


# The alert message (NEW).
def test_new_alert_message() -> None:
    message = render_alert(payload(occurrences=1))
    assert_valid(message, allowed={MENTION})
    assert [block["type"] for block in message.blocks] == [
        "header",
        "section",
        "section",
        "context",
        "context",
        "actions",
    ]
    assert message.blocks[0]["text"]["text"] == "🔴 CRITICAL: scheduled task failed"
    title = message.blocks[1]["text"]["text"]
    assert title == f"{MENTION}\n*prod-reboot*\nReboot prod desktops nightly"
    fields = [field["text"] for field in message.blocks[1]["fields"]]
    assert fields[:4] == ["*Type*\nREBOOT", "*Status*\n❌ FAIL", "*Schedule*\nFIXED_TIME", "*Project*\np-1"]
    assert "*Rule*\nprod-reboots" in fields
    assert message.blocks[2]["text"]["text"] == (
        "*Latest run*: ❌ 12 failed · ✅ 88 succeeded · ⏭️ 0 skipped\n"
        "• *desk-01* FAIL (E001): timeout\n• *desk-02* FAIL\n…and 10 more"
    )
    assert message.blocks[3]["elements"][0]["text"] == "Last 5 runs, oldest → newest: ✅⏭️✅❌❌"
    assert buttons(message) == [(ACK_ACTION_ID, "0123456789abcdef")]
    assert controls(message) == [ACK_ACTION_ID, SILENCE_MENU_ACTION_ID]
    assert message.text == (
        f"{MENTION} 🔴 [critical] Scheduled task failed: prod-reboot (REBOOT, FAIL) in project p-1, "
        "rule prod-reboots"
    )
    assert message.metadata == {
        "event_type": EVENT_TYPE,
        "event_payload": {
            "fingerprint": "0123456789abcdef",
            "episode": 1,
            "kind": "NEW",
            "rule": "prod-reboots",
            "task_id": "t-1",
            "alert_status": "firing",
            "occurrences": 1,
        },
    }


def test_new_alert_without_records_or_mention() -> None:
    message = render_alert(minimal(mention=None, severity="info"))
    assert_valid(message)
    assert [block["type"] for block in message.blocks] == ["header", "section", "context", "actions"]
    assert message.blocks[0]["text"]["text"] == "🔵 INFO: scheduled task failed"
    assert "*Detected*\n<!date^1732845600^" in all_text(message)  # decided_at: when it was seen failing
    resolved = render_update(minimal(kind="RESOLVED", alert_status="resolved"))
    assert "*Detected*\n<!date^1732842000^" in all_text(resolved)  # opened_at: decided_at is the recovery
    assert "<!subteam" not in message.text + all_text(message)


def test_hostile_task_data_shows_literally_and_pings_nobody() -> None:
    hostile = "<!channel> <@U123> <http://evil|click> &amp; <!here>"
    message = render_alert(
        payload(
            mention=None,
            rule="r",
            project=hostile,
            reason=hostile,
            task={"name": hostile, "description": hostile, "type": hostile, "time_zone": hostile},
            failed_desktops=[{"desktop_name": hostile, "exec_status": hostile, "fail_reason": hostile}],
        )
    )
    assert_valid(message)
    escaped = escape_mrkdwn(hostile)
    body = all_text(message)
    assert f"*{escaped}*" in body
    assert escaped in message.text
    assert hostile not in body
    assert hostile not in message.text


def test_a_mention_that_is_not_valid_shows_literally() -> None:
    message = render_alert(payload(mention="<!channel|everyone> <@U1>"))
    assert_valid(message, allowed={"<@U1>"})
    assert message.text.startswith("&lt;!channel|everyone&gt; <@U1> ")


def test_long_values_are_clipped_within_limits() -> None:
    huge = "&<>" * 5000 + "x" * 100_000
    message = render_alert(
        payload(
            reason=huge,
            project=huge,
            rule=huge,
            task={"name": huge, "description": huge, "next_execution_time": huge},
            failed_desktops=[{"desktop_name": huge, "fail_reason": huge, "result_code": huge}] * 5,
            history=["FAIL"] * 1000,
        )
    )
    assert_valid(message, allowed={MENTION})
    assert "…" in message.blocks[1]["text"]["text"]


def test_a_malformed_payload_still_renders() -> None:
    broken: dict[str, Any] = {
        "kind": "NEW",
        "task": "not a mapping",
        "history": "FAIL",
        "failed_desktops": [1],
    }
    for render in (render_alert, render_update, render_thread_reply):
        message = render(broken)
        assert_valid(message)
        assert "unnamed task" in message.text
    assert render_alert({**broken, "episode": True, "occurrences": -3}).metadata is not None


# The edited message.
@pytest.mark.parametrize(
    ("changes", "title", "button_ids", "expect"),
    [
        (
            {"kind": "RECURRED", "occurrences": 3},
            "🔴 CRITICAL: scheduled task failed again · failed 3 times",
            [ACK_ACTION_ID, SILENCE_MENU_ACTION_ID],
            "*Occurrences*\nfailed 3 times",
        ),
        (
            {"kind": "CHANGED", "occurrences": 2, "task": {"last_status": "SKIP"}},
            "🔴 CRITICAL: scheduled task now SKIP · failed 2 times",
            [ACK_ACTION_ID, SILENCE_MENU_ACTION_ID],
            "*Status*\n⏭️ SKIP",
        ),
        (
            {"kind": "CHANGED", "task": {"last_status": "<!here>"}},
            "🔴 CRITICAL: scheduled task failing",
            [ACK_ACTION_ID, SILENCE_MENU_ACTION_ID],
            "*Status*\n❔ &lt;!here&gt;",
        ),
        (
            {"kind": "NEW", "acknowledged_by": "alice <@U9>"},
            "🔴 CRITICAL: scheduled task failing",
            [SILENCE_MENU_ACTION_ID],
            "👀 acknowledged by alice &lt;@U9&gt;",
        ),
        (
            {"kind": "RESOLVED", "alert_status": "resolved", "severity": "warning"},
            "✅ Resolved: scheduled task recovered (was warning)",
            [],
            "Failing from <!date^1732842000^",
        ),
    ],
)
def test_updated_message(changes: dict[str, Any], title: str, button_ids: list[str], expect: str) -> None:
    message = render_update(payload(**changes))
    assert_valid(message)
    assert message.blocks[0]["text"]["text"] == title
    assert controls(message) == button_ids
    assert expect in all_text(message)
    assert "subteam" not in message.text + all_text(message)  # updates never mention


def test_closed_message_is_greyed_without_buttons() -> None:
    message = render_update(payload(kind="CLOSED", alert_status="closed", reason="task deleted"))
    assert_valid(message)
    assert {block["type"] for block in message.blocks} == {"context"}
    assert message.blocks[0]["elements"][0]["text"] == "⚪ *Closed:* ~prod-reboot~"
    assert "Why: task deleted" in all_text(message)
    assert buttons(message) == []
    assert message.text.startswith("⚪ [critical] Closed: prod-reboot")


def test_update_keeps_the_layout_of_the_alert() -> None:
    new = render_alert(payload())
    recurred = render_update(payload(kind="RECURRED", occurrences=2))
    assert [b["type"] for b in new.blocks] == [b["type"] for b in recurred.blocks]


# Thread replies.
@pytest.mark.parametrize(
    ("kind", "status", "starts", "button_ids"),
    [
        (
            "REPEAT",
            "firing",
            "🔁 *Reminder:* *prod-reboot* is still failing (❌ FAIL), open since <!date^",
            True,
        ),
        ("RECURRED", "firing", "❌ *Failed again:* *prod-reboot* (❌ FAIL), 4 times now.", True),
        ("CHANGED", "firing", "🔀 *Status changed:* *prod-reboot* is now ❌ FAIL.", True),
        (
            "RESOLVED",
            "resolved",
            "✅ *Resolved:* *prod-reboot* succeeded; it was failing since <!date^",
            False,
        ),
        ("CLOSED", "closed", "⚪ *Closed:* *prod-reboot* is no longer tracked.", False),
    ],
)
def test_thread_reply(kind: str, status: str, starts: str, button_ids: bool) -> None:
    message = render_thread_reply(payload(kind=kind, alert_status=status, occurrences=4))
    assert_valid(message)
    assert message.blocks[0]["text"]["text"].startswith(starts)
    assert bool(controls(message)) is button_ids
    assert "subteam" not in message.text + all_text(message)
    assert "header" not in {block["type"] for block in message.blocks}
    assert alerts_in_metadata(message.metadata) == [("0123456789abcdef", 1)]


def test_recurred_reply_names_the_failed_desktops_with_the_run_time() -> None:
    body = all_text(render_thread_reply(payload(kind="RECURRED", occurrences=2)))
    assert "*Latest run* 2024-11-29 02:00:00 Asia/Shanghai (<!date^1732816800^" in body
    assert "• *desk-01* FAIL (E001): timeout" in body


# Posting helpers and metadata.
def test_post_and_update_kwargs() -> None:
    message = render_alert(payload())
    posted = message.post_kwargs("C1", thread_ts="1.000100")
    assert posted["channel"] == "C1"
    assert posted["thread_ts"] == "1.000100"
    assert posted["unfurl_links"] is False
    assert "link_names" not in posted
    assert "parse" not in posted
    assert posted["metadata"] == message.metadata
    assert posted["blocks"] is message.blocks
    assert "thread_ts" not in message.post_kwargs("C1")
    assert message.update_kwargs("C1", "1.000100") == {
        "channel": "C1",
        "ts": "1.000100",
        "text": message.text,
        "blocks": message.blocks,
        "metadata": message.metadata,
    }


@pytest.mark.parametrize(
    ("metadata", "alerts"),
    [
        (None, []),
        ({"event_type": "someone_else", "event_payload": {"fingerprint": "f"}}, []),
        ({"event_type": EVENT_TYPE, "event_payload": {"fingerprint": "f", "episode": 2}}, [("f", 2)]),
        (
            {
                "event_type": EVENT_TYPE,
                "event_payload": {"digest": True, "alerts": [{"fingerprint": "a"}, 3]},
            },
            [("a", 0)],
        ),
        ({"event_type": EVENT_TYPE, "event_payload": "junk"}, []),
    ],
)
def test_alerts_in_metadata(metadata: Any, alerts: list[tuple[str, int]]) -> None:
    assert alerts_in_metadata(metadata) == alerts


# Digests.
def test_digest_of_none_and_of_one() -> None:
    assert render_digest([]) == []
    one = payload()
    assert render_digest([one]) == [render_alert(one)]


def test_small_digest_has_a_section_and_a_button_per_alert() -> None:
    alerts = many(4)
    alerts[3]["alert_status"] = "resolved"
    (message,) = render_digest(alerts)
    assert_valid(message, allowed={MENTION})
    assert message.blocks[0]["text"]["text"] == "🚨 4 scheduled tasks failed"
    assert message.blocks[1]["elements"][0]["text"] == (
        "🔴 1 critical · 🟠 1 warning · 🔵 2 info · FAIL 4 · 1 resolved · rule prod-reboots · project p-1"
    )
    assert message.blocks[2]["text"]["text"] == MENTION
    sections = message.blocks[3:-1]
    firsts = [block["text"]["text"].split("\n")[0] for block in sections]
    assert firsts == [
        "🔴 *prod-reboot-0001*",
        "🟠 *prod-reboot-0002*",
        "🔵 *prod-reboot-0000*",
        "🔵 *prod-reboot-0003*",
    ]
    assert [value for _, value in buttons(message)] == [
        f"{i:016x}" for i in (1, 2, 0)
    ]  # not the resolved one
    assert message.blocks[-1]["elements"][0]["text"] == "Alerts 1-4 of 4"
    assert message.text.startswith(
        f"{MENTION} 🚨 4 scheduled tasks failed: prod-reboot-0001, prod-reboot-0002"
    )
    assert message.alerts == [(f"{i:016x}", 1) for i in (1, 2, 0, 3)]


def test_larger_digest_lists_alerts_compactly_under_severity_headings() -> None:
    (message,) = render_digest(many(12, occurrences=2))
    assert_valid(message, allowed={MENTION})
    body = all_text(message)
    assert body.index("*🔴 Critical*") < body.index("*🟠 Warning*") < body.index("*🔵 Info*")
    assert "• *prod-reboot-0001* REBOOT FAIL · 12 desktops failed · failed 2 times" in body
    assert buttons(message) == []
    assert len(message.alerts) == 12


def test_digest_mentions_each_rule_once_and_only_for_new_alerts() -> None:
    alerts = many(3) + many(2, mention="<@U1>") + many(2, kind="RECURRED", mention="<@U2>")
    for index, alert in enumerate(alerts):
        alert["fingerprint"] = f"{index:016x}"
    (message,) = render_digest(alerts)
    assert message.blocks[0]["text"]["text"] == "🚨 7 scheduled task alerts"
    assert message.blocks[2]["text"]["text"] == f"{MENTION} <@U1>"
    assert message.text.startswith(f"{MENTION} <@U1> 🚨")
    assert message.metadata is not None
    assert message.metadata["event_payload"]["kind"] == "MIXED"


def test_a_thousand_alerts_make_a_handful_of_messages() -> None:
    messages = render_digest(many(1000))
    assert 2 <= len(messages) <= 8
    seen = [alert for message in messages for alert in message.alerts]
    assert sorted(seen) == sorted((f"{i:016x}", 1) for i in range(1000))
    for number, message in enumerate(messages, start=1):
        assert_valid(message, allowed={MENTION} if number == 1 else ())
        payload_meta = message.metadata["event_payload"] if message.metadata else {}
        assert (payload_meta["part"], payload_meta["parts"], payload_meta["digest"]) == (
            number,
            len(messages),
            True,
        )
        assert f"(part {number} of {len(messages)})" in message.blocks[0]["text"]["text"]
        assert (MENTION in message.text) is (number == 1)
    assert "(continued)" in messages[1].blocks[0]["text"]["text"]
    # Most severe first, across the split.
    first_lines = all_text(messages[0])
    assert "*🔴 Critical*" in first_lines
    assert "*🔵 Info*" not in first_lines


def test_a_digest_of_huge_hostile_names_still_fits() -> None:
    messages = render_digest(many(300, name="<!channel>&" * 40 + "{i}"))
    assert len(messages) > 1
    for number, message in enumerate(messages, start=1):
        assert_valid(message, allowed={MENTION} if number == 1 else ())
    assert sum(len(message.alerts) for message in messages) == 300


def test_digest_rendering_is_deterministic_whatever_the_input_order() -> None:
    alerts = many(40)
    shuffled = list(reversed(copy.deepcopy(alerts)))
    assert render_digest(alerts) == render_digest(shuffled)


# The real payload, as the engine builds it.
def test_renders_the_payload_build_payload_makes() -> None:
    now = datetime(2024, 11, 29, 2, 0, tzinfo=UTC)
    task = ScheduledTask(
        id="t-1",
        task_name="<!channel> reboot",
        task_type="REBOOT",
        scheduled_type="FIXED_TIME",
        last_status="FAIL",
        next_execution_time="2024-11-30 02:00:00",
        time_zone="Asia/Shanghai",
        enable=True,
    )
    record = ExecutionRecord(id="r-1", start_time="2024-11-29 02:00:00", status="FAIL", failed_num=3)
    rule = Rule(
        "reboots",
        compile_match({}, where="test"),
        Location("test"),
        repeat_interval=timedelta(hours=4),
        mention=MENTION,
    )
    decision = decide(
        None,
        Observation.from_listing(task, "p-1", latest_record=record),
        rule,
        silence=None,
        now=now,
        listing_complete=True,
    )
    assert decision.new_state is not None
    built = build_payload(
        decision,
        decision.new_state,
        rule,
        task=task,
        now=now,
        records=[record],
        failed_desktops=[RecordDetail(desktop_name="<@U1>", fail_reason="disk & <full>")],
    )
    message = render_alert(built)
    assert_valid(message, allowed={MENTION})
    assert "&lt;!channel&gt; reboot" in message.text
    assert "• *&lt;@U1&gt;*: disk &amp; &lt;full&gt;\n…and 2 more" in all_text(message)
