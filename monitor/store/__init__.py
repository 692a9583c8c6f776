"""Alert state and the outbox: `open_store(url)` picks the backend from the `state.url` setting.

sqlite:///var/lib/workspace-monitor/state.db    the embedded default (an absolute path)
sqlite://state.db                                a path relative to the working directory
postgresql://user@host/db?options=-csearch_path%3Dname   for HA: several replicas share it
"""

from __future__ import annotations

import importlib.util
import os
from datetime import timedelta
from pathlib import Path

from monitor.store.base import CycleChanges, MessageRef, OutboxEntry, OutboxRow, OutboxState, Store
from monitor.store.errors import (
    CorruptStateError,
    NewerSchemaError,
    PermanentStoreError,
    RetryableStoreError,
    StateInUseError,
    StoreError,
    StoreLockedError,
)
from monitor.store.lock import StateLock, lock_state
from monitor.store.sqlite import SQLiteStore
from monitor.store.urls import redact_text, redact_url, url_scheme_problem

__all__ = [
    "POSTGRES_EXTRA",
    "CorruptStateError",
    "CycleChanges",
    "MessageRef",
    "NewerSchemaError",
    "OutboxEntry",
    "OutboxRow",
    "OutboxState",
    "PermanentStoreError",
    "RetryableStoreError",
    "SQLiteStore",
    "StateInUseError",
    "StateLock",
    "Store",
    "StoreError",
    "StoreLockedError",
    "lock_state",
    "open_store",
    "postgres_support_problem",
    "redact_url",
    "state_location_problem",
]

_SQLITE = "sqlite://"
_POSTGRES = ("postgresql://", "postgres://")


#: psycopg is the `postgres` extra: a SQLite daemon installs without it.
POSTGRES_EXTRA = "pip install 'workspace-monitor[postgres]'"


def postgres_support_problem(url: str) -> str | None:
    """For a PostgreSQL `url` when psycopg is not installed: the one line saying how to install it."""
    if not url.startswith(_POSTGRES) or importlib.util.find_spec("psycopg") is not None:
        return None
    return f"state.url {redact_url(url)!r} needs PostgreSQL support, which is not installed: {POSTGRES_EXTRA}"


def state_location_problem(url: str) -> str | None:
    """Why the state at `url` could not be opened or created, found without creating anything (for `check`,
    and for `run` before it touches anything): a scheme no backend has, a SQLite file that cannot be, or
    PostgreSQL without psycopg installed; None when it can, or for PostgreSQL (whose server is asked when the
    store opens). Shown redacted."""
    unknown = url_scheme_problem(url) or postgres_support_problem(url)
    if unknown is not None:
        return unknown
    if not url.startswith(_SQLITE):
        return None
    path = Path(url.removeprefix(_SQLITE))
    where = f"state.url {redact_url(url)!r}"
    if path.exists():
        if path.is_dir():
            return f"{where}: {path} is a directory; name a file in it, e.g. {path / 'state.db'}"
        if not os.access(path, os.R_OK | os.W_OK):
            return f"{where}: {path} is not readable and writable by this user"
        return None
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{where}: cannot create {path}: {ancestor} is not a directory"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"{where}: cannot create {path}: {ancestor} is not writable by this user"
    return None


def open_store(url: str, *, claim_lease: timedelta | None = None) -> Store:
    """The store that `url` names, opened and migrated. Raises StoreError.

    `claim_lease`: how long an outbox claim holds (the backend's default when None)."""
    lease = {"claim_lease": claim_lease} if claim_lease is not None else {}
    if url.startswith(_SQLITE):
        path = url.removeprefix(_SQLITE)
        if not path or path == "/":
            raise PermanentStoreError(
                f"state url {redact_url(url)!r} names no file: write sqlite:///path/to/state.db"
            )
        return SQLiteStore.open(path, **lease)
    if url.startswith(_POSTGRES):
        missing = postgres_support_problem(url)
        if missing is not None:
            raise PermanentStoreError(missing)
        # Imported here: a single SQLite daemon never loads psycopg (and may not have it).
        from monitor.store.postgres import PostgresStore

        try:
            return PostgresStore.open(url, **lease)
        except StoreError:
            raise
        except Exception as exc:  # psycopg refusing the URL's syntax before connecting
            reason = redact_text(str(exc), url)
            raise PermanentStoreError(f"state url {redact_url(url)!r} is not usable: {reason}") from None
    raise PermanentStoreError(url_scheme_problem(url) or f"state url {redact_url(url)!r} is not usable")
