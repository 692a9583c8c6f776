"""The embedded store: one SQLite file (stdlib sqlite3), the default for a single daemon.

Opening a state file: it is created with mode 0600 (and missing directories 0700, whatever the umask) before
SQLite touches it (alert history names tasks and people); an existing one readable by others is made 0600,
logged as `state.permissions_tightened`. Its schema version is read, a file from a newer workspace-monitor is
refused without being changed, and missing migrations are applied, each in its own transaction. Then WAL
(readers never wait for the cycle's writer) and a busy timeout (two processes on one file wait for each
other instead of failing at once).

Every call is one transaction, serialised by a lock because the daemon shares one connection between the
poller, the dispatcher and the Slack handlers. sqlite3 errors become `monitor.store.errors`.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from monitor.decide import AlertState
from monitor.rules import RuleFileError
from monitor.silences import Silence
from monitor.store import sql
from monitor.store.base import CycleChanges, MessageRef, OutboxRow
from monitor.store.errors import (
    CorruptStateError,
    NewerSchemaError,
    PermanentStoreError,
    RetryableStoreError,
    StoreError,
    StoreLockedError,
)

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "DEFAULT_CLAIM_LEASE",
    "MIGRATIONS",
    "PAGE_SIZE",
    "SQLiteStore",
    "make_private_dirs",
]

log = structlog.get_logger(__name__)

DEFAULT_BUSY_TIMEOUT = timedelta(seconds=5)
DEFAULT_CLAIM_LEASE = timedelta(minutes=5)
#: The page size of a new state file, in bytes.
PAGE_SIZE = 8192
# SQLite caps the number of parameters of one statement; stay well below every version's cap.
_CHUNK = 500
_UPSERT_ALERT, _ = sql.positional(sql.UPSERT_ALERT)
_INSERT_OUTBOX, _ = sql.positional(sql.INSERT_OUTBOX)

#: Schema migrations: step N (1-based) brings a version N-1 file to version N. Append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE alerts (
            fingerprint TEXT PRIMARY KEY,
            rule_name TEXT NOT NULL,
            project TEXT NOT NULL,
            task_id TEXT NOT NULL,
            task_name TEXT,
            status TEXT NOT NULL,
            episode INTEGER NOT NULL,
            last_status TEXT NOT NULL,
            record_id TEXT,
            next_execution_time TEXT,
            occurrences INTEGER NOT NULL,
            consecutive_failures INTEGER NOT NULL,
            opened_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            notified_at TEXT,
            notified_occurrence INTEGER NOT NULL,
            notified_status TEXT,
            silenced_by TEXT,
            closed_at TEXT,
            reason TEXT NOT NULL
        )
        """,
        "CREATE INDEX alerts_by_status ON alerts (status)",
        """
        CREATE TABLE acks (
            fingerprint TEXT NOT NULL,
            episode INTEGER NOT NULL,
            occurrence INTEGER NOT NULL,
            acknowledged_by TEXT NOT NULL,
            acknowledged_at TEXT NOT NULL,
            PRIMARY KEY (fingerprint, episode, occurrence)
        )
        """,
        # AUTOINCREMENT: ids are never reused, so "oldest first" holds after deletes (PostgreSQL: IDENTITY).
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            fingerprint TEXT NOT NULL,
            episode INTEGER NOT NULL,
            kind TEXT NOT NULL,
            channel TEXT NOT NULL,
            group_key TEXT NOT NULL,
            notify INTEGER NOT NULL,
            update_message INTEGER NOT NULL,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt_at TEXT NOT NULL,
            claimed_by TEXT,
            claimed_at TEXT,
            sent_channel TEXT,
            sent_ts TEXT,
            sent_at TEXT,
            last_error TEXT
        )
        """,
        "CREATE INDEX outbox_by_state ON outbox (state, next_attempt_at)",
        "CREATE INDEX outbox_by_alert ON outbox (fingerprint, id)",
        """
        CREATE TABLE message_refs (
            fingerprint TEXT PRIMARY KEY,
            episode INTEGER NOT NULL,
            channel TEXT NOT NULL,
            ts TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE silences (
            id TEXT PRIMARY KEY,
            match_spec TEXT NOT NULL,
            rule_names TEXT NOT NULL,
            until TEXT NOT NULL,
            comment TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT
        )
        """,
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    # 2: whether an alert's message is a digest, so an edit never has to read the channel's history.
    ("ALTER TABLE message_refs ADD COLUMN digest INTEGER",),
)
SCHEMA_VERSION = len(MIGRATIONS)


class SQLiteStore:
    """The `Store` on one SQLite file. Build it with `SQLiteStore.open(path)`."""

    def __init__(self, connection: sqlite3.Connection, path: Path, claim_lease: timedelta) -> None:
        self._connection = connection
        self._path = path
        self._claim_lease = claim_lease
        self._lock = threading.RLock()

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        busy_timeout: timedelta = DEFAULT_BUSY_TIMEOUT,
        claim_lease: timedelta = DEFAULT_CLAIM_LEASE,
    ) -> SQLiteStore:
        """Open (creating with mode 0600 if needed) and migrate the state file at `path`."""
        path = Path(path)
        _create_private(path)
        try:
            connection = sqlite3.connect(
                f"{path.absolute().as_uri()}?mode=rw",
                uri=True,
                timeout=busy_timeout.total_seconds(),  # SQLite's busy timeout
                isolation_level=None,  # transactions are explicit: BEGIN ... COMMIT
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise _translate(exc, path) from exc
        connection.row_factory = sqlite3.Row
        store = cls(connection, path, claim_lease)
        try:
            with _translated(path):
                found = _schema_version(connection, path)
                if found > SCHEMA_VERSION:
                    raise NewerSchemaError(str(path), found, SCHEMA_VERSION)
                if found == 0:
                    # Only a file without tables takes a page size (WAL fixes it once written): older state
                    # files keep theirs. 8 KiB rather than SQLite's 4 KiB: a mass failure's cycle writes
                    # ~40 MB of ~1 KB rows, and each page costs a WAL frame and a checkpoint copy of its own
                    # (bench/engine.py: persist -15%; claiming an outbox row alone writes ~5% more).
                    connection.execute(f"PRAGMA page_size = {PAGE_SIZE}")
                connection.execute("PRAGMA journal_mode = WAL")
                # NORMAL in WAL mode: a power cut may lose the last cycle, never corrupt the file.
                connection.execute("PRAGMA synchronous = NORMAL")
                # Room for a 20,000-alert cycle's transaction, which would otherwise spill mid-way.
                connection.execute("PRAGMA cache_size = -32768")
                if found < SCHEMA_VERSION:
                    store._migrate()
        except BaseException:
            connection.close()
            raise
        return store

    @property
    def path(self) -> Path:
        return self._path

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def schema_version(self) -> int:
        with self._read():
            return _schema_version(self._connection, self._path)

    # Alert state.

    def load_alerts(self, fingerprints: Iterable[str]) -> dict[str, AlertState]:
        wanted = list(dict.fromkeys(fingerprints))
        found: dict[str, AlertState] = {}
        with self._read() as db:
            cursor = _plain_cursor(db)
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                where = f" WHERE a.fingerprint IN ({', '.join('?' * len(chunk))})"
                for row in cursor.execute(sql.SELECT_ALERTS + where, chunk):
                    state = sql.alert_from_values(row)
                    found[state.fingerprint] = state
        return found

    def load_open_alerts(self) -> dict[str, AlertState]:
        with self._read() as db:
            rows = _plain_cursor(db).execute(sql.SELECT_OPEN_ALERTS)
            states = [sql.alert_from_values(row) for row in rows]
        return {state.fingerprint: state for state in states}

    def apply_cycle(self, changes: CycleChanges) -> None:
        meta = [{"key": key, "value": value} for key, value in changes.meta.items()]
        with self._write() as db:
            # Rows made as SQLite takes them, not all first: a mass failure's outbox is tens of MB of JSON
            # text, which would otherwise all be alive at once beside the payloads (the cycle's peak RSS).
            db.executemany(_UPSERT_ALERT, map(sql.alert_row, changes.alerts))
            db.executemany(_INSERT_OUTBOX, map(sql.outbox_row, changes.outbox))
            db.executemany(sql.UPSERT_META, meta)

    def acknowledge(self, fingerprint: str, *, by: str, at: datetime) -> bool:
        with self._write() as db:
            if db.execute(sql.IS_OPEN, {"fingerprint": fingerprint}).fetchone() is None:
                return False
            params = {"fingerprint": fingerprint, "by": by, "at": sql.to_db_time(at)}
            db.execute(sql.ACKNOWLEDGE, params)
            return True

    # Outbox.

    def pending_outbox(self, *, now: datetime, limit: int = 100) -> list[OutboxRow]:
        with self._read() as db:
            rows = db.execute(sql.SELECT_DUE_OUTBOX, {**self._due(now), "limit": limit}).fetchall()
        return [sql.outbox_row_from_row(row) for row in rows]

    def claim_outbox(self, row_id: int, *, claimer: str, now: datetime) -> bool:
        with self._write() as db:
            claimed = db.execute(sql.CLAIM_OUTBOX, {**self._due(now), "id": row_id, "claimer": claimer})
            return claimed.rowcount == 1

    def mark_sent(
        self,
        row_ids: Sequence[int],
        *,
        channel: str,
        ts: str,
        now: datetime,
        message_refs: Sequence[MessageRef] = (),
    ) -> None:
        at = sql.to_db_time(now)
        with self._write() as db:
            db.executemany(
                sql.MARK_SENT, [{"id": i, "channel": channel, "ts": ts, "now": at} for i in row_ids]
            )
            db.executemany(sql.UPSERT_MESSAGE_REF, [sql.message_ref_params(r, at) for r in message_refs])

    def mark_failed(self, row_id: int, *, error: str, now: datetime, retry_at: datetime | None) -> None:
        with self._write() as db:
            if retry_at is None:
                db.execute(sql.MARK_FAILED, {"id": row_id, "error": error})
            else:
                db.execute(
                    sql.MARK_RETRY, {"id": row_id, "error": error, "retry_at": sql.to_db_time(retry_at)}
                )

    def prune_outbox(self, *, before: datetime) -> int:
        with self._write() as db:
            return db.execute(sql.PRUNE_OUTBOX, {"before": sql.to_db_time(before)}).rowcount

    def message_ref(self, fingerprint: str) -> MessageRef | None:
        with self._read() as db:
            row = db.execute(sql.SELECT_MESSAGE_REF, {"fingerprint": fingerprint}).fetchone()
        if row is None:
            return None
        return sql.message_ref_of(
            *(row[key] for key in ("fingerprint", "episode", "channel", "ts", "digest"))
        )

    # Runtime silences.

    def add_silence(self, silence: Silence) -> None:
        with self._write() as db:
            db.execute(sql.INSERT_SILENCE, sql.silence_params(silence))

    def silences(self) -> list[Silence]:
        with self._read() as db:
            rows = db.execute(sql.SELECT_SILENCES).fetchall()
        try:
            return sql.silences_from_rows(rows)
        except RuleFileError as exc:
            raise PermanentStoreError(
                f"state file {self._path}: a stored silence no longer reads ({exc}); delete it"
            ) from None

    def delete_silence(self, silence_id: str) -> bool:
        with self._write() as db:
            return db.execute(sql.DELETE_SILENCE, {"id": silence_id}).rowcount == 1

    # Meta.

    def get_meta(self, key: str) -> str | None:
        with self._read() as db:
            row = db.execute(sql.SELECT_META, {"key": key}).fetchone()
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as db:
            db.execute(sql.UPSERT_META, {"key": key, "value": value})

    # Transactions.

    def _due(self, now: datetime) -> dict[str, Any]:
        return sql.due_params(now, self._claim_lease)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._transaction("BEGIN") as db:
            yield db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so a busy file fails at BEGIN, before any work is done.
        with self._transaction("BEGIN IMMEDIATE") as db:
            yield db

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        with self._lock, _translated(self._path):
            db = self._connection
            db.execute(begin)
            try:
                yield db
            except BaseException:
                if db.in_transaction:  # some errors (a full disk) have rolled back already
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _migrate(self) -> None:
        for version in range(1, SCHEMA_VERSION + 1):
            with self._write() as db:
                # Re-read inside the write lock: another process may have migrated meanwhile.
                current = _schema_version(db, self._path)
                if current >= version:
                    continue
                if current == 0:
                    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                    db.execute("INSERT INTO schema_version (version) VALUES (0)")
                for statement in MIGRATIONS[version - 1]:
                    db.execute(statement)
                db.execute("UPDATE schema_version SET version = :version", {"version": version})


def _plain_cursor(db: sqlite3.Connection) -> sqlite3.Cursor:
    """A cursor returning plain tuples: cheaper than sqlite3.Row, for reads of many rows by position."""
    cursor = db.cursor()
    cursor.row_factory = None
    return cursor


def _create_private(path: Path) -> None:
    """Create the state file, readable by its owner only; one that exists is made so (with its WAL and SHM
    companions), saying so, since alert history names tasks and people."""
    if path.exists():
        _make_private(path)
        return
    try:
        make_private_dirs(path.parent)
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return  # created by another process meanwhile: fine
    except OSError as exc:
        raise PermanentStoreError(f"cannot create state file {path}: {exc.strerror or exc}") from None


def _make_private(path: Path) -> None:
    """Take group and other access away from the state file and its companions, or refuse it."""
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
        except OSError:
            continue  # no WAL or SHM now: SQLite gives the file's own mode to the ones it creates
        if not mode & 0o077:
            continue
        try:
            file.chmod(mode & 0o700)
        except OSError as exc:
            raise PermanentStoreError(
                f"state file {file} is readable by others (mode {mode:04o}) and cannot be made private: "
                f"{exc.strerror or exc}; chmod 600 it"
            ) from None
        log.warning(
            "state.permissions_tightened", file=str(file), was=f"{mode:04o}", now=f"{mode & 0o700:04o}"
        )


def make_private_dirs(directory: Path) -> None:
    """`directory` and every missing parent, each created 0700 whatever the umask (`Path.mkdir(parents=True)`
    gives the parents the umask's mode: 0777 under umask 000)."""
    missing: list[Path] = []
    while not directory.exists() and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    for created in reversed(missing):
        try:
            created.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made by another process meanwhile
        created.chmod(0o700)  # the umask may have taken bits even from 0700


def _schema_version(db: sqlite3.Connection, path: Path) -> int:
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "schema_version" not in tables:
        if tables - {"sqlite_sequence"}:
            raise CorruptStateError(
                f"{path} is an SQLite database, but not a workspace-monitor state file "
                f"(it has tables {', '.join(sorted(tables))}); point state.url at a new file"
            )
        return 0
    row = db.execute("SELECT version FROM schema_version").fetchone()
    if row is None or not isinstance(row[0], int):
        raise CorruptStateError(f"state file {path} has no readable schema version")
    return row[0]


@contextmanager
def _translated(path: Path) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise _translate(exc, path) from exc


def _translate(exc: sqlite3.Error, path: Path) -> StoreError:
    message = str(exc)
    lowered = message.lower()
    if "locked" in lowered or "busy" in lowered:
        return StoreLockedError(
            f"state file {path} is locked by another process (is a second workspace-monitor running?)"
        )
    if "not a database" in lowered or "malformed" in lowered:
        return CorruptStateError(
            f"state file {path} is not a workspace-monitor state file or is damaged ({message}); "
            "move it away to start with empty state"
        )
    if "unable to open" in lowered or "readonly" in lowered:
        return PermanentStoreError(
            f"cannot open state file {path} for writing ({message}): check permissions"
        )
    if "disk" in lowered and ("full" in lowered or "i/o" in lowered):
        return RetryableStoreError(f"state file {path}: {message}")
    if isinstance(exc, sqlite3.IntegrityError):
        return PermanentStoreError(f"state file {path}: a write broke a constraint ({message})")
    return PermanentStoreError(f"state file {path}: {message}")
