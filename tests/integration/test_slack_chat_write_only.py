"""With `chat:write` alone the whole lifecycle works - post, reminder, edit on recurrence and recovery,
resolved reply, digests - because what was posted (one alert or a digest, its channel id and ts) is in the
store: no edit reads the channel's history. Only the crash reconcile degrades, and that is said at start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.devtools.slackstub import SlackStubOptions
from monitor.slack.notifier import log_scope_problems
from tests.support.world import World, open_world

RULES = """
rules:
  - name: ops
    match:
      task_name: "prod-*"
    channel: "#alerts"
    repeat_interval: 1h
    notify_resolved: true
"""
READING = ("conversations.history", "conversations.replies", "conversations.list")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    options = SlackStubOptions(scopes=frozenset({"chat:write"}), rate_limits=False)  # unpaced, as open_world
    async with open_world(tmp_path, RULES, stub_options=options) as opened:
        yield opened


async def test_the_whole_lifecycle_needs_nothing_but_chat_write(world: World) -> None:
    world.execute("prod-reboot", "FAIL")
    await world.cycle()  # posted
    world.advance(timedelta(minutes=61))
    await world.cycle()  # reminder in the thread
    world.advance(timedelta(minutes=1))
    world.execute("prod-reboot", "FAIL")
    await world.cycle()  # failed again: edited, and a reply
    world.execute("prod-reboot", "SUCCESS")
    await world.cycle()  # resolved: edited, and a reply
    world.execute("prod-stop", "FAIL")
    world.execute("prod-start", "FAIL")
    await world.cycle()  # a digest
    world.execute("prod-stop", "SUCCESS")
    await world.cycle()  # a reply in the digest's thread; the digest itself is left as it is

    single, digest = world.top_level("alerts")
    assert len(single.edits) == 2
    assert len(single.replies) == 3
    assert "Resolved" in single.replies[-1].text
    assert digest.edits == []
    assert [("Resolved" in reply.text) for reply in digest.replies] == [True]
    assert [call.method for call in world.stub.state.calls if call.method in READING] == []
    assert [call for call in world.stub.state.calls if call.error] == []
    assert world.top_level("ops") == []


async def test_the_start_says_once_what_is_degraded_without_the_history_scopes(world: World) -> None:
    problem = await log_scope_problems(world.notifier)
    assert problem is not None
    assert "channels:history, groups:history, channels:read, groups:read" in problem
    assert "may be posted twice" in problem


async def test_with_the_manifests_scopes_nothing_is_said(tmp_path: Path) -> None:
    async with open_world(tmp_path, RULES) as world:
        assert await log_scope_problems(world.notifier) is None
