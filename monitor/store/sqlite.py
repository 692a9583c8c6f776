"""The embedded store: one SQLite file (stdlib sqlite3), the default for a single daemon.

Opening a state file: it is created with mode 0600 (and missing directories 0700, whatever the umask) before
SQLite touches it (alert history names tasks and people); an existing one readable by others is made 0600,
logged as `state.permissions_tightened`. Its schema version is read, a file from a newer workspace-monitor is
refused without being changed, and missing migrations are applied, each in its own transaction. Then WAL
(readers never wait for the cycle's writer) and a busy timeout (two processes on one file wait for each
other instead of failing at once).

The `Store` methods are `monitor.store.sql.SqlStore`'s; this module gives it sqlite3's ways (named and `?`
parameters, BEGIN IMMEDIATE for writes, sqlite3 errors translated into `monitor.store.errors`).
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog

import monitor.store.sql as sql
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
    "PAGE_SIZE",
    "SCHEMA_VERSION",
    "SQLiteStore",
    "make_private_dirs",
]

log = structlog.get_logger(__name__)

DEFAULT_BUSY_TIMEOUT = timedelta(seconds=5)
#: The page size of a new state file, in bytes.
PAGE_SIZE = 8192
SCHEMA_VERSION = len(sql.MIGRATIONS)
# SQLite caps the number of parameters of one statement; stay well below every version's cap.
_CHUNK = 500


class SQLiteStore(sql.SqlStore[sqlite3.Connection]):
    """The `Store` on one SQLite file. Build it with `SQLiteStore.open(path)`."""

    statements = sql.Statements.in_style(lambda statement: statement, "?")
    MIGRATIONS = sql.MIGRATIONS
    own_tables = frozenset({"sqlite_sequence"})

    def __init__(self, connection: sqlite3.Connection, path: Path, claim_lease: timedelta) -> None:
        super().__init__(connection, f"state file {path}", claim_lease)
        self._path = path

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        busy_timeout: timedelta = DEFAULT_BUSY_TIMEOUT,
        claim_lease: timedelta = sql.DEFAULT_CLAIM_LEASE,
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
                found = store._schema_version(connection)
                known = len(cls.MIGRATIONS)
                if found > known:
                    raise NewerSchemaError(str(path), found, known)
                if found == 0:
                    # Only a file without tables takes a page size (WAL fixes it once written): older state
                    # files keep theirs. Larger than SQLite's default: a mass failure's cycle writes many
                    # rows of about a kilobyte, and each page costs a WAL frame and a checkpoint copy of its
                    # own (bench/findings.md).
                    connection.execute(f"PRAGMA page_size = {PAGE_SIZE}")
                connection.execute("PRAGMA journal_mode = WAL")
                # NORMAL in WAL mode: a power cut may lose the last cycle, never corrupt the file.
                connection.execute("PRAGMA synchronous = NORMAL")
                # Room for a large cycle's transaction (32 MiB), which would otherwise spill mid-way.
                connection.execute("PRAGMA cache_size = -32768")
                if found < known:
                    store._migrate()
        except BaseException:
            connection.close()
            raise
        return store

    @property
    def path(self) -> Path:
        return self._path

    # The hooks.

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

    def _rows(self, db: sqlite3.Connection, statement: str, params: sql.Params | None = None) -> list[Any]:
        return _plain_cursor(db).execute(statement, () if params is None else params).fetchall()

    def _mapping_rows(
        self, db: sqlite3.Connection, statement: str, params: sql.Params | None = None
    ) -> list[Any]:
        return db.execute(statement, () if params is None else params).fetchall()

    def _execute(self, db: sqlite3.Connection, statement: str, params: sql.Params | None = None) -> int:
        return db.execute(statement, () if params is None else params).rowcount

    def _executemany(self, db: sqlite3.Connection, statement: str, rows: Iterable[sql.Params]) -> None:
        db.executemany(statement, rows)

    def _select_alerts(self, db: sqlite3.Connection, fingerprints: list[str]) -> Iterator[Sequence[Any]]:
        cursor = _plain_cursor(db)
        for start in range(0, len(fingerprints), _CHUNK):
            chunk = fingerprints[start : start + _CHUNK]
            where = f" WHERE a.fingerprint IN ({', '.join('?' * len(chunk))})"
            yield from cursor.execute(sql.SELECT_ALERTS + where, chunk)

    def _select_marks(self, db: sqlite3.Connection, project: str, task_ids: list[str]) -> list[Any]:
        where = f"WHERE project = ? AND task_id IN ({', '.join('?' * len(task_ids))})"
        return _plain_cursor(db).execute(sql.SELECT_TASK_MARKS + where, [project, *task_ids]).fetchall()

    def _tables(self, db: sqlite3.Connection) -> set[str]:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def _not_ours(self, tables: set[str]) -> CorruptStateError:
        return CorruptStateError(
            f"{self._path} is an SQLite database, but not a workspace-monitor state file "
            f"(it has tables {', '.join(sorted(tables))}); point state.url at a new file"
        )


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
