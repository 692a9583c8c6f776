"""Maintenance windows at one instant: `effective_silences` turns the time intervals of rules and silences
into the plain silences that hold at `now`, which `decide` already knows how to apply."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.chatops.replies import silences_reply
from monitor.rules.load import load_rules_text
from monitor.silences import Silence, is_muted
from monitor.windows import WindowCache, check_lines, effective_silences, window_states
from monitor.workspace.models import ScheduledTask

RULES = """
time_intervals:
  - name: patch
    time_intervals:
      - weekdays: [saturday]
        times: [{start_time: "02:00", end_time: "06:00"}]
  - name: office
    time_intervals:
      - weekdays: [monday:friday]
        times: [{start_time: "09:00", end_time: "17:00"}]
rules:
  - name: ops
    mute_time_intervals: [patch]
    continue: true
  - name: lab
    active_time_intervals: [office]
silences:
  - match: {task_name: "pilot-*"}
    time_intervals: [patch]
    until: 2026-03-28T04:00:00Z
    comment: pilot patching
  - match: {task_name: "old-*"}
    until: 2026-04-01T00:00:00Z
    comment: plain
"""
RULESET = load_rules_text(RULES, "r.yaml")
PILOT, PLAIN = RULESET.silences
SATURDAY_3AM = datetime(2026, 3, 28, 3, 0, tzinfo=UTC)
SATURDAY_NOON = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
MONDAY_10AM = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)
TASK = ScheduledTask(id="t-1", task_name="pilot-1", last_status="FAIL")


def by_id(now: datetime) -> dict[str, Silence]:
    return {silence.id: silence for silence in effective_silences(RULESET, RULESET.silences, now)}


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        pytest.param(
            SATURDAY_3AM,
            {
                PILOT.id: datetime(2026, 3, 28, 4, 0, tzinfo=UTC),
                PLAIN.id: datetime(2026, 4, 1, tzinfo=UTC),
                "mute_time_intervals patch": datetime(2026, 3, 28, 6, 0, tzinfo=UTC),
                "active_time_intervals office": datetime(2026, 3, 30, 9, 0, tzinfo=UTC),
            },
            id="patch night: the pilot silence until its own end, ops until the window closes",
        ),
        pytest.param(
            SATURDAY_NOON,
            {
                PLAIN.id: datetime(2026, 4, 1, tzinfo=UTC),
                "active_time_intervals office": datetime(2026, 3, 30, 9, 0, tzinfo=UTC),
            },
            id="saturday noon: only the plain silence and lab outside office hours",
        ),
        pytest.param(
            MONDAY_10AM,
            {PLAIN.id: datetime(2026, 4, 1, tzinfo=UTC)},
            id="monday in office hours: nothing from windows",
        ),
        pytest.param(
            datetime(2026, 4, 4, 3, 0, tzinfo=UTC),
            {
                "mute_time_intervals patch": datetime(2026, 4, 4, 6, 0, tzinfo=UTC),
                PLAIN.id: datetime(2026, 4, 1, tzinfo=UTC),
                "active_time_intervals office": datetime(2026, 4, 6, 9, 0, tzinfo=UTC),
            },
            id="the next patch night: the pilot silence has expired",
        ),
    ],
)
def test_effective_silences(now: datetime, expected: dict[str, datetime]) -> None:
    assert {silence_id: silence.until for silence_id, silence in by_id(now).items()} == expected


def test_a_rule_window_silences_only_that_rule_and_every_task_of_it() -> None:
    ops = by_id(SATURDAY_3AM)["mute_time_intervals patch"]
    assert is_muted([ops], TASK, "ops", SATURDAY_3AM, project="p") is ops
    assert is_muted([ops], TASK, "lab", SATURDAY_3AM, project="p") is None


def test_a_silence_window_keeps_its_match_and_id() -> None:
    pilot = by_id(SATURDAY_3AM)[PILOT.id]
    assert is_muted([pilot], TASK, "ops", SATURDAY_3AM, project="p") is pilot
    other = TASK.model_copy(update={"task_name": "prod-1"})
    assert is_muted([pilot], other, "ops", SATURDAY_3AM, project="p") is None


def test_a_stored_silence_naming_an_interval_that_is_gone_mutes_nothing() -> None:
    gone = replace(PLAIN, id="s-gone", time_intervals=("removed",))
    assert effective_silences(RULESET, [gone], SATURDAY_3AM) == [
        silence for silence in effective_silences(RULESET, [], SATURDAY_3AM)
    ]


def test_the_cache_answers_a_clock_set_back_correctly() -> None:
    cache = WindowCache()
    patch = (RULESET.time_interval("patch"),)
    assert patch[0] is not None
    later = cache.window(patch, SATURDAY_NOON)  # type: ignore[arg-type]
    assert later is not None
    assert later.opens == datetime(2026, 4, 4, 2, 0, tzinfo=UTC)
    earlier = cache.window(patch, SATURDAY_3AM)  # type: ignore[arg-type]
    assert earlier is not None
    assert earlier.is_open(SATURDAY_3AM)


def test_the_cache_keeps_an_answer_while_it_holds() -> None:
    cache = WindowCache()
    patch = (RULESET.time_interval("patch"),)
    first = cache.window(patch, SATURDAY_3AM)  # type: ignore[arg-type]
    assert cache.window(patch, SATURDAY_3AM + timedelta(minutes=30)) is first  # type: ignore[arg-type]
    after = cache.window(patch, SATURDAY_3AM + timedelta(hours=3))  # type: ignore[arg-type]
    assert after is not None
    assert after is not first
    assert not after.is_open(SATURDAY_3AM + timedelta(hours=3))


def test_window_states_say_what_is_open_and_who_uses_it() -> None:
    patch, office = window_states(RULESET, SATURDAY_3AM)
    assert (patch.name, patch.open_now, patch.used_by) == (
        "patch",
        True,
        ("rule ops (mute)", f"silence {PILOT.id}"),
    )
    assert patch.describe(SATURDAY_3AM) == "open now, until Sat 2026-03-28 06:00 UTC"
    assert (office.name, office.open_now, office.used_by) == ("office", False, ("rule lab (active)",))
    assert office.describe(SATURDAY_3AM) == "next Mon 2026-03-30 09:00 - 17:00 UTC"


def test_check_says_each_interval_s_next_window_and_who_uses_it() -> None:
    assert check_lines(RULESET, SATURDAY_NOON) == [
        "time interval patch: next Sat 2026-04-04 02:00 - 06:00 UTC; "
        f"used by rule ops (mute), silence {PILOT.id}",
        "time interval office: next Mon 2026-03-30 09:00 - 17:00 UTC; used by rule lab (active)",
    ]


def test_check_says_when_an_interval_never_opens() -> None:
    never = load_rules_text(
        "time_intervals:\n  - name: old\n    time_intervals:\n      - years: [2020]\nrules:\n  - name: r\n",
        "r.yaml",
    )
    assert check_lines(never, SATURDAY_NOON) == [
        "time interval old: no window in the next ten years; used by no rule or silence"
    ]


def test_the_silences_reply_lists_windows_after_silences() -> None:
    reply = silences_reply([PLAIN], SATURDAY_3AM, window_states(RULESET, SATURDAY_3AM))
    text = str(reply.blocks)
    assert "1 active silence" in text
    assert "2 maintenance windows* (1 open now)" in text
    assert text.index("active silence") < text.index("maintenance windows")
    assert "🛠️ *open* `patch` · open now, until Sat 2026-03-28 06:00 UTC" in text
    assert reply.text == "1 active silences; 1 of 2 maintenance windows open now"


def test_an_active_interval_too_costly_to_walk_holds_alerts_until_the_walk_stopped_not_ten_years() -> None:
    """A leap day that is a Monday, in any of 100 zones (the next is in 2044): the walk's budget runs out
    in the Februaries of the next years, so the window is unknown past there. Before, "no window" held the
    rule's alerts for the ten-year horizon (and the cache kept that answer for ever); now they wait until
    the instant the walk reached, and the window is looked for again from there. `check` says how far it
    looked."""
    from zoneinfo import available_timezones

    zones = sorted(zone for zone in available_timezones() if "/" in zone)[:100]
    items = "".join(
        f"      - {{months: [february], days_of_month: [29], weekdays: [monday], location: {zone}}}\n"
        for zone in zones
    )
    ruleset = load_rules_text(
        "time_intervals:\n  - name: leap\n    time_intervals:\n" + items
        + "rules:\n  - name: r\n    match: {task_name: 'prod-*'}\n    active_time_intervals: [leap]\n",
        "r.yaml",
    )  # fmt: skip
    now = datetime(2026, 3, 1, tzinfo=UTC)
    cache = WindowCache()
    [held] = effective_silences(ruleset, [], now, cache=cache)
    assert now < held.until < now + timedelta(days=3 * 366)
    [line] = check_lines(ruleset, now)
    assert "time interval leap: no window before" in line
    assert "(looked no further)" in line
    [again] = effective_silences(ruleset, [], held.until, cache=cache)
    assert again.until > held.until, "looked for again from where the walk stopped"
