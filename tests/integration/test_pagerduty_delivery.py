"""Alerts escalated to PagerDuty through the outbox, against the stand-in over loopback HTTP: trigger and
resolve in order, one incident per alert, across restarts (a new dispatcher on the same store) and 429s."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from monitor.decide import DecisionKind
from monitor.devtools.pagerduty import PagerDutyStubThread
from monitor.notify.dispatch import (
    Delivered,
    Dispatcher,
    Memo,
    Notification,
    Record,
    RetryableDeliveryError,
)
from monitor.pagerduty.notifier import PagerDutyNotifier
from monitor.store.base import CycleChanges, OutboxEntry, Store
from monitor.workspace.bodies import MAX_ANSWER_BYTES
from tests.support.stores import T0, backend, entry, store

__all__ = ["backend", "store"]  # the fixtures, used by name

KEY = "0123456789abcdef0123456789ABCDEF"
CHANNEL = "pagerduty:events"


@pytest.fixture
def pd() -> Iterator[PagerDutyStubThread]:
    with PagerDutyStubThread() as stub:
        yield stub


class Chat:
    kind = "slack"

    async def deliver(self, notification: Notification, record: Record, memo: Memo) -> None:
        record(Delivered(tuple(row.id for row in notification.rows), notification.channel, "1.0"))


class SlackDown:
    """Slack answering 503 to everything."""

    kind = "slack"

    async def deliver(self, notification: Notification, record: Record, memo: Memo) -> None:
        raise RetryableDeliveryError("chat.postMessage: HTTP 503")


def _payload(kind: DecisionKind) -> dict[str, Any]:
    task = {"id": "t-1", "name": "prod-reboot", "type": "REBOOT", "last_status": "FAIL"}
    return {"kind": str(kind), "task": task, "rule": "reboots", "severity": "critical", "project": "p-1"}


def _paged(fingerprint: str, kind: DecisionKind, episode: int = 1) -> OutboxEntry:
    return entry(fingerprint, kind, channel=CHANNEL, payload=_payload(kind), episode=episode, notify=True)


def _dispatcher(store: Store, pd: PagerDutyStubThread) -> Dispatcher:
    """A fresh dispatcher, as a restarted daemon builds it."""
    receiver = PagerDutyNotifier(KEY, pd.server.enqueue_url, interval=0)
    return Dispatcher(
        store, Chat(), claimer="t", clock=lambda: T0 + timedelta(hours=1), receivers=[receiver],
        backoff_base=timedelta(0),
    )  # fmt: skip


def _enqueue(store: Store, *entries: OutboxEntry) -> None:
    store.apply_cycle(CycleChanges(outbox=list(entries)))


async def test_new_then_resolved_trigger_and_resolve_one_incident(
    store: Store, pd: PagerDutyStubThread
) -> None:
    _enqueue(store, _paged("f-1", DecisionKind.NEW))
    await _dispatcher(store, pd).flush()
    _enqueue(store, _paged("f-1", DecisionKind.RESOLVED))
    await _dispatcher(store, pd).flush()

    assert pd.server.events == [("trigger", "f-1"), ("resolve", "f-1")]
    [incident] = pd.server.incidents
    assert (incident.status, incident.summary.startswith("[critical]")) == ("resolved", True)


async def test_each_alert_is_its_own_incident(store: Store, pd: PagerDutyStubThread) -> None:
    _enqueue(store, _paged("f-1", DecisionKind.NEW), _paged("f-2", DecisionKind.NEW))
    report = await _dispatcher(store, pd).flush()
    assert report.sent == 2
    assert sorted(i.dedup_key for i in pd.server.incidents) == ["f-1", "f-2"]


async def test_a_429_is_retried_through_the_outbox_and_opens_one_incident(
    store: Store, pd: PagerDutyStubThread
) -> None:
    pd.call(pd.server.throttle, 2)
    _enqueue(store, _paged("f-1", DecisionKind.NEW))
    first = await _dispatcher(store, pd).flush()
    assert (first.sent, first.retrying) == (0, 1)
    await _dispatcher(store, pd).flush()  # throttled again, then a restart
    last = await _dispatcher(store, pd).flush()

    assert last.sent == 1
    assert [i.dedup_key for i in pd.server.incidents] == ["f-1"]
    assert pd.server.requests == 3


async def test_a_5xx_is_retried(store: Store, pd: PagerDutyStubThread) -> None:
    pd.call(pd.server.fail, 1)
    _enqueue(store, _paged("f-1", DecisionKind.NEW))
    assert (await _dispatcher(store, pd).flush()).retrying == 1
    assert (await _dispatcher(store, pd).flush()).sent == 1


async def test_a_trigger_sent_again_after_a_restart_is_still_one_incident(
    store: Store, pd: PagerDutyStubThread
) -> None:
    """A sender that died after PagerDuty took the event, before recording it: the row is sent again, and
    the dedup_key makes it the same incident."""
    _enqueue(store, _paged("f-1", DecisionKind.NEW))
    payload = {"summary": "s", "source": "p-1", "severity": "error"}
    pd.call(
        pd.server.accept,
        {"routing_key": KEY, "event_action": "trigger", "dedup_key": "f-1", "payload": payload},
    )
    await _dispatcher(store, pd).flush()
    assert len(pd.server.incidents_of("f-1")) == 1


async def test_a_new_episode_after_resolve_opens_a_new_incident(
    store: Store, pd: PagerDutyStubThread
) -> None:
    _enqueue(store, _paged("f-1", DecisionKind.NEW), _paged("f-1", DecisionKind.RESOLVED))
    await _dispatcher(store, pd).flush()
    _enqueue(store, _paged("f-1", DecisionKind.NEW, episode=2))
    await _dispatcher(store, pd).flush()
    assert [i.status for i in pd.server.incidents_of("f-1")] == ["resolved", "triggered"]


async def test_a_refused_key_fails_the_row_for_good_and_names_the_channel(
    store: Store, pd: PagerDutyStubThread
) -> None:
    """A 4xx does not heal by itself: the row fails, and the channel is reported refused (selfwatch's
    meta-alert); the routing key is not in the error."""
    _enqueue(store, _paged("f-1", DecisionKind.NEW))
    receiver = PagerDutyNotifier("short", pd.server.enqueue_url, interval=0)
    report = await Dispatcher(store, Chat(), claimer="t", clock=lambda: T0, receivers=[receiver]).flush()

    assert report.failed == 1
    assert "HTTP 400" in report.refused_channels[CHANNEL]
    assert "short" not in report.refused_channels[CHANNEL]
    assert pd.server.incidents == []


async def test_kinds_that_page_nobody_are_recorded_without_a_request(
    store: Store, pd: PagerDutyStubThread
) -> None:
    _enqueue(store, _paged("f-1", DecisionKind.REPEAT), _paged("f-2", DecisionKind.RECURRED))
    assert (await _dispatcher(store, pd).flush()).sent == 2
    assert pd.server.requests == 0


async def test_events_are_paced(store: Store, pd: PagerDutyStubThread) -> None:
    """`interval` apart: on a clock that stands still, each event after the first waits the whole interval."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    receiver = PagerDutyNotifier(
        KEY, pd.server.enqueue_url, interval=2.0, monotonic=lambda: 100.0, sleep=sleep
    )
    _enqueue(store, *(_paged(f"f-{n}", DecisionKind.NEW) for n in range(3)))
    report = await Dispatcher(store, Chat(), claimer="t", clock=lambda: T0, receivers=[receiver]).flush()

    assert report.sent == 3
    assert waits == [2.0, 2.0]


