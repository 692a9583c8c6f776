"""Maintenance windows end to end: real cycles against the simulator over loopback, a real SQLite file, a
clock the test moves. A window holds a rule's alerts back from the instant it opens (inclusive) to the
instant it closes (exclusive); a failure that spans the closing edge is posted once, at the first cycle
after it; one that recovers inside the window is never posted.

START is Sunday 2026-11-29 08:00 UTC, 09:00 in Berlin (CET, UTC+1).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.decide import alert_fingerprint
from monitor.workspace.client import RetryPolicy
from tests.integration.test_engine_scenario import RecordingNotifier, cycle
from tests.support.world import START, World, open_world

RULES = """
time_intervals:
  - name: patch
    time_intervals:
      - weekdays: [sunday]
        times: [{start_time: "09:30", end_time: "11:00"}]   # 08:30-10:00 UTC
        location: Europe/Berlin
  - name: office
    time_intervals:
      - weekdays: [monday:friday]
        times: [{start_time: "09:00", end_time: "17:00"}]   # 08:00-16:00 UTC
        location: Europe/Berlin
  - name: fall-back-night
    time_intervals:
      - days_of_month: [25]
        months: [october]
        times: [{start_time: "01:00", end_time: "04:00"}]   # 2026-10-25: 23:00 UTC (CEST) - 03:00 UTC (CET)
        location: Europe/Berlin
rules:
  - name: nightly
    match: {task_name: "nightly-*"}
    channel: "#nightly"
    repeat_interval: 0
    mute_time_intervals: [fall-back-night]
  - name: ops
    match: {task_name: "prod-*"}
    channel: "#ops"
    repeat_interval: 1h
    mute_time_intervals: [patch]
  - name: lab
    match: {task_name: "lab-*"}
    channel: "#lab"
    repeat_interval: 0
    active_time_intervals: [office]
  - name: pilot
    match: {task_name: "pilot-*"}
    channel: "#pilot"
    repeat_interval: 0
silences:
  - match: {task_name: "pilot-*"}
    time_intervals: [patch]
    until: 2026-12-31T00:00:00Z
    comment: the pilot pool is patched with the servers
