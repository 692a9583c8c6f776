"""The dispatcher's receivers, keyed by kind: a channel written `kind:target` goes to that receiver, every
other channel to the first one; each receiver keeps its memo under its own kind."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from monitor.decide import DecisionKind
from monitor.notify.dispatch import Delivered, Dispatcher, Memo, Notification, Record
from monitor.store.base import CycleChanges, Store
from tests.support.stores import T0, backend, entry, store

__all__ = ["backend", "store"]  # the fixtures, used by name


@dataclass
class Recorder:
    """A receiver that delivers everything at once and remembers what it was given."""

    kind: str
    given: list[Notification] = field(default_factory=list)

    async def deliver(self, notification: Notification, record: Record, memo: Memo) -> None:
        self.given.append(notification)
        memo.set("last", notification.channel)
        ids = tuple(row.id for row in notification.rows)
        record(Delivered(ids, notification.channel, f"{len(self.given)}.0"))


def channels(receiver: Recorder) -> list[str]:
    return [notification.channel for notification in receiver.given]


@pytest.mark.parametrize(
    ("channel", "receiver"),
    [
        ("#ops", "slack"),
        ("C0123ABCD", "slack"),
        ("webhook:ops", "webhook"),
        ("pager:ops", "slack"),  # no such receiver: the first one
        ("#a:b", "slack"),
    ],
)
def test_a_channel_names_its_receiver_by_kind(store: Store, channel: str, receiver: str) -> None:
    dispatcher = Dispatcher(store, Recorder("slack"), claimer="t", receivers=[Recorder("webhook")])
    assert dispatcher.receiver(channel).kind == receiver


async def test_rows_go_to_their_receivers_and_each_memo_is_its_own(store: Store) -> None:
    slack, webhook = Recorder("slack"), Recorder("webhook")
    store.apply_cycle(
        CycleChanges(
            outbox=[
                entry("f-1", channel="#ops"),
                entry("f-2", channel="webhook:ops"),
                entry("f-3", DecisionKind.RESOLVED, channel="webhook:ops", notify=True),
            ]
        )
    )
    dispatcher = Dispatcher(store, slack, claimer="t", clock=lambda: T0, receivers=[webhook])

    report = await dispatcher.flush()

    assert (report.sent, report.failed) == (3, 0)
    assert channels(slack) == ["#ops"]
    assert channels(webhook) == ["webhook:ops", "webhook:ops"]
    assert store.get_meta("slack.last") == "#ops"
    assert store.get_meta("webhook.last") == "webhook:ops"
    assert store.pending_outbox(now=T0) == []


def test_two_receivers_of_one_kind_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="two receivers of kind 'slack'"):
        Dispatcher(store, Recorder("slack"), claimer="t", receivers=[Recorder("slack")])