def _chat(fingerprint: str, kind: DecisionKind) -> OutboxEntry:
    """The Slack row the engine writes before an escalated alert's PagerDuty row."""
    return entry(fingerprint, kind, payload=_payload(kind), notify=True)


async def test_the_on_call_is_paged_while_slack_is_down(store: Store, pd: PagerDutyStubThread) -> None:
    """The page does not wait behind the alert's Slack message, retrying while Slack is out."""
    _enqueue(store, _chat("f-1", DecisionKind.NEW), _paged("f-1", DecisionKind.NEW))
    receiver = PagerDutyNotifier(KEY, pd.server.enqueue_url, interval=0)
    report = await Dispatcher(store, SlackDown(), claimer="t", clock=lambda: T0, receivers=[receiver]).flush()

    assert (report.sent, report.retrying) == (1, 1)
    assert pd.server.events == [("trigger", "f-1")]


async def test_slack_hears_of_the_recovery_while_pagerduty_is_failing(
    store: Store, pd: PagerDutyStubThread
) -> None:
    """Slack's rows of an alert do not wait behind its PagerDuty rows, retrying while PagerDuty answers 5xx;
    PagerDuty's own rows keep their order (the resolve after the trigger)."""
    pd.call(pd.server.fail, 2)
    _enqueue(store, _chat("f-1", DecisionKind.NEW), _paged("f-1", DecisionKind.NEW))
    first = await _dispatcher(store, pd).flush()
    assert (first.sent, first.retrying) == (1, 1)
    _enqueue(store, _chat("f-1", DecisionKind.RESOLVED), _paged("f-1", DecisionKind.RESOLVED))
    second = await _dispatcher(store, pd).flush()
    assert (second.sent, second.retrying) == (1, 1), (
        "Slack's recovery out; the trigger retried, the resolve waits"
    )
    await _dispatcher(store, pd).flush()
    assert pd.server.events == [("trigger", "f-1"), ("resolve", "f-1")]


