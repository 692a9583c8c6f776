"""Action claims in the store: two clicks (two people, a double click, two replicas) start one action.

`claim_action(key, ttl, now)` is True for exactly one claimer of a key until the claim expires or is
released; every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from monitor.store import Store
from tests.support.stores import T0, Backend, backend, store

__all__ = ["backend", "store"]

TTL = timedelta(minutes=10)


def test_the_first_claim_wins_and_the_second_is_refused(store: Store) -> None:
    assert store.claim_action("alert-1/record-1", TTL, T0) is True
    assert store.claim_action("alert-1/record-1", TTL, T0) is False
    assert store.claim_action("alert-1/record-1", TTL, T0 + TTL - timedelta(microseconds=1)) is False


def test_claims_of_different_keys_do_not_meet(store: Store) -> None:
    assert store.claim_action("alert-1/record-1", TTL, T0) is True
    assert store.claim_action("alert-1/record-2", TTL, T0) is True
    assert store.claim_action("alert-2/record-1", TTL, T0) is True


def test_an_expired_claim_is_taken_over_and_holds_again(store: Store) -> None:
    store.claim_action("k", TTL, T0)
    assert store.claim_action("k", TTL, T0 + TTL) is True
    assert store.claim_action("k", TTL, T0 + TTL + timedelta(minutes=1)) is False


def test_a_released_claim_can_be_claimed_again(store: Store) -> None:
    store.claim_action("k", TTL, T0)
    store.release_action("k")
    store.release_action("never-claimed")
    assert store.claim_action("k", TTL, T0) is True


def test_pruning_forgets_only_expired_claims(store: Store) -> None:
    store.claim_action("old", timedelta(minutes=1), T0)
    store.claim_action("live", TTL, T0)
    assert store.prune_action_claims(now=T0 + timedelta(minutes=1)) == 1
    assert store.claim_action("live", TTL, T0 + timedelta(minutes=1)) is False


def test_a_claim_needs_a_positive_ttl(store: Store) -> None:
    with pytest.raises(ValueError, match="positive ttl"):
        store.claim_action("k", timedelta(0), T0)


def test_a_claim_made_through_one_store_holds_for_another_on_the_same_state(
    store: Store, backend: Backend
) -> None:
    """Two replicas share the state: the second sees the first's claim."""
    other = backend.open()
    try:
        assert other.claim_action("k", TTL, T0) is True
        assert store.claim_action("k", TTL, T0) is False
    finally:
        other.close()


def test_many_claimers_at_once_start_one_action(store: Store, backend: Backend) -> None:
    """Eight stores (eight connections, as replicas would hold) claim the same key at the same moment."""
    stores = [backend.open() for _ in range(8)]
    start = threading.Barrier(len(stores))
    results: list[bool] = []
    lock = threading.Lock()

    def claim(claimer: Store) -> None:
        start.wait()
        won = claimer.claim_action("alert-1/record-1", TTL, T0)
        with lock:
            results.append(won)

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for s in stores:
            s.close()
    assert sorted(results) == [False] * 7 + [True]
