"""The SQLite store's own behaviour, against real files in tmp_path: the file's mode, refusing what it must
not touch, two processes on one file, and choosing the backend from the state url. What every backend does
is in test_store.py."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from monitor.store import (
    CorruptStateError,
    CycleChanges,
    NewerSchemaError,
    PermanentStoreError,
    SQLiteStore,
    StoreLockedError,
    open_store,
)
from monitor.store.sqlite import PAGE_SIZE, SCHEMA_VERSION
from tests.support.stores import alert


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.db"


@pytest.fixture
def store(path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore.open(path) as opened:
        yield opened


def test_a_new_file_is_created_private_and_migrated(store: SQLiteStore, path: Path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.schema_version() == SCHEMA_VERSION


def test_a_new_file_has_the_larger_page_size(store: SQLiteStore, path: Path) -> None:
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA page_size").fetchone() == (PAGE_SIZE,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()


def test_a_state_file_with_another_page_size_keeps_it_and_its_alerts(path: Path) -> None:
    """A file made before the page size changed (SQLite's 4 KiB) is used as it is: changing it would mean
    rewriting the whole file."""
    with SQLiteStore.open(path) as old:
        old.apply_cycle(CycleChanges(alerts=[alert()]))
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode = DELETE")
        db.execute("PRAGMA page_size = 4096")
        db.execute("VACUUM")
        assert db.execute("PRAGMA page_size").fetchone() == (4096,)
    db.close()
    with SQLiteStore.open(path) as reopened:
        assert set(reopened.load_alerts([alert().fingerprint])) == {alert().fingerprint}
        reopened.apply_cycle(CycleChanges(alerts=[alert(fingerprint="f-2")]))
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA page_size").fetchone() == (4096,)
    db.close()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o666])
def test_an_existing_file_readable_by_others_is_made_private(path: Path, mode: int) -> None:
    """With its WAL and SHM (which SQLite made with the file's mode), and said in the log."""
    SQLiteStore.open(path).close()
    companions = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
    for file in [path, *companions]:
        file.touch()
        file.chmod(mode)
    with capture_logs() as logs:
        SQLiteStore.open(path).close()
    assert {
        file.name: stat.S_IMODE(file.stat().st_mode) for file in [path, *companions] if file.exists()
    } == {file.name: 0o600 for file in [path, *companions] if file.exists()}
    tightened = [log for log in logs if log["event"] == "state.permissions_tightened"]
    assert [log["file"] for log in tightened] == [str(file) for file in [path, *companions]]
    assert {log["was"] for log in tightened} == {f"{mode:04o}"}


def test_an_existing_private_file_keeps_its_mode_silently(path: Path) -> None:
    SQLiteStore.open(path).close()
    with capture_logs() as logs:
        SQLiteStore.open(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [log for log in logs if log["event"] == "state.permissions_tightened"]


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


def test_open_store_with_a_sqlite_url(tmp_path: Path) -> None:
    opened = open_store(f"sqlite://{tmp_path}/state.db")
    assert isinstance(opened, SQLiteStore)
    assert opened.path == tmp_path / "state.db"
    opened.close()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("sqlite://", "names no file"),
        ("/var/lib/state.db", "expected sqlite:///path/to/state.db"),
    ],
)
def test_open_store_refuses(url: str, problem: str) -> None:
    with pytest.raises(PermanentStoreError, match=problem):
        open_store(url)
