"""Property tests of Slack rendering: whatever the API or the rule file holds (random unicode, huge strings,
Slack markup, entities, wrong types), every message is valid Block Kit within every limit, and no markup
from user data reaches any text field: only our dates and the rule's validated mention tokens, the mention
on NEW messages only."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.slack.alert import render_alert, render_thread_reply, render_update
from monitor.slack.digest import render_digest
from monitor.slack.mrkdwn import safe_cut, slack_len, user_text
from tests.support.slack import allowed_tokens, assert_no_user_markup, assert_valid

HOSTILE = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123>",
    "<#C123>",
    "<http://evil|click>",
    "<!subteam^S1|@x>",
    "<!date^1^{time}|x>",
    "&amp;",
    "&lt;!channel&gt;",
    "*bold* _it_ ~s~ `code`",
    "\n*Status*\nSUCCESS",
    "\u202eevil",
    "\ud800",
]

pieces = st.one_of(
    st.text(max_size=40), st.sampled_from(HOSTILE), st.text(alphabet="<>&!@|^#:; \n", max_size=20)
)
texts = st.lists(pieces, max_size=5).map("".join)
# Huge values without generating huge examples: a short piece repeated.
huge = st.builds(lambda piece, times: piece * times, pieces, st.integers(0, 3000))
user_value: st.SearchStrategy[Any] = st.one_of(
    st.none(), texts, huge, st.integers(-5, 10**12), st.booleans(), st.floats(allow_nan=True)
)
statuses = st.one_of(st.sampled_from(["FAIL", "SKIP", "SUCCESS"]), user_value)
mentions = st.one_of(
    st.none(),
    st.sampled_from(["<!subteam^S0123|@oncall>", "<@U0123> <!here>", "@ops", "<!subteam^S1>"]),
    texts,
)
times = st.one_of(
    user_value,
    st.datetimes().map(lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S")),
)
zones = st.one_of(user_value, st.sampled_from(["Asia/Shanghai", "UTC", "UTC+08:00", "GMT-5", "Europe/Paris"]))

task = st.fixed_dictionaries(
    {
        "id": user_value,
        "name": user_value,
        "type": user_value,
        "scheduled_type": user_value,
        "life_cycle_type": user_value,
        "last_status": statuses,
        "next_execution_time": times,
        "time_zone": zones,
        "enable": st.one_of(st.none(), st.booleans()),
        "description": user_value,
    }
)
counts = st.one_of(st.none(), st.integers(-1, 10**9), user_value)
latest = st.fixed_dictionaries(
    {
        "id": user_value,
        "start_time": times,
        "time_zone": zones,
        "status": statuses,
        "success_num": counts,
        "failed_num": counts,
        "skip_num": counts,
    }
)
desktop = st.fixed_dictionaries(
    {
        "desktop_name": user_value,
        "exec_status": user_value,
        "result_code": user_value,
        "fail_reason": user_value,
    }
)
payloads = st.fixed_dictionaries(
    {
        "version": st.just(1),
        "kind": st.sampled_from(["NEW", "REPEAT", "RECURRED", "CHANGED", "RESOLVED", "CLOSED"]),
        "reason": user_value,
        "fingerprint": st.text(alphabet="0123456789abcdef", min_size=16, max_size=16),
        "episode": st.integers(1, 50),
        "rule": user_value,
        "severity": st.one_of(st.sampled_from(["critical", "warning", "info"]), user_value),
        "mention": mentions,
        "project": user_value,
        "task": task,
        "alert_status": st.sampled_from(["firing", "resolved", "closed"]),
        "occurrences": st.one_of(st.integers(1, 10**6), user_value),
        "opened_at": st.one_of(st.datetimes().map(lambda moment: moment.isoformat()), user_value),
        "decided_at": st.one_of(st.datetimes().map(lambda moment: moment.isoformat()), user_value),
        "acknowledged_by": user_value,
    },
    optional={
        "latest_execution": latest,
        "failed_desktops": st.lists(desktop, max_size=6),
        "history": st.lists(statuses, max_size=25),
        "region": user_value,
    },
)

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(payloads)
def test_every_single_alert_message_is_valid_and_escaped(payload: dict[str, Any]) -> None:
    allowed = allowed_tokens(payload["mention"])
    alert = render_alert(payload)
    assert_valid(alert, allowed=allowed if payload["kind"] == "NEW" else ())
    for message in (render_update(payload), render_thread_reply(payload)):
        assert_valid(message)  # nothing may ping here
    assert alert.alerts == [(payload["fingerprint"], payload["episode"])]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(payloads, max_size=25))
def test_every_digest_is_valid_and_names_each_alert_once(items: list[dict[str, Any]]) -> None:
    messages = render_digest(items)
    assert bool(messages) == bool(items)
    new_mentions = set().union(*(allowed_tokens(p["mention"]) for p in items if p["kind"] == "NEW"))
    for number, message in enumerate(messages, start=1):
        assert_valid(message, allowed=new_mentions if number == 1 else ())
    named = Counter(alert for message in messages for alert in message.alerts)
    assert named == Counter((p["fingerprint"], p["episode"]) for p in items)


@given(st.one_of(user_value, texts, huge), st.integers(2, 600), st.booleans())
def test_user_text_is_escaped_and_within_its_limit(value: Any, limit: int, one_line: bool) -> None:
    text = user_text(value, limit, one_line=one_line)
    assert slack_len(text) <= limit
    assert_no_user_markup(text)
    if one_line:
        assert "\n" not in text


@given(
    st.lists(
        st.one_of(
            texts.map(lambda t: user_text(t, 300)),
            st.just("<!date^1700000000^{date_short_pretty} {time}|2023-11-14 22:13 UTC>"),
            st.just("\n"),
        ),
        max_size=30,
    ),
    st.integers(2, 400),
)
def test_safe_cut_keeps_markup_whole(parts: list[str], limit: int) -> None:
    cut = safe_cut("".join(parts), limit)
    assert slack_len(cut) <= limit
    assert_no_user_markup(cut)
