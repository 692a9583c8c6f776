"""The SQLite store, against real files in tmp_path: creating and migrating the file, refusing what it must
not touch, one transaction per cycle, outbox claims, acks, silences and meta."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from monitor.decide import AlertState, AlertStatus, DecisionKind
from monitor.rules import compile_match
from monitor.silences import Silence
from monitor.store import (
    CorruptStateError,
    CycleChanges,
    MessageRef,
    NewerSchemaError,
    OutboxEntry,
    OutboxState,
    PermanentStoreError,
    SQLiteStore,
    StoreLockedError,
    open_store,
)
from monitor.store import sqlite as backend
from monitor.store.sqlite import SCHEMA_VERSION

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.db"


@pytest.fixture
def store(path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore.open(path) as opened:
        yield opened


def alert(fingerprint: str = "f-1", **changes: Any) -> AlertState:
    state = AlertState(
        fingerprint=fingerprint,
        rule_name="reboots",
        project="p-1",
        task_id=f"task-{fingerprint}",
        task_name="prod-reboot",
        status=AlertStatus.FIRING,
        episode=1,
        last_status="FAIL",
        record_id="r-1",
        next_execution_time="2026-03-02 08:00:00",
        occurrences=1,
        consecutive_failures=1,
        opened_at=T0,
        updated_at=T0,
        notified_at=T0,
        notified_occurrence=1,
        notified_status="FAIL",
        reason="new failure",
    )
    return state._replace(**changes)


def entry(fingerprint: str = "f-1", kind: DecisionKind = DecisionKind.NEW, **changes: Any) -> OutboxEntry:
    values: dict[str, Any] = {
        "fingerprint": fingerprint,
        "episode": 1,
        "kind": kind,
        "channel": "#desktop-ops",
        "payload": {"task_name": "prod-reboot", "text": "<!channel> é"},
        "created_at": T0,
        "group_key": "task_type=REBOOT",
        "update_message": True,
    }
    values.update(changes)
    return OutboxEntry(**values)


# Opening the state file.


def test_a_new_file_is_created_private_and_migrated(store: SQLiteStore, path: Path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.schema_version() == SCHEMA_VERSION


def test_reopening_keeps_the_state(path: Path) -> None:
    with SQLiteStore.open(path) as first:
        first.apply_cycle(CycleChanges(alerts=[alert()], meta={"last_poll": "t0"}))
    with SQLiteStore.open(path) as again:
        assert again.load_open_alerts() == {"f-1": alert()}
        assert again.get_meta("last_poll") == "t0"
        assert again.schema_version() == SCHEMA_VERSION


def test_an_existing_file_keeps_its_permissions(path: Path) -> None:
    path.parent.mkdir()
    path.touch(mode=0o640)
    path.chmod(0o640)
    SQLiteStore.open(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_file_from_a_newer_version_is_refused_and_left_untouched(path: Path) -> None:
    SQLiteStore.open(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = 7")
    db.close()
    before = path.read_bytes()
    with pytest.raises(NewerSchemaError) as caught:
        SQLiteStore.open(path)
    assert str(caught.value) == (
        f"state file {path} has schema version 7, this workspace-monitor knows up to {SCHEMA_VERSION}: "
        "upgrade workspace-monitor (the file was not changed)"
    )
    assert not caught.value.retryable
    assert path.read_bytes() == before


def test_a_file_that_is_not_a_database(path: Path) -> None:
    path.parent.mkdir()
    path.write_bytes(b"this is not a database, just some text that happens to be long enough" * 20)
    with pytest.raises(CorruptStateError, match=f"state file {path} is not a workspace-monitor state file"):
        SQLiteStore.open(path)


def test_another_applications_database(path: Path) -> None:
    path.parent.mkdir()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE invoices (id INTEGER)")
    db.close()
    with pytest.raises(CorruptStateError, match=r"not a workspace-monitor state file .*invoices"):
        SQLiteStore.open(path)


def test_a_file_locked_by_another_process(path: Path) -> None:
    path.parent.mkdir()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreLockedError, match="locked by another process") as caught:
            SQLiteStore.open(path, busy_timeout=timedelta(milliseconds=50))
        assert caught.value.retryable
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_write_while_another_process_writes(store: SQLiteStore, path: Path) -> None:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        busy = SQLiteStore.open(path, busy_timeout=timedelta(milliseconds=50))
        with pytest.raises(StoreLockedError):
            busy.apply_cycle(CycleChanges(alerts=[alert()]))
        busy.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.load_open_alerts() == {}


# Alert state.


def test_alert_state_round_trips(store: SQLiteStore) -> None:
    shanghai = timezone(timedelta(hours=8))
    state = alert(opened_at=T0.astimezone(shanghai), closed_at=None, silenced_by="s-1", record_id=None)
    store.apply_cycle(CycleChanges(alerts=[state]))
    loaded = store.load_alerts(["f-1"])["f-1"]
    assert loaded == state
    assert loaded.opened_at.utcoffset() == timedelta(0), "times come back in UTC, as the same instants"


def test_a_later_cycle_replaces_the_state(store: SQLiteStore) -> None:
    store.apply_cycle(CycleChanges(alerts=[alert()]))
    store.apply_cycle(CycleChanges(alerts=[alert(occurrences=2, updated_at=T0 + timedelta(hours=1))]))
    assert store.load_alerts(["f-1"])["f-1"].occurrences == 2


def test_open_alerts_leave_closed_ones_out(store: SQLiteStore) -> None:
    states = [
        alert("f-firing"),
        alert("f-pending", status=AlertStatus.PENDING),
        alert("f-resolved", status=AlertStatus.RESOLVED, closed_at=T0),
        alert("f-closed", status=AlertStatus.CLOSED, closed_at=T0),
    ]
    store.apply_cycle(CycleChanges(alerts=states))
    assert set(store.load_open_alerts()) == {"f-firing", "f-pending"}
    assert set(store.load_alerts(["f-resolved", "f-unknown"])) == {"f-resolved"}


def test_loading_many_alerts_by_fingerprint(store: SQLiteStore) -> None:
    states = [alert(f"f-{i}") for i in range(1200)]
    store.apply_cycle(CycleChanges(alerts=states))
    assert len(store.load_alerts(state.fingerprint for state in states)) == 1200


def test_a_cycle_is_one_transaction(store: SQLiteStore, path: Path) -> None:
    """A failure while writing the outbox leaves neither the alert states nor the meta behind."""
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TRIGGER fail_outbox BEFORE INSERT ON outbox "
            "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
    db.close()
    with pytest.raises(PermanentStoreError, match="disk on fire"):
        store.apply_cycle(CycleChanges(alerts=[alert()], outbox=[entry()], meta={"last_poll": "t1"}))
    assert store.load_alerts(["f-1"]) == {}
    assert store.get_meta("last_poll") is None
    assert store.pending_outbox(now=T0) == []


# Acknowledgements.


def test_an_ack_covers_the_current_occurrence(store: SQLiteStore) -> None:
    store.apply_cycle(CycleChanges(alerts=[alert()]))
    assert store.acknowledge("f-1", by="U42", at=T0) is True
    assert store.load_open_alerts()["f-1"].acknowledged_by == "U42"


def test_a_cycle_writing_the_state_keeps_the_ack(store: SQLiteStore) -> None:
    store.apply_cycle(CycleChanges(alerts=[alert()]))
    store.acknowledge("f-1", by="U42", at=T0)
    store.apply_cycle(CycleChanges(alerts=[alert(updated_at=T0 + timedelta(minutes=1))]))
    assert store.load_open_alerts()["f-1"].acknowledged_by == "U42"


def test_a_new_occurrence_is_not_acknowledged(store: SQLiteStore) -> None:
    store.apply_cycle(CycleChanges(alerts=[alert()]))
    store.acknowledge("f-1", by="U42", at=T0)
    store.apply_cycle(CycleChanges(alerts=[alert(occurrences=2)]))
    assert store.load_open_alerts()["f-1"].acknowledged_by is None


def test_the_first_ack_stands(store: SQLiteStore) -> None:
    store.apply_cycle(CycleChanges(alerts=[alert()]))
    store.acknowledge("f-1", by="U42", at=T0)
    assert store.acknowledge("f-1", by="U7", at=T0 + timedelta(minutes=1)) is True
    assert store.load_open_alerts()["f-1"].acknowledged_by == "U42"


def test_only_open_alerts_can_be_acknowledged(store: SQLiteStore) -> None:
    store.apply_cycle(CycleChanges(alerts=[alert(status=AlertStatus.RESOLVED, closed_at=T0)]))
    assert store.acknowledge("f-1", by="U42", at=T0) is False
    assert store.acknowledge("f-unknown", by="U42", at=T0) is False


# Outbox.


def test_pending_rows_come_oldest_first(store: SQLiteStore) -> None:
    store.apply_cycle(CycleChanges(outbox=[entry("f-1"), entry("f-2"), entry("f-3")]))
    rows = store.pending_outbox(now=T0)
    assert [row.entry.fingerprint for row in rows] == ["f-1", "f-2", "f-3"]
    assert rows[0].entry == entry("f-1")
    assert (rows[0].state, rows[0].attempts, rows[0].next_attempt_at) == (OutboxState.PENDING, 0, T0)


def test_pending_respects_the_limit(store: SQLiteStore) -> None:
    store.apply_cycle(CycleChanges(outbox=[entry(f"f-{i}") for i in range(5)]))
    assert len(store.pending_outbox(now=T0, limit=2)) == 2


def test_a_row_is_claimed_once(store: SQLiteStore) -> None:
    store.apply_cycle(CycleChanges(outbox=[entry()]))
    (row,) = store.pending_outbox(now=T0)
    assert store.claim_outbox(row.id, claimer="sender-a", now=T0) is True
    assert store.claim_outbox(row.id, claimer="sender-b", now=T0) is False
    assert store.pending_outbox(now=T0) == []


def test_two_senders_on_one_file_never_take_the_same_row(store: SQLiteStore, path: Path) -> None:
    store.apply_cycle(CycleChanges(outbox=[entry()]))
    (row,) = store.pending_outbox(now=T0)
    with SQLiteStore.open(path) as other:
        assert other.claim_outbox(row.id, claimer="sender-b", now=T0) is True
        assert store.claim_outbox(row.id, claimer="sender-a", now=T0) is False


def test_a_claim_whose_sender_vanished_returns_after_the_lease(path: Path) -> None:
    with SQLiteStore.open(path, claim_lease=timedelta(minutes=5)) as store:
        store.apply_cycle(CycleChanges(outbox=[entry()]))
        (row,) = store.pending_outbox(now=T0)
        store.claim_outbox(row.id, claimer="crashed", now=T0)
        assert store.pending_outbox(now=T0 + timedelta(minutes=4)) == []
        (again,) = store.pending_outbox(now=T0 + timedelta(minutes=5))
        assert (again.state, again.claimed_by, again.attempts) == (OutboxState.CLAIMED, "crashed", 1)
        assert store.claim_outbox(row.id, claimer="sender-b", now=T0 + timedelta(minutes=5)) is True


def test_sent_rows_leave_the_outbox_and_record_the_message(store: SQLiteStore) -> None:
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


def test_a_newer_message_ref_replaces_the_old_one(store: SQLiteStore) -> None:
    store.mark_sent([], channel="C1", ts="1.0", now=T0, message_refs=[MessageRef("f-1", 1, "C1", "1.0")])
    store.mark_sent([], channel="C1", ts="2.0", now=T0, message_refs=[MessageRef("f-1", 2, "C1", "2.0")])
    assert store.message_ref("f-1") == MessageRef("f-1", 2, "C1", "2.0")


def test_a_retryable_failure_comes_back_when_due(store: SQLiteStore) -> None:
    store.apply_cycle(CycleChanges(outbox=[entry()]))
    (row,) = store.pending_outbox(now=T0)
    store.claim_outbox(row.id, claimer="s", now=T0)
    store.mark_failed(row.id, error="rate limited", now=T0, retry_at=T0 + timedelta(seconds=30))
    assert store.pending_outbox(now=T0 + timedelta(seconds=29)) == []
    (again,) = store.pending_outbox(now=T0 + timedelta(seconds=30))
    assert (again.attempts, again.last_error, again.claimed_by) == (1, "rate limited", None)


def test_a_permanent_failure_never_comes_back(store: SQLiteStore) -> None:
    store.apply_cycle(CycleChanges(outbox=[entry()]))
    (row,) = store.pending_outbox(now=T0)
    store.claim_outbox(row.id, claimer="s", now=T0)
    store.mark_failed(row.id, error="channel_not_found", now=T0, retry_at=None)
    assert store.pending_outbox(now=T0 + timedelta(days=30)) == []


def test_an_alerts_messages_keep_their_order(store: SQLiteStore) -> None:
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


# Runtime silences and meta.


def silence(silence_id: str = "s-1") -> Silence:
    return Silence(
        id=silence_id,
        matcher=compile_match({"id": "t-1", "task_type": ["REBOOT", "STOP"]}, where="test"),
        until=T0 + timedelta(hours=2),
        comment="maintenance",
        created_by="U42",
        created_at=T0,
        rules=frozenset({"reboots"}),
    )


def test_silences_round_trip(store: SQLiteStore) -> None:
    store.add_silence(silence("s-1"))
    store.add_silence(silence("s-2"))
    assert store.silences() == [silence("s-1"), silence("s-2")]


def test_deleting_a_silence(store: SQLiteStore) -> None:
    store.add_silence(silence())
    assert store.delete_silence("s-1") is True
    assert store.delete_silence("s-1") is False
    assert store.silences() == []


def test_a_silence_id_is_unique(store: SQLiteStore) -> None:
    store.add_silence(silence())
    with pytest.raises(PermanentStoreError, match="constraint"):
        store.add_silence(silence())


def test_meta(store: SQLiteStore) -> None:
    assert store.get_meta("last_poll") is None
    store.set_meta("last_poll", "2026-03-01T08:00:00Z")
    store.set_meta("last_poll", "2026-03-01T08:01:00Z")
    assert store.get_meta("last_poll") == "2026-03-01T08:01:00Z"


# Choosing the backend from the state url.


def test_open_store_with_a_sqlite_url(tmp_path: Path) -> None:
    opened = open_store(f"sqlite://{tmp_path}/state.db")
    assert isinstance(opened, SQLiteStore)
    assert opened.path == tmp_path / "state.db"
    opened.close()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://localhost/monitor", "PostgreSQL store is not available yet"),
        ("sqlite://", "names no file"),
        ("/var/lib/state.db", "expected sqlite:///path/to/state.db"),
    ],
)
def test_open_store_refuses(url: str, problem: str) -> None:
    with pytest.raises(PermanentStoreError, match=problem):
        open_store(url)


def test_missing_migrations_are_applied_on_open(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with SQLiteStore.open(path) as first:
        first.apply_cycle(CycleChanges(alerts=[alert()]))
    step = ("CREATE TABLE digests (id INTEGER PRIMARY KEY)", "ALTER TABLE alerts ADD COLUMN note TEXT")
    monkeypatch.setattr(backend, "MIGRATIONS", (*backend.MIGRATIONS, step))
    monkeypatch.setattr(backend, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with SQLiteStore.open(path) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION + 1
        assert upgraded.load_open_alerts() == {"f-1": alert()}
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM digests").fetchone() == (0,)
    db.close()
