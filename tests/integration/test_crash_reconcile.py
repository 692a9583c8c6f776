"""After a restart, the sender taking over a dead sender's claims finds what Slack already shows: it learns
the channel's id (Slack's history takes ids only) from conversations.list, or from the store when an earlier
post taught it, and records the message instead of posting it again. A fresh Dispatcher and SlackNotifier
stand for the restarted process; the crash harness (`tests/crash`) does the same with real processes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.notify.dispatch import Dispatcher
from monitor.slack.notifier import SlackNotifier
from tests.support.world import World, open_world

RULES = """
rules:
  - name: ops
    match:
      task_name: "prod-*"
    channel: "#alerts"
    group_by: [task_name]
"""


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with open_world(tmp_path, RULES) as opened:
        yield opened


async def die_after_posting(world: World, name: str) -> None:
    """A sender claims the alert's row, Slack takes the post, and the sender dies before recording it."""
    world.execute(name, "FAIL")
    await world.engine.run_cycle()
    [row] = world.store.pending_outbox(now=world.now[0])
    assert world.store.claim_outbox(row.id, claimer="dead-sender", now=world.now[0])
    notifier = SlackNotifier(world.stub.client(retry_handlers=[]), per_channel_interval=0)
    await notifier.post(row.entry.channel, [row])


def restarted(world: World) -> Dispatcher:
    notifier = SlackNotifier(world.stub.client(retry_handlers=[]), per_channel_interval=0)
    return Dispatcher(world.store, notifier, claimer="restarted", clock=lambda: world.now[0])


async def test_a_restarted_sender_looks_the_channel_up_and_posts_nothing_twice(world: World) -> None:
    await die_after_posting(world, "prod-reboot")
    world.advance(timedelta(minutes=10))  # the dead sender's claim runs out
    report = await restarted(world).flush()
    assert report.sent == 1
    assert len(world.top_level("alerts")) == 1
    assert world.stub.state.count("conversations.list", ok=True) == 1


async def test_without_channels_read_the_id_remembered_from_an_earlier_post_is_used(world: World) -> None:
    world.stub.state.faults.error("missing_scope", None, method="conversations.list")
    world.execute("prod-stop", "FAIL")
    await world.cycle()  # posted and recorded: the channel's id is remembered in the store
    await die_after_posting(world, "prod-reboot")
    world.advance(timedelta(minutes=10))
    await restarted(world).flush()
    assert len(world.top_level("alerts")) == 2  # prod-stop and prod-reboot, once each
    assert world.stub.state.count("conversations.list", ok=True) == 0


async def test_without_channels_read_or_an_earlier_post_it_posts_rather_than_loses(world: World) -> None:
    """The one case left at-least-once (docs/reliability.md): better twice than never."""
    world.stub.state.faults.error("missing_scope", None, method="conversations.list")
    await die_after_posting(world, "prod-reboot")
    world.advance(timedelta(minutes=10))
    await restarted(world).flush()
    assert len(world.top_level("alerts")) == 2
