"""Alert delivery to Slack: real cycles against the Workspace simulator, real slack_sdk calls against the
Slack stand-in, and assertions on what the channel shows: messages, edits and thread replies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.devtools.slackstub import SlackStubOptions
from monitor.workspace.client import RetryPolicy
from tests.support.world import World, open_world

RULES = """
rules:
  - name: ops
    match:
      task_name: "prod-*"
    channel: "#desktop-ops"
    severity: critical
    repeat_interval: 1h
  - name: elsewhere
    match:
      task_name: "lost-*"
    channel: "#no-such-channel"
"""


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with open_world(
        tmp_path,
        RULES,
        tasks=("prod-reboot", "prod-stop", "prod-start", "lost-task"),
        default_channel="#desktop-ops",
        stub_options=SlackStubOptions(strict_channels=True, rate_limits=False),  # unpaced, as open_world's
        retry=RetryPolicy(attempts=2, wait_initial=0, wait_max=0, wait_jitter=0),
    ) as opened:
        yield opened


def channel(world: World) -> list[dict[str, object]]:
    """What #desktop-ops shows: each message's text, how often it was edited, its thread's replies."""
    return [
        {
            "text": message.text,
            "edits": len(message.edits),
            "replies": [reply.text for reply in message.replies],
        }
        for message in world.stub.state.messages("desktop-ops")
    ]


async def test_an_alert_lives_in_one_message_and_its_thread(world: World) -> None:
    world.execute("prod-reboot", "FAIL")
    await world.cycle()
    [message] = channel(world)
    assert "prod-reboot" in str(message["text"])

    world.now[0] += timedelta(minutes=61)
    await world.cycle()  # reminder
    world.now[0] += timedelta(minutes=1)
    world.execute("prod-reboot", "FAIL")
    await world.cycle()  # failed again: the message is edited, and a reply
    world.execute("prod-reboot", "SUCCESS")
    await world.cycle()  # resolved: edited again, and a reply

    [message] = channel(world)
    assert message["edits"] == 2
    assert len(message["replies"]) == 3  # type: ignore[arg-type]
    stored = world.stub.state.messages("desktop-ops")[0]
    assert stored.metadata is not None
    assert stored.metadata["event_type"] == "workspace_monitor_alert"


async def test_new_failures_of_one_cycle_share_one_digest_message(world: World) -> None:
    for name in ("prod-reboot", "prod-stop", "prod-start"):
        world.execute(name, "FAIL")
    await world.cycle()
    [digest] = world.stub.state.messages("desktop-ops")
    assert all(name in str(digest.blocks) for name in ("prod-reboot", "prod-stop", "prod-start"))
    assert world.stub.state.count("chat.postMessage", ok=True) == 1


async def test_an_update_to_an_alert_in_a_digest_replies_instead_of_replacing_the_digest(
    world: World,
) -> None:
    for name in ("prod-reboot", "prod-stop"):
        world.execute(name, "FAIL")
    await world.cycle()
    world.execute("prod-stop", "SUCCESS")
    await world.cycle()
    [digest] = channel(world)
    assert digest["edits"] == 0
    assert len(digest["replies"]) == 1  # type: ignore[arg-type]


async def test_rate_limits_are_waited_out_and_nothing_is_lost(world: World) -> None:
    world.stub.state.faults.rate_limit(count=1, retry_after=0)
    world.execute("prod-reboot", "FAIL")
    await world.cycle()  # 429: the row waits (Retry-After 0)
    assert channel(world) == []
    await world.dispatcher.flush()
    assert len(channel(world)) == 1


async def test_an_unknown_channel_fails_for_good_and_says_so(world: World) -> None:
    world.execute("lost-task", "FAIL")
    await world.engine.run_cycle()
    report = await world.dispatcher.flush()
    assert report.failed == 1
    assert "channel_not_found" in report.errors[0]
    assert (await world.dispatcher.flush()).failed == 0  # not retried forever


async def test_a_post_whose_ts_was_never_recorded_is_found_not_posted_again(
    world: World, tmp_path: Path
) -> None:
    """The sender died after Slack took the message and before the outbox row was marked sent."""
    world.execute("prod-reboot", "FAIL")
    await world.engine.run_cycle()
    notifier = world.notifier
    [row] = world.store.pending_outbox(now=world.now[0])
    assert world.store.claim_outbox(row.id, claimer="dead-sender", now=world.now[0])
    await notifier.post(row.entry.channel, [row])  # posted; the crash comes before mark_sent
    world.now[0] += timedelta(minutes=10)  # the dead sender's claim expires
    await world.dispatcher.flush()
    assert world.stub.state.count("chat.postMessage", ok=True) == 1
    assert world.store.message_ref(row.entry.fingerprint) is not None
