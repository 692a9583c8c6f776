"""Slack's errors by their scope. One message refused (an edit of a deleted message, blocks Slack rejects, a
text too long) falls back - a thread reply, the channel, plain text - and never raises a meta-alert: the
channel works. A channel or a token refused raises the meta-alert in the ops channel, naming the fix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.devtools.slackstub import SlackStubOptions
from monitor.devtools.slackstub.options import DEFAULT_SCOPES
from tests.support.world import World, open_world

RULES = """
rules:
  - name: quiet
    match:
      task_name: "prod-reboot"
    channel: "#alerts"
    notify_resolved: false     # a recovery only edits the message
  - name: loud
    match:
      task_name: "prod-stop"
    channel: "#alerts"
    notify_resolved: true      # a recovery edits the message and replies
"""
REMINDING = """
rules:
  - name: ops
    match: {task_name: "prod-*"}
    channel: "#alerts"
    repeat_interval: 1h
"""
CHANNELS = {"alerts": "C0ALERTS01", "ops": "C0OPSOPS01"}


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    options = SlackStubOptions(strict_channels=True, channels=dict(CHANNELS))
    async with open_world(tmp_path, RULES, stub_options=options) as opened:
        yield opened


async def fail_then_recover(world: World, name: str) -> None:
    world.execute(name, "FAIL")
    await world.cycle()
    world.execute(name, "SUCCESS")
    await world.cycle()
    await world.cycle()  # anything selfwatch queued is flushed


async def test_an_edit_slack_refuses_becomes_a_thread_reply(world: World) -> None:
    world.stub.state.faults.error("cant_update_message", method="chat.update")
    await fail_then_recover(world, "prod-reboot")
    [message] = world.top_level("alerts")
    assert message.edits == []
    [reply] = message.replies
    assert "prod-reboot" in reply.text
    assert world.top_level("ops") == []


async def test_an_edit_of_a_deleted_message_goes_to_the_channel_once(world: World) -> None:
    """The edit fails (message_not_found) and the row's own reply, whose thread is gone, is posted in the
    channel instead of vanishing into a deleted thread."""
    world.execute("prod-stop", "FAIL")
    await world.cycle()
    [message] = world.top_level("alerts")
    world.stub.state.delete_message("alerts", message.ts)
    world.execute("prod-stop", "SUCCESS")
    await world.cycle()
    await world.cycle()
    [shown] = world.top_level("alerts")
    assert "Resolved" in shown.text
    assert world.stub.state.orphans == []
    assert world.top_level("ops") == []


@pytest.mark.parametrize("error", ["invalid_blocks", "msg_blocks_too_long", "msg_too_long"])
async def test_a_post_refused_for_its_content_goes_again_as_plain_text(world: World, error: str) -> None:
    world.stub.state.faults.error(error, method="chat.postMessage")
    world.execute("prod-reboot", "FAIL")
    await world.cycle()
    await world.cycle()
    [message] = world.top_level("alerts")
    assert "prod-reboot" in message.text
    assert message.blocks == []
    assert world.top_level("ops") == []


async def test_a_message_refused_even_as_plain_text_fails_alone_without_a_meta_alert(world: World) -> None:
    world.stub.state.faults.error("invalid_blocks", 2, method="chat.postMessage")
    world.execute("prod-reboot", "FAIL")
    report = await world.cycle()
    assert report is not None
    await world.cycle()
    assert world.top_level("alerts") == []
    assert world.top_level("ops") == []
    world.execute("prod-stop", "FAIL")
    await world.cycle()
    assert len(world.top_level("alerts")) == 1  # the channel works


@pytest.mark.parametrize(
    ("error", "fix"),
    [
        ("not_in_channel", "/invite"),
        ("is_archived", "unarchive"),
        ("token_revoked", "reinstall the app"),
        ("invalid_auth", "SLACK_BOT_TOKEN"),
        ("account_inactive", "reinstall the app"),
    ],
)
async def test_a_channel_or_token_refused_raises_the_meta_alert_naming_the_fix(
    world: World, error: str, fix: str
) -> None:
    world.stub.state.faults.error(error, method="chat.postMessage")
    world.execute("prod-reboot", "FAIL")
    await world.cycle()
    await world.cycle()
    [meta] = world.top_level("ops")
    assert error in str(meta.blocks)
    assert fix in str(meta.blocks)


async def test_a_missing_scope_is_named_as_slack_says_it_is_needed(tmp_path: Path) -> None:
    scopes = DEFAULT_SCOPES - {"chat:write"}
    options = SlackStubOptions(strict_channels=True, channels=dict(CHANNELS), scopes=scopes)
    async with open_world(tmp_path, RULES, stub_options=options) as world:
        world.execute("prod-reboot", "FAIL")
        await world.poll()
        report = await world.flush()
    [error] = report.refused_channels.values()
    assert "missing_scope" in error
    assert "the token lacks the scope chat:write" in error


async def test_a_reminder_for_a_deleted_message_goes_to_the_channel(tmp_path: Path) -> None:
    """Slack answers a reply to a message that is gone with thread_not_found (slackapi/bolt-js#2307)."""
    options = SlackStubOptions(strict_channels=True, channels=dict(CHANNELS))
    async with open_world(tmp_path, REMINDING, stub_options=options) as world:
        world.execute("prod-reboot", "FAIL")
        await world.cycle()
        [message] = world.top_level("alerts")
        world.stub.state.delete_message("alerts", message.ts)
        world.advance(timedelta(minutes=61))
        await world.cycle()  # the reminder
        await world.cycle()
        [reminder] = world.top_level("alerts")
        assert "prod-reboot" in reminder.text
        assert world.top_level("ops") == []
