"""What /healthz is told about Slack (`DeliveryWatch`), with the real Slack notifier on the stand-in: no
answer or failing answers for longer than the limit name Slack; any answer (a post, a rate limit, an error
about one channel) clears it; one failure shorter than the limit says nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from monitor.decide import DecisionKind
from monitor.delivery_watch import DeliveryWatch
from monitor.devtools.slackstub import start_slack_stub
from monitor.devtools.slackstub.runner import SlackStub
from monitor.notify.dispatch import DeliveryError, Notification
from monitor.slack.notifier import SlackNotifier
from monitor.store.base import OutboxRow, OutboxState
from tests.support.slack import payload
from tests.support.stores import T0, entry

LIMIT = timedelta(minutes=3)


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    async with start_slack_stub() as running:
        yield running


def watch(stub: SlackStub, now: list) -> DeliveryWatch:  # type: ignore[type-arg]
    notifier = SlackNotifier(stub.client(timeout=5, retry_handlers=[]), per_channel_interval=0)
    return DeliveryWatch(notifier, clock=lambda: now[0])


async def history(watched: DeliveryWatch) -> None:
    """A delivery that first looks whether an earlier attempt got through (conversations.list, history),
    then posts: what the dispatcher asks after a crash."""
    row = OutboxRow(1, entry(channel="#alerts", payload=payload()), OutboxState.CLAIMED, 1, T0, "dead-sender")
    notification = Notification(DecisionKind.NEW, "#alerts", (row,), uncertain=frozenset({row.id}))
    with contextlib.suppress(DeliveryError):
        await watched.deliver(notification, lambda delivered: None, Memo())


@dataclass
class Memo:
    """Remembers nothing: each delivery looks the channel up again."""

    def get(self, key: str) -> str | None:
        return None

    def set(self, key: str, value: str) -> None:
        pass


async def test_failing_answers_for_longer_than_the_limit_name_slack(stub: SlackStub) -> None:
    now = [T0]
    watched = watch(stub, now)
    stub.state.faults.server_error(None)
    await history(watched)
    now[0] += LIMIT
    assert watched.problem(LIMIT) is None  # not longer than the limit yet
    await history(watched)
    now[0] += timedelta(seconds=1)
    problem = watched.problem(LIMIT)
    assert problem is not None
    assert problem.startswith("Slack deliveries failing for 3m1s (limit 3m): ")
    assert "500" in problem or "internal_error" in problem

    stub.state.faults.clear()
    await history(watched)  # answered
    assert watched.problem(LIMIT) is None


@pytest.mark.parametrize("answer", ["rate_limit", "error"])
async def test_an_answer_about_pacing_or_a_channel_is_not_a_slack_problem(
    stub: SlackStub, answer: str
) -> None:
    now = [T0]
    watched = watch(stub, now)
    stub.state.faults.server_error(1)
    await history(watched)
    if answer == "rate_limit":
        stub.state.faults.rate_limit(None)
    else:
        stub.state.faults.error("channel_not_found", None)
    await history(watched)
    now[0] += 2 * LIMIT
    assert watched.problem(LIMIT) is None


async def test_a_call_without_an_answer_names_slack_while_it_waits(stub: SlackStub) -> None:
    now = [T0]
    watched = watch(stub, now)
    stub.state.faults.delay(4, None)
    waiting = asyncio.ensure_future(history(watched))
    for _ in range(1000):  # until the stand-in holds the call
        if stub.state.calls:
            break
        await asyncio.sleep(0.01)
    now[0] += LIMIT + timedelta(seconds=5)
    problem = watched.problem(LIMIT)
    waiting.cancel()
    assert problem is not None
    assert problem.startswith("Slack has not answered a delivery for 3m5s (limit 3m)")
