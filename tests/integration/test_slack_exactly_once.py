"""Posts that Slack took although we never heard it: every k-th post is carried out and then its connection
is reset, or answered 500. Each alert and each thread reply shows exactly once, also when the sender is
restarted in between. No retry hides inside slack_sdk (its default handler posts again after a reset)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.notify.dispatch import Dispatcher
from monitor.slack.client import respond_once, web_client
from monitor.slack.message import alerts_in_metadata
from monitor.slack.notifier import ROW_KEY, SlackNotifier
from tests.support.world import World, open_world

TASKS = tuple(f"prod-{number:02d}" for number in range(12))
RULES = """
rules:
  - name: ops
    match:
      task_name: "prod-*"
    channel: "#alerts"
    notify_resolved: true
    group_by: [task_name]   # one message per alert: twelve posts, then twelve thread replies
"""


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with open_world(tmp_path, RULES, tasks=TASKS) as opened:
        # The notifier the product builds from a client with slack_sdk's default handlers.
        opened.dispatcher = fresh_sender(opened)
        yield opened


def fresh_sender(world: World) -> Dispatcher:
    """A new sender on the same store, as after a restart."""
    notifier = SlackNotifier(world.stub.client(), per_channel_interval=0)
    return Dispatcher(world.store, notifier, claimer="restarted", clock=lambda: world.now[0])


async def until_drained(world: World, *, restart_after_first: bool) -> None:
    for attempt in range(30):
        await world.flush()
        if restart_after_first and attempt == 0:
            world.dispatcher = fresh_sender(world)
        if not world.store.pending_outbox(now=world.now[0] + timedelta(days=1)):
            return
        world.advance(timedelta(minutes=11))  # past any backoff
    raise AssertionError("the outbox never drained")


@pytest.mark.parametrize("restart", [False, True], ids=["same-sender", "restart-between"])
async def test_every_kth_post_taken_then_lost_still_shows_each_alert_and_reply_once(
    world: World, restart: bool
) -> None:
    world.stub.state.faults.taken_reset(None, every=3, method="chat.postMessage")
    world.stub.state.faults.taken_500(None, every=4, method="chat.postMessage")
    for name in TASKS:
        world.execute(name, "FAIL")
    await world.poll()
    await until_drained(world, restart_after_first=restart)
    world.advance(timedelta(minutes=1))
    for name in TASKS:
        world.execute(name, "SUCCESS")
    await world.poll()
    await until_drained(world, restart_after_first=restart)

    messages = world.top_level("alerts")
    shown = Counter(alerts_in_metadata(message.metadata)[0] for message in messages)
    assert len(shown) == len(TASKS)
    assert set(shown.values()) == {1}
    assert [len(message.replies) for message in messages] == [1] * len(TASKS)
    lost = [call for call in world.stub.state.calls if call.error in ("taken_reset", "taken_500")]
    assert len(lost) >= 6  # the faults did fire, on posts and on replies


async def test_a_reply_names_its_outbox_row_in_its_metadata(world: World) -> None:
    world.execute("prod-00", "FAIL")
    await world.cycle()
    world.execute("prod-00", "SUCCESS")
    await world.cycle()
    [message] = world.top_level("alerts")
    [reply] = message.replies
    assert reply.metadata is not None
    assert isinstance(reply.metadata["event_payload"][ROW_KEY], int)


async def test_the_notifier_strips_slack_sdks_connection_retry(world: World) -> None:
    """One taken-then-reset post is one call: slack_sdk did not send it again."""
    world.stub.state.faults.taken_reset(1, method="chat.postMessage")
    world.execute("prod-00", "FAIL")
    await world.cycle()
    assert world.stub.state.count("chat.postMessage") == 1
    assert len(world.top_level("alerts")) == 1


async def test_the_products_web_client_has_no_retry_handler() -> None:
    assert web_client("xoxb-x", "http://127.0.0.1:1/api/").retry_handlers == []


async def test_a_response_url_post_is_sent_once_when_its_connection_is_reset(world: World) -> None:
    world.stub.state.faults.taken_reset(1, method="response_url")
    with pytest.raises(Exception):  # noqa: B017,PT011 - aiohttp's ServerDisconnectedError; that it is not retried matters
        await respond_once(world.stub.response_url("r1"), {"text": "hello", "response_type": "ephemeral"})
    assert world.stub.state.count("response_url") == 1
    assert len(world.stub.state.responses) == 1
