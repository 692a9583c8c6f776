"""What every store backend does, run against each (`stores.backend`): SQLite files in tmp_path and, marked
`postgres`, a fresh PostgreSQL schema. Reopening and migrating, one transaction per cycle, outbox claims,
acks, silences and meta."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from monitor.decide import AlertStatus, DecisionKind
from monitor.store import (
    CycleChanges,
    MessageRef,
    OutboxState,
    PermanentStoreError,
    Store,
)
from tests.support.stores import T0, Backend, alert, backend, entry, silence, store

__all__ = ["backend", "store"]  # the fixtures, used by name

# Opening the state file.


def test_reopening_keeps_the_state(backend: Backend) -> None:
    first = backend.open()
    first.apply_cycle(CycleChanges(alerts=[alert()], meta={"last_poll": "t0"}))
    first.close()
    again = backend.open()
    try:
        assert again.load_open_alerts() == {"f-1": alert()}
        assert again.get_meta("last_poll") == "t0"
        assert again.schema_version() == len(backend.store_class.MIGRATIONS)
    finally:
        again.close()


# Alert state.


def test_alert_state_round_trips(store: Store) -> None:
    shanghai = timezone(timedelta(hours=8))
    state = alert(opened_at=T0.astimezone(shanghai), closed_at=None, silenced_by="s-1", record_id=None)
    store.apply_cycle(CycleChanges(alerts=[state]))
    loaded = store.load_alerts(["f-1"])["f-1"]
    assert loaded == state
    assert loaded.opened_at.utcoffset() == timedelta(0), "times come back in UTC, as the same instants"


def test_a_later_cycle_replaces_the_state(store: Store) -> None:
    store.apply_cycle(CycleChanges(alerts=[alert()]))
    store.apply_cycle(CycleChanges(alerts=[alert(occurrences=2, updated_at=T0 + timedelta(hours=1))]))
    assert store.load_alerts(["f-1"])["f-1"].occurrences == 2


def test_open_alerts_leave_closed_ones_out(store: Store) -> None:
    states = [
        alert("f-firing"),
        alert("f-pending", status=AlertStatus.PENDING),
        alert("f-resolved", status=AlertStatus.RESOLVED, closed_at=T0),
        alert("f-closed", status=AlertStatus.CLOSED, closed_at=T0),
    ]
    store.apply_cycle(CycleChanges(alerts=states))
    assert set(store.load_open_alerts()) == {"f-firing", "f-pending"}
    assert set(store.load_alerts(["f-resolved", "f-unknown"])) == {"f-resolved"}


def test_loading_many_alerts_by_fingerprint(store: Store) -> None:
    states = [alert(f"f-{i}") for i in range(1200)]
    store.apply_cycle(CycleChanges(alerts=states))
    assert len(store.load_alerts(state.fingerprint for state in states)) == 1200


def test_a_cycle_is_one_transaction(store: Store, backend: Backend) -> None:
    """A failure while writing the outbox leaves neither the alert states nor the meta behind."""
    backend.fail_outbox_inserts("disk on fire")
    with pytest.raises(PermanentStoreError, match="disk on fire"):
        store.apply_cycle(CycleChanges(alerts=[alert()], outbox=[entry()], meta={"last_poll": "t1"}))
    assert store.load_alerts(["f-1"]) == {}
    assert store.get_meta("last_poll") is None
    assert store.pending_outbox(now=T0) == []


# Acknowledgements.


def test_an_ack_covers_the_current_occurrence(store: Store) -> None:
    store.apply_cycle(CycleChanges(alerts=[alert()]))
    assert store.acknowledge("f-1", by="U42", at=T0) is True
    assert store.load_open_alerts()["f-1"].acknowledged_by == "U42"


def test_a_cycle_writing_the_state_keeps_the_ack(store: Store) -> None:
    store.apply_cycle(CycleChanges(alerts=[alert()]))
    store.acknowledge("f-1", by="U42", at=T0)
    store.apply_cycle(CycleChanges(alerts=[alert(updated_at=T0 + timedelta(minutes=1))]))
    assert store.load_open_alerts()["f-1"].acknowledged_by == "U42"


def test_a_new_occurrence_is_not_acknowledged(store: Store) -> None:
    store.apply_cycle(CycleChanges(alerts=[alert()]))
    store.acknowledge("f-1", by="U42", at=T0)
    store.apply_cycle(CycleChanges(alerts=[alert(occurrences=2)]))
    assert store.load_open_alerts()["f-1"].acknowledged_by is None


def test_the_first_ack_stands(store: Store) -> None:
    store.apply_cycle(CycleChanges(alerts=[alert()]))
    store.acknowledge("f-1", by="U42", at=T0)
    assert store.acknowledge("f-1", by="U7", at=T0 + timedelta(minutes=1)) is True
    assert store.load_open_alerts()["f-1"].acknowledged_by == "U42"


def test_only_open_alerts_can_be_acknowledged(store: Store) -> None:
    store.apply_cycle(CycleChanges(alerts=[alert(status=AlertStatus.RESOLVED, closed_at=T0)]))
    assert store.acknowledge("f-1", by="U42", at=T0) is False
    assert store.acknowledge("f-unknown", by="U42", at=T0) is False


# Outbox.


def test_pending_rows_come_oldest_first(store: Store) -> None:
    store.apply_cycle(CycleChanges(outbox=[entry("f-1"), entry("f-2"), entry("f-3")]))
    rows = store.pending_outbox(now=T0)
    assert [row.entry.fingerprint for row in rows] == ["f-1", "f-2", "f-3"]
    assert rows[0].entry == entry("f-1")
    assert (rows[0].state, rows[0].attempts, rows[0].next_attempt_at) == (OutboxState.PENDING, 0, T0)


def test_pending_respects_the_limit(store: Store) -> None:
    store.apply_cycle(CycleChanges(outbox=[entry(f"f-{i}") for i in range(5)]))
    assert len(store.pending_outbox(now=T0, limit=2)) == 2


def test_a_row_is_claimed_once(store: Store) -> None:
    store.apply_cycle(CycleChanges(outbox=[entry()]))
    (row,) = store.pending_outbox(now=T0)
    assert store.claim_outbox(row.id, claimer="sender-a", now=T0) is True
    assert store.claim_outbox(row.id, claimer="sender-b", now=T0) is False
    assert store.pending_outbox(now=T0) == []


def test_two_senders_on_one_state_never_take_the_same_row(store: Store, backend: Backend) -> None:
    store.apply_cycle(CycleChanges(outbox=[entry()]))
    (row,) = store.pending_outbox(now=T0)
    other = backend.open()
    try:
        assert other.claim_outbox(row.id, claimer="sender-b", now=T0) is True
        assert store.claim_outbox(row.id, claimer="sender-a", now=T0) is False
    finally:
        other.close()


def test_a_claim_whose_sender_vanished_returns_after_the_lease(backend: Backend) -> None:
    store = backend.open(claim_lease=timedelta(minutes=5))
    try:
        store.apply_cycle(CycleChanges(outbox=[entry()]))
        (row,) = store.pending_outbox(now=T0)
        store.claim_outbox(row.id, claimer="crashed", now=T0)
        assert store.pending_outbox(now=T0 + timedelta(minutes=4)) == []
        (again,) = store.pending_outbox(now=T0 + timedelta(minutes=5))
        assert (again.state, again.claimed_by, again.attempts) == (OutboxState.CLAIMED, "crashed", 1)
        assert store.claim_outbox(row.id, claimer="sender-b", now=T0 + timedelta(minutes=5)) is True
    finally:
        store.close()


def test_sent_rows_leave_the_outbox_and_record_the_message(store: Store) -> None:
    store.apply_cycle(CycleChanges(outbox=[entry("f-1"), entry("f-2")]))
    ids = [row.id for row in store.pending_outbox(now=T0)]
    for row_id in ids:
        store.claim_outbox(row_id, claimer="s", now=T0)
    refs = [
        MessageRef("f-1", 1, "C0123", "1700000000.000100"),
        MessageRef("f-2", 1, "C0123", "1700000000.000100"),
    ]
    store.mark_sent(ids, channel="C0123", ts="1700000000.000100", now=T0, message_refs=refs)
    assert store.pending_outbox(now=T0 + timedelta(days=1)) == []
    assert store.message_ref("f-2") == refs[1]
    assert store.message_ref("f-unknown") is None


def test_a_newer_message_ref_replaces_the_old_one(store: Store) -> None:
    store.mark_sent([], channel="C1", ts="1.0", now=T0, message_refs=[MessageRef("f-1", 1, "C1", "1.0")])
    store.mark_sent([], channel="C1", ts="2.0", now=T0, message_refs=[MessageRef("f-1", 2, "C1", "2.0")])
    assert store.message_ref("f-1") == MessageRef("f-1", 2, "C1", "2.0")


def test_a_retryable_failure_comes_back_when_due(store: Store) -> None:
    store.apply_cycle(CycleChanges(outbox=[entry()]))
    (row,) = store.pending_outbox(now=T0)
    store.claim_outbox(row.id, claimer="s", now=T0)
    store.mark_failed(row.id, error="rate limited", now=T0, retry_at=T0 + timedelta(seconds=30))
    assert store.pending_outbox(now=T0 + timedelta(seconds=29)) == []
    (again,) = store.pending_outbox(now=T0 + timedelta(seconds=30))
    assert (again.attempts, again.last_error, again.claimed_by) == (1, "rate limited", None)


def test_a_permanent_failure_never_comes_back(store: Store) -> None:
    store.apply_cycle(CycleChanges(outbox=[entry()]))
    (row,) = store.pending_outbox(now=T0)
    store.claim_outbox(row.id, claimer="s", now=T0)
    store.mark_failed(row.id, error="channel_not_found", now=T0, retry_at=None)
    assert store.pending_outbox(now=T0 + timedelta(days=30)) == []


def test_an_alerts_messages_keep_their_order(store: Store) -> None:
    """A reminder waits while the NEW message of the same alert is unsent; other alerts go on."""
    store.apply_cycle(CycleChanges(outbox=[entry("f-1"), entry("f-2"), entry("f-1", DecisionKind.REPEAT)]))
    first, other = store.pending_outbox(now=T0)
    assert [first.entry.fingerprint, other.entry.fingerprint] == ["f-1", "f-2"]
    store.claim_outbox(first.id, claimer="s", now=T0)
    store.mark_failed(first.id, error="timeout", now=T0, retry_at=T0 + timedelta(minutes=1))
    assert [row.entry.fingerprint for row in store.pending_outbox(now=T0)] == ["f-2"]
    store.claim_outbox(first.id, claimer="s", now=T0 + timedelta(minutes=1))
    store.mark_sent([first.id], channel="C1", ts="1.0", now=T0 + timedelta(minutes=1))
    kinds = [row.entry.kind for row in store.pending_outbox(now=T0 + timedelta(minutes=1))]
    assert kinds == [DecisionKind.NEW, DecisionKind.REPEAT], "f-2's NEW, then f-1's REPEAT"


def test_one_receivers_rows_of_an_alert_do_not_wait_for_anothers(store: Store) -> None:
    """The order holds per receiver: a page (`pagerduty:`) does not wait while Slack retries the alert's
    message, nor Slack's reminder while PagerDuty retries; a receiver's own rows keep their order."""
    pager = "pagerduty:oncall"
    store.apply_cycle(
        CycleChanges(
            outbox=[
                entry("f-1"),
                entry("f-1", channel=pager),
                entry("f-1", DecisionKind.ACKNOWLEDGED, channel=pager),
                entry("f-1", DecisionKind.REPEAT, channel="#elsewhere"),
            ]
        )
    )
    slack, page = store.pending_outbox(now=T0)
    assert (slack.entry.channel, page.entry.channel) == ("#desktop-ops", pager)
    for row in (slack, page):
        store.claim_outbox(row.id, claimer="s", now=T0)
        store.mark_failed(row.id, error="HTTP 503", now=T0, retry_at=T0 + timedelta(minutes=1))
    assert store.pending_outbox(now=T0) == [], "each receiver's later rows wait for its retrying one"
    store.claim_outbox(page.id, claimer="s", now=T0 + timedelta(minutes=1))
    store.mark_sent([page.id], channel=pager, ts="trigger", now=T0 + timedelta(minutes=1))
    later = store.pending_outbox(now=T0 + timedelta(seconds=30))
    assert [row.entry.kind for row in later] == [DecisionKind.ACKNOWLEDGED], "Slack still retrying"


def test_pruning_deletes_rows_sent_or_failed_before_the_cutoff(store: Store) -> None:
    """Retention counts from when a row was sent (a row queued long before an outage and sent just now is
    kept); a row that failed for good counts from its creation."""
    store.apply_cycle(CycleChanges(outbox=[entry("f-1"), entry("f-2"), entry("f-3"), entry("f-4")]))
    one, two, three, four = (row.id for row in store.pending_outbox(now=T0))
    for row_id in (one, two, three):
        store.claim_outbox(row_id, claimer="s", now=T0)
    store.mark_sent([one], channel="C1", ts="1.0", now=T0 + timedelta(hours=1))
    store.mark_sent([two], channel="C1", ts="2.0", now=T0 + timedelta(days=6))
    store.mark_failed(three, error="channel_not_found", now=T0, retry_at=None)
    assert store.prune_outbox(before=T0 + timedelta(days=5)) == 2, "f-1 (sent) and f-3 (failed)"
    assert store.prune_outbox(before=T0 + timedelta(days=5)) == 0
    assert store.prune_outbox(before=T0 + timedelta(days=7)) == 1, "f-2, sent later"
    assert [row.id for row in store.pending_outbox(now=T0 + timedelta(days=30))] == [four]


def test_pruning_never_deletes_unsent_rows(store: Store) -> None:
    store.apply_cycle(CycleChanges(outbox=[entry("f-1"), entry("f-2")]))
    claimed, waiting = store.pending_outbox(now=T0)
    store.claim_outbox(claimed.id, claimer="s", now=T0)
    assert store.prune_outbox(before=T0 + timedelta(days=365)) == 0
    later = T0 + timedelta(days=365)
    assert {row.id for row in store.pending_outbox(now=later)} == {claimed.id, waiting.id}, "lease ran out"


# Runtime silences and meta.


def test_silences_round_trip(store: Store) -> None:
    store.add_silence(silence("s-1"))
    store.add_silence(silence("s-2"))
    assert store.silences() == [silence("s-1"), silence("s-2")]


def test_deleting_a_silence(store: Store) -> None:
    store.add_silence(silence())
    assert store.delete_silence("s-1") is True
    assert store.delete_silence("s-1") is False
    assert store.silences() == []


def test_a_silence_id_is_unique(store: Store) -> None:
    store.add_silence(silence())
    with pytest.raises(PermanentStoreError, match="constraint"):
        store.add_silence(silence())


def test_meta(store: Store) -> None:
    assert store.get_meta("last_poll") is None
    store.set_meta("last_poll", "2026-03-01T08:00:00Z")
    store.set_meta("last_poll", "2026-03-01T08:01:00Z")
    assert store.get_meta("last_poll") == "2026-03-01T08:01:00Z"


# Migrations.


def test_missing_migrations_are_applied_on_open(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    first = backend.open()
    first.apply_cycle(CycleChanges(alerts=[alert()]))
    first.close()
    version = len(backend.store_class.MIGRATIONS)
    step = ("CREATE TABLE digests (id INTEGER PRIMARY KEY)", "ALTER TABLE alerts ADD COLUMN note TEXT")
    monkeypatch.setattr(backend.store_class, "MIGRATIONS", (*backend.store_class.MIGRATIONS, step))
    upgraded = backend.open()
    try:
        assert upgraded.schema_version() == version + 1
        assert upgraded.load_open_alerts() == {"f-1": alert()}
    finally:
        upgraded.close()
    backend.execute("INSERT INTO digests (id) VALUES (1)")


def test_silences_and_acks_made_on_one_replica_are_seen_by_another(store: Store, backend: Backend) -> None:
    """Runtime silences and acks live in the shared state, not in a process: `/tasks silence` answered by a
    follower mutes what the leader sends."""
    store.apply_cycle(CycleChanges(alerts=[alert()]))
    other = backend.open()
    try:
        other.add_silence(silence())
        other.acknowledge("f-1", by="U42", at=T0)
        assert store.silences() == [silence()]
        assert store.load_open_alerts()["f-1"].acknowledged_by == "U42"
    finally:
        other.close()
