"""A maintenance window holds pages back as it holds Slack messages: a failure inside the window pages
nobody while it is open, and the on-call once when it closes if the task is still failing; one that recovers
inside the window never pages. Real cycles against the simulator, Slack's and PagerDuty's stand-ins.

START is Sunday 2026-11-29 08:00 UTC (09:00 in Berlin); the window is 09:30-11:00 Berlin, 08:30-10:00 UTC.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.devtools.pagerduty import PagerDutyStubThread
from monitor.notify.dispatch import Dispatcher
from monitor.pagerduty.notifier import PagerDutyNotifier
from tests.support.world import START, World, open_world

KEY = "0123456789abcdef0123456789ABCDEF"
RULES = """
time_intervals:
  - name: patch
    time_intervals:
      - weekdays: [sunday]
        times: [{start_time: "09:30", end_time: "11:00"}]
        location: Europe/Berlin
rules:
  - name: ops
    match: {task_name: "prod-*"}
    channel: "#ops-alerts"
    severity: critical
    repeat_interval: 0
    pagerduty: true
    mute_time_intervals: [patch]
"""
OPENS = START + timedelta(minutes=30)
CLOSES = START + timedelta(hours=2)


@pytest.fixture
def pd() -> Iterator[PagerDutyStubThread]:
    with PagerDutyStubThread() as stub:
        yield stub


@pytest.fixture
async def world(tmp_path: Path, pd: PagerDutyStubThread) -> AsyncIterator[World]:
    tasks = [{"task_name": "prod-reboot", "last_status": "SUCCESS", "enable": True}]
    async with open_world(tmp_path, RULES, tasks=tasks, sim_options={"seed": 3}) as opened:
        receiver = PagerDutyNotifier(KEY, pd.server.enqueue_url, interval=0)
        opened.dispatcher = Dispatcher(
            opened.store,
            opened.runtime.delivery,
            claimer="t",
            clock=lambda: opened.now[0],
            receivers=[receiver],
        )
        yield opened


async def test_a_failure_spanning_the_window_s_end_pages_once_when_it_closes(
    world: World, pd: PagerDutyStubThread
) -> None:
    world.now[0] = OPENS + timedelta(minutes=10)
    world.execute("prod-reboot", "FAIL")
    await world.cycle()
    world.now[0] = CLOSES - timedelta(seconds=1)
    await world.cycle()
    assert pd.server.requests == 0, "nobody is paged inside the window"

    world.now[0] = CLOSES
    await world.cycle()
    world.advance(timedelta(minutes=5))
    await world.cycle()
    assert pd.server.events == [("trigger", pd.server.incidents[0].dedup_key)]
    assert [i.status for i in pd.server.incidents] == ["triggered"]


async def test_a_failure_that_recovers_inside_the_window_never_pages(
    world: World, pd: PagerDutyStubThread
) -> None:
    world.now[0] = OPENS + timedelta(minutes=10)
    world.execute("prod-reboot", "FAIL")
    await world.cycle()
    world.advance(timedelta(minutes=20))
    world.execute("prod-reboot", "SUCCESS")
    await world.cycle()
    world.now[0] = CLOSES
    await world.cycle()
    assert pd.server.incidents == []
    assert pd.server.events == []
