"""The exceptions the store raises, and nothing else escapes it.

Database driver exceptions (sqlite3, psycopg) are translated at the boundary, in the backend, so
callers only ever catch these. Each class says whether trying again can help:

    StoreError
    ├── RetryableStoreError      trying again later may succeed
    │   ├── StoreLockedError     another process holds the database (busy_timeout ran out)
    │   └── StaleLeaderError     another replica leads now: this one's cycle was not written
    └── PermanentStoreError      trying again will not help until someone changes something
        ├── NewerSchemaError     the state was written by a newer workspace-monitor; left untouched
        ├── CorruptStateError    not a database, not ours, or damaged
        └── StateInUseError      another process holds the state's lock (monitor.store.lock)

`str()` of each is one sentence an operator can act on, naming the state file or URL.
"""

from __future__ import annotations

__all__ = [
    "CorruptStateError",
    "NewerSchemaError",
    "PermanentStoreError",
    "RetryableStoreError",
    "StaleLeaderError",
    "StateInUseError",
    "StoreError",
    "StoreLockedError",
]


class StoreError(Exception):
    """Base of everything the store raises."""

    retryable: bool = False


class RetryableStoreError(StoreError):
    """A failure that may go away by itself (a lock, a full disk, a lost connection): try again later."""

    retryable = True


class StoreLockedError(RetryableStoreError):
    """Another process kept the database locked for longer than the busy timeout."""


class StaleLeaderError(RetryableStoreError):
    """Another replica became the leader after this one: its cycle's changes are refused, none written."""


class PermanentStoreError(StoreError):
    """A failure that repeats until someone changes the configuration, the file or the code."""


class NewerSchemaError(PermanentStoreError):
    """The state was written by a newer workspace-monitor, whose schema this one does not know."""

    def __init__(self, where: str, found: int, known: int) -> None:
        super().__init__(
            f"state file {where} has schema version {found}, this workspace-monitor knows up to {known}: "
            "upgrade workspace-monitor (the file was not changed)"
        )
        self.found = found
        self.known = known


class CorruptStateError(PermanentStoreError):
    """The state file is not a database, not a workspace-monitor state file, or is damaged."""


class StateInUseError(PermanentStoreError):
    """Another workspace-monitor process holds the lock on this SQLite state file."""
