"""The clock steps (NTP) forward and back, at the seam where it is injected (engine, dispatcher, the API's
signing and the simulator all read `world.now`): no storm of reminders, no alert lost or held back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.world import World, open_world

RULES = """
rules:
  - name: ops
    match:
      task_name: "prod-*"
    channel: "#alerts"
    repeat_interval: 1h
    group_by: [task_name]
"""


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with open_world(tmp_path, RULES) as opened:
        yield opened


def reminders(world: World) -> int:
    return sum(len(message.replies) for message in world.top_level("alerts"))


async def cycles(world: World, count: int, every: timedelta = timedelta(seconds=60)) -> None:
    for _ in range(count):
        await world.cycle()
        world.advance(every)


async def test_a_jump_forward_gives_one_reminder_not_one_per_missed_interval(world: World) -> None:
    world.execute("prod-reboot", "FAIL")
    await world.cycle()
    world.advance(timedelta(days=10))  # 240 intervals "passed"
    await cycles(world, 5)
    assert len(world.top_level("alerts")) == 1
    assert reminders(world) == 1


async def test_a_jump_back_sends_no_reminders_and_loses_no_new_alert(world: World) -> None:
    world.execute("prod-reboot", "FAIL")
    await world.cycle()
    world.advance(-timedelta(days=1))
    await cycles(world, 3)
    world.execute("prod-stop", "FAIL")  # fails while the clock is a day behind
    await cycles(world, 3)
    assert len(world.top_level("alerts")) == 2
    assert reminders(world) == 0
    world.advance(timedelta(days=1, hours=1))  # back on time, an interval later: one reminder each
    await cycles(world, 3)
    assert reminders(world) == 2


async def test_a_jump_back_does_not_hold_back_a_queued_retry(world: World) -> None:
    """A post that failed is retried on schedule even if the clock then steps back an hour."""
    world.stub.state.faults.server_error(1)
    world.execute("prod-reboot", "FAIL")
    await world.cycle()  # 500: retry in 15 s
    assert world.top_level("alerts") == []
    world.advance(-timedelta(hours=1))
    await cycles(world, 2)
    assert len(world.top_level("alerts")) == 1


async def test_a_jump_back_does_not_strand_a_dead_senders_claim(world: World) -> None:
    """A row claimed by a sender that died just before the clock stepped back an hour is taken over after
    the claim lease, not after the lease plus the hour."""
    world.execute("prod-reboot", "FAIL")
    await world.engine.run_cycle()
    [row] = world.store.pending_outbox(now=world.now[0])
    assert world.store.claim_outbox(row.id, claimer="dead-sender", now=world.now[0])
    world.advance(-timedelta(hours=1))
    world.advance(timedelta(minutes=10))  # twice the default lease
    await cycles(world, 2)
    assert len(world.top_level("alerts")) == 1
