"""A sender stopped in the middle of a paced backlog (SIGTERM past the stop's flush wait, or a crash) leaves
at most the message in flight claimed: rows are claimed one message at a time, just before sending, so the
next start sends the rest at once instead of after the claim lease (issue 20, item 13)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.notify.dispatch import Dispatcher
from monitor.slack.notifier import SlackNotifier
from tests.support.world import World, open_world

TASKS = tuple(f"prod-{number}" for number in range(6))
RULES = """
rules:
  - name: ops
    match:
      task_name: "prod-*"
    channel: "#alerts"
    group_by: [task_name]   # six messages, paced one after another
"""


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with open_world(tmp_path, RULES, tasks=TASKS) as opened:
        yield opened


def sender(world: World, name: str) -> Dispatcher:
    notifier = SlackNotifier(world.stub.client(), per_channel_interval=0)
    return Dispatcher(world.store, notifier, claimer=name, clock=lambda: world.now[0])


async def test_a_sender_stopped_mid_backlog_leaves_only_the_message_in_flight_claimed(world: World) -> None:
    for name in TASKS:
        world.execute(name, "FAIL")
    await world.poll()
    world.stub.state.faults.delay(30, 1, method="chat.postMessage", skip=2)  # the third post hangs
    flush = asyncio.create_task(sender(world, "stopped").flush())
    while world.stub.state.count("chat.postMessage") < 3:  # the third post is in flight (no time limit)
        assert not flush.done()
        await asyncio.sleep(0.01)
    flush.cancel()  # what the end of the process does to a flush still running
    with contextlib.suppress(asyncio.CancelledError):
        await flush
    assert len(world.top_level("alerts")) == 2

    report = await sender(world, "restarted").flush()  # same moment: no claim lease has run out

    assert report.messages == 3
    assert len(world.top_level("alerts")) == 5
    [in_flight] = world.store.pending_outbox(now=world.now[0] + timedelta(hours=1))
    assert in_flight.claimed_by == "stopped"
