"""The store backends as tests see them (open a store, another on the same state, raw SQL), and sample values.

`backend` is parametrized over SQLite (a file in tmp_path) and PostgreSQL (a fresh schema, marked
`postgres`), so every test taking it or `store` is a specification both backends meet.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from monitor.decide import AlertState, AlertStatus, DecisionKind
from monitor.rules.load import compile_match
from monitor.silences import Silence
from monitor.store import OutboxEntry, SQLiteStore, Store
from monitor.store.postgres import PostgresStore

__all__ = ["T0", "Backend", "alert", "backend", "entry", "silence", "store"]

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@dataclass
class Backend:
    name: str
    url: str
    store_class: type[SQLiteStore] | type[PostgresStore]

    def open(self, **options: Any) -> Store:
        if self.name == "sqlite":
            return SQLiteStore.open(self.url.removeprefix("sqlite://"), **options)
        return PostgresStore.open(self.url, **options)

    def execute(self, statement: str) -> None:
        """Raw SQL on the state, from another connection (as another process or an operator would)."""
        if self.name == "sqlite":
            with sqlite3.connect(self.url.removeprefix("sqlite://")) as db:
                db.executescript(statement)
            db.close()
        else:
            with psycopg.connect(self.url, autocommit=True) as pg:
                pg.execute(statement)  # type: ignore[call-overload]

    def fail_outbox_inserts(self, message: str) -> None:
        """A trigger that makes every outbox insert fail with `message`."""
        if self.name == "sqlite":
            self.execute(
                "CREATE TRIGGER fail_outbox BEFORE INSERT ON outbox "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
        else:
            self.execute(
                "CREATE FUNCTION fail_outbox() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$;"
                "CREATE TRIGGER fail_outbox BEFORE INSERT ON outbox "
                "FOR EACH ROW EXECUTE FUNCTION fail_outbox()"
            )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", f"sqlite://{tmp_path}/state/state.db", SQLiteStore)
    return Backend("postgres", request.getfixturevalue("postgres_url"), PostgresStore)


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    opened = backend.open()
    try:
        yield opened
    finally:
        opened.close()


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
