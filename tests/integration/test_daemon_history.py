"""The daemon keeps the run history 400 days: at start (then hourly, with the outbox's prune) older days
leave the state file, newer ones stay."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.devtools.sim import SimulatorThread
from monitor.store import SQLiteStore
from tests.support.daemon import DaemonProcess, simulator_with, write_config


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with simulator_with("prod-reboot") as running:
        yield running


def days_kept(tmp_path: Path) -> list[str]:
    with closing(sqlite3.connect(tmp_path / "state.db")) as db:
        return [row[0] for row in db.execute("SELECT day FROM task_days ORDER BY day")]


def test_run_history_older_than_400_days_is_pruned(tmp_path: Path, sim: SimulatorThread) -> None:
    today = datetime.now(UTC).date()
    old, recent = (today - timedelta(days=401)).isoformat(), (today - timedelta(days=10)).isoformat()
    SQLiteStore.open(tmp_path / "state.db").close()
    with closing(sqlite3.connect(tmp_path / "state.db")) as db, db:
        db.executemany(
            "INSERT INTO task_days VALUES ('p', 't-1', ?, 'REBOOT', 'prod-reboot', 1, 0, 0)",
            [(old,), (recent,)],
        )
    write_config(tmp_path, sim.base_url)
    daemon = DaemonProcess(tmp_path)
    try:
        logs = daemon.wait_for('"state.history_pruned"')
    finally:
        code = daemon.stop()
    assert code == 0
    assert '"task_days": 1' in logs
    assert days_kept(tmp_path) == [recent]
