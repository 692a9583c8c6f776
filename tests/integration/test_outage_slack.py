"""Slack down for a stretch (connection refused, 500s, answers that never come): alerts queue in the outbox
and all arrive, in order, once it is back; nothing is posted twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.decide import alert_fingerprint
from monitor.devtools.sim import DEFAULT_PROJECT_ID
from monitor.slack.message import alerts_in_metadata
from tests.support.world import World, open_world

RULES = """
rules:
  - name: ops
    match:
      task_name: "prod-*"
    channel: "#alerts"
    notify_resolved: true
    group_by: [task_name]   # one message per alert, so the order they arrive in shows
"""


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with open_world(tmp_path, RULES, slack_timeout=0.5) as opened:
        yield opened


async def refused(world: World, down: bool) -> None:
    await world.stub.set_down(down)


async def server_errors(world: World, down: bool) -> None:
    if down:
        world.stub.state.faults.server_error(None, status=500)
    else:
        world.stub.state.faults.clear()


async def no_answer(world: World, down: bool) -> None:
    """Every call times out on our side; Slack never gets to handle it (it answers only after 30 s)."""
    if down:
        world.stub.state.faults.delay(30, None)
    else:
        world.stub.state.faults.clear()


def fingerprint(world: World, name: str) -> str:
    return alert_fingerprint("ops", DEFAULT_PROJECT_ID, world.sim.state.task(name).id)


@pytest.mark.parametrize("outage", [refused, server_errors, no_answer], ids=lambda f: f.__name__)
async def test_alerts_queue_during_an_outage_and_all_arrive_in_order_after_it(
    world: World, outage: Callable[[World, bool], Awaitable[None]]
) -> None:
    await outage(world, True)
    for name in ("prod-reboot", "prod-stop"):
        world.execute(name, "FAIL")
        await world.cycle()
        world.advance(timedelta(minutes=1))
    world.execute("prod-reboot", "SUCCESS")  # recovers before anyone heard it failed
    await world.cycle()
    world.execute("prod-start", "FAIL")
    await world.cycle()
    world.advance(timedelta(minutes=30))
    await world.cycle()  # retried: still down
    assert world.top_level("alerts") == []

    await outage(world, False)
    world.advance(timedelta(minutes=30))  # past every backoff
    await world.cycle()

    messages = world.top_level("alerts")
    assert [alerts_in_metadata(message.metadata)[0][0] for message in messages] == [
        fingerprint(world, name) for name in ("prod-reboot", "prod-stop", "prod-start")
    ]
    replies = [["Resolved" in reply.text for reply in message.replies] for message in messages]
    assert replies == [[True], [], []]
    assert world.stub.state.count("chat.postMessage", ok=True) == 4  # three alerts and a reply, once each
    assert world.store.pending_outbox(now=world.now[0] + timedelta(days=1)) == []


async def test_an_answer_lost_after_slack_took_the_message_is_not_posted_twice(world: World) -> None:
    """A timeout on our side after Slack posted: the retry finds the message instead of posting again."""
    world.stub.state.faults.delay(1.0, 1, method="chat.postMessage")  # we give up after 0.5 s
    world.execute("prod-reboot", "FAIL")
    await world.cycle()
    await _until_posted(world)
    world.advance(timedelta(minutes=30))
    await world.cycle()
    assert len(world.top_level("alerts")) == 1
    assert world.store.pending_outbox(now=world.now[0] + timedelta(days=1)) == []


async def _until_posted(world: World) -> None:
    for _ in range(100):
        if world.top_level("alerts"):
            return
        await asyncio.sleep(0.02)