"""

TASKS = (
    ("prod-reboot", "REBOOT"),
    ("prod-snapshot", "CREATE_SNAPSHOT"),
    ("lab-script", "EXECUTE_SCRIPT"),
    ("pilot-reboot", "REBOOT"),
    ("nightly-reboot", "REBOOT"),
)
OPENS = START + timedelta(minutes=30)  # 09:30 Berlin
CLOSES = START + timedelta(hours=2)  # 11:00 Berlin
SECOND = timedelta(seconds=1)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    tasks = [
        {"task_name": name, "task_type": kind, "last_status": "SUCCESS", "enable": True}
        for name, kind in TASKS
    ]
    async with open_world(
        tmp_path,
        RULES,
        tasks=tasks,
        default_channel="#fallback",
        sim_options={"seed": 3},
        notifier=RecordingNotifier(),
        retry=RetryPolicy(attempts=2, wait_initial=0, wait_max=0, wait_jitter=0),
    ) as opened:
        yield opened


def at(world: World, moment: object) -> None:
    world.now[0] = moment  # type: ignore[assignment]


def posts(calls: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    return [call[:4] for call in calls]


async def test_a_failure_just_before_the_window_is_posted(world: World) -> None:
    at(world, OPENS - SECOND)
    world.execute("prod-reboot", "FAIL")
    assert posts(await cycle(world)) == [("post", "#ops", "NEW", "prod-reboot")]


async def test_the_window_mutes_from_its_first_instant(world: World) -> None:
    at(world, OPENS)
    world.execute("prod-reboot", "FAIL")
    assert await cycle(world) == []
    state = world.store.load_alerts(
        [alert_fingerprint("ops", world.engine.project, world.task_id("prod-reboot"))]
    )
    (alert,) = state.values()
    assert alert.silenced_by == "mute_time_intervals patch"
    assert "maintenance window patch" in alert.reason


async def test_a_failure_spanning_the_end_is_posted_once_when_the_window_closes(world: World) -> None:
    at(world, OPENS + timedelta(minutes=10))
    world.execute("prod-reboot", "FAIL")
    assert await cycle(world) == []
    at(world, CLOSES - SECOND)
    assert await cycle(world) == [], "the last second of the window still mutes"
    at(world, CLOSES)
    assert posts(await cycle(world)) == [("post", "#ops", "NEW", "prod-reboot")]
    assert await cycle(world) == [], "posted once"
    world.advance(timedelta(minutes=30))
    assert await cycle(world) == [], "and not again before its repeat_interval"


async def test_a_failure_that_recovers_inside_the_window_is_never_posted(world: World) -> None:
    at(world, OPENS + timedelta(minutes=10))
    world.execute("prod-reboot", "FAIL")
    assert await cycle(world) == []
    world.advance(timedelta(minutes=20))
    world.execute("prod-reboot", "SUCCESS")
    assert await cycle(world) == []
    at(world, CLOSES)
    assert await cycle(world) == []


async def test_a_reminder_due_inside_the_window_waits_for_its_end(world: World) -> None:
    at(world, START)
    world.execute("prod-snapshot", "FAIL")
    [(_, _, kind, _, ts)] = await cycle(world)
    assert kind == "NEW"
    at(world, START + timedelta(hours=1))  # 09:00 UTC, inside: the reminder is due but held
    assert await cycle(world) == []
    at(world, CLOSES)
    assert await cycle(world) == [("reply", "#ops", "REPEAT", "prod-snapshot", ts)]


async def test_other_rules_are_not_muted(world: World) -> None:
    at(world, OPENS + timedelta(minutes=10))
    world.execute("lab-script", "FAIL")
    at(world, START + timedelta(days=1, minutes=10))  # monday 09:10 Berlin: office hours
    assert posts(await cycle(world)) == [("post", "#lab", "NEW", "lab-script")]


async def test_an_active_interval_holds_alerts_until_it_opens(world: World) -> None:
    """Sunday is outside office hours: the failure waits for monday 09:00 Berlin, to the second."""
    world.execute("lab-script", "FAIL")
    assert await cycle(world) == []
    monday_nine = START + timedelta(days=1)
    at(world, monday_nine - SECOND)
    assert await cycle(world) == []
    at(world, monday_nine)
    assert posts(await cycle(world)) == [("post", "#lab", "NEW", "lab-script")]
    assert await cycle(world) == []


async def test_a_silence_naming_a_window_mutes_only_inside_it(world: World) -> None:
    world.execute("pilot-reboot", "FAIL")
    assert posts(await cycle(world)) == [("post", "#pilot", "NEW", "pilot-reboot")], "before the window"
    at(world, OPENS + timedelta(minutes=5))
    world.execute("pilot-reboot", "FAIL")
    assert await cycle(world) == [], "the second failure, in the window: held"
    at(world, CLOSES)
    assert [call[2] for call in await cycle(world)] == ["RECURRED", "RECURRED"], "reply and update, once"
    assert await cycle(world) == []


async def test_a_window_across_the_dst_change_keeps_its_wall_clock_hours(world: World) -> None:
    """01:00-04:00 in Berlin on the night the clock falls back from 03:00 CEST to 02:00 CET lasts four
    hours: from 23:00 UTC to 03:00 UTC (a window kept in UTC offsets would close at 02:00 UTC)."""
    at(world, datetime(2026, 10, 25, 2, 30, tzinfo=UTC))  # 03:30 CET: after the repeated hour, inside
    world.execute("nightly-reboot", "FAIL")
    assert await cycle(world) == []
    at(world, datetime(2026, 10, 25, 3, 0, tzinfo=UTC) - SECOND)
    assert await cycle(world) == []
    at(world, datetime(2026, 10, 25, 3, 0, tzinfo=UTC))  # 04:00 CET: closed
    assert posts(await cycle(world)) == [("post", "#nightly", "NEW", "nightly-reboot")]
    assert await cycle(world) == []
