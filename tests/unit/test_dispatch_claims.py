"""A flush that fails between claiming rows and sending them (the database gone as a claim commits, or just
after) gives those claims back at the next flush: the rows go out then, not after the claim lease (5 minutes
by default), and a claim another sender holds is never touched."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.notify.dispatch import Dispatcher
from monitor.store.base import CycleChanges, Store
from monitor.store.errors import RetryableStoreError
from tests.support.stores import T0, backend, entry, store
from tests.unit.test_dispatch_receivers import Recorder

__all__ = ["backend", "store"]  # the fixtures, used by name


class ClaimFailsOnce:
    """The store, whose next claim fails with the connection lost: after the claim committed (`committed`)
    or before it reached the database."""

    def __init__(self, store: Store, *, committed: bool) -> None:
        self._store = store
        self._committed = committed
        self.failing = True

    def claim_outbox(self, row_id: int, *, claimer: str, now: Any) -> bool:
        if self.failing:
            self.failing = False
            if self._committed:
                self._store.claim_outbox(row_id, claimer=claimer, now=now)
            raise RetryableStoreError("server closed the connection unexpectedly")
        return self._store.claim_outbox(row_id, claimer=claimer, now=now)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def a_failed_flush(store: Store, *, committed: bool) -> tuple[Dispatcher, Recorder]:
    """One row in the outbox, and replica-a's flush of it failed at the claim (`ClaimFailsOnce`)."""
    store.apply_cycle(CycleChanges(outbox=[entry("f-1", channel="#ops")]))
    slack = Recorder("slack")
    flaky = ClaimFailsOnce(store, committed=committed)
    dispatcher = Dispatcher(flaky, slack, claimer="replica-a", clock=lambda: T0)  # type: ignore[arg-type]
    with pytest.raises(RetryableStoreError):
        await dispatcher.flush()
    return dispatcher, slack


@pytest.mark.parametrize("committed", [True, False], ids=["claim-committed", "claim-lost"])
async def test_a_claim_whose_flush_failed_is_given_back_and_sent_at_the_next_flush(
    store: Store, committed: bool
) -> None:
    dispatcher, slack = await a_failed_flush(store, committed=committed)
    assert slack.given == []
    report = await dispatcher.flush()

    assert report.sent == 1
    [notification] = slack.given
    assert notification.uncertain == frozenset(), "never sent: no need to look in the channel first"
    assert store.pending_outbox(now=T0) == []


async def test_a_claim_another_sender_took_meanwhile_is_left_to_it(store: Store) -> None:
    dispatcher, slack = await a_failed_flush(store, committed=False)
    [row] = store.pending_outbox(now=T0)
    assert store.claim_outbox(row.id, claimer="replica-b", now=T0)

    report = await dispatcher.flush()

    assert (report.sent, slack.given) == (0, [])
    assert not store.release_claim(row.id, claimer="replica-a", now=T0)
    assert store.pending_outbox(now=T0) == [], "still replica-b's"