def _receiver_answering(answer: Callable[[], httpx.Response], *, timeout: float = 10.0) -> PagerDutyNotifier:
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: answer()))
    return PagerDutyNotifier(KEY, "https://events.pagerduty.test/v2/enqueue", client=client, interval=0,
                             timeout=timeout)  # fmt: skip


async def test_an_endless_answer_is_read_no_further_than_the_cap(store: Store) -> None:
    """A 202 whose body never ends (or a gzip bomb) was read whole into memory: now it is read to 4 MB
    decoded and dropped (the status says the event was taken). The stream fails the test past 64 MB."""
    sent = [0]

    async def endless() -> AsyncIterator[bytes]:
        while True:
            sent[0] += 65_536
            assert sent[0] < 64 * 1024 * 1024, "the receiver read past any cap"
            yield b"x" * 65_536

    receiver = _receiver_answering(lambda: httpx.Response(202, content=endless()))
    _enqueue(store, _paged("f-1", DecisionKind.NEW))
    report = await Dispatcher(store, Chat(), claimer="t", clock=lambda: T0, receivers=[receiver]).flush()
    assert report.sent == 1
    assert sent[0] <= MAX_ANSWER_BYTES + 2 * 65_536


async def test_an_answer_that_trickles_in_is_a_retry_after_the_deadline(store: Store) -> None:
    """One byte every 50 ms (httpx's per-read timeout never trips) held the receiver, and every page behind
    it, for as long as PagerDuty (or something in the way) liked: one deadline for the exchange, then the
    outbox retries (the dedup_key keeps a repeat the same incident)."""

    async def trickle() -> AsyncIterator[bytes]:
        for _ in range(100):
            await asyncio.sleep(0.05)
            yield b" "

    receiver = _receiver_answering(lambda: httpx.Response(202, content=trickle()), timeout=0.2)
    _enqueue(store, _paged("f-1", DecisionKind.NEW))
    report = await Dispatcher(
        store, Chat(), claimer="t", clock=lambda: T0, receivers=[receiver], backoff_base=timedelta(0)
    ).flush()
    assert (report.sent, report.retrying) == (0, 1)
