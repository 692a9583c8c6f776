"""What the monitor leaves on disk: the state file and its WAL/SHM companions are private, and no credential
(the IAM token it fetched, the password, the SK) is written anywhere.

What it proves:
- under any umask (022, 002, 000) the SQLite state file, its `-wal` and `-shm` files are mode 0600 and a
  directory the store creates is 0700, parents included - after real writes, while the connection is open (an
  existing file readable by others is made 0600, with its WAL and SHM: see test_store_sqlite);
- `workspace-monitor once` run as a process with IAM password auth against the simulator (HOME, the state
  and the config all inside one temporary folder) fetches an IAM token, alerts, and leaves no file there that
  holds the token, the password or any other known secret; it also prints none of them.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.decide import AlertState, AlertStatus
from monitor.devtools.sim import (
    DEFAULT_IAM_DOMAIN,
    DEFAULT_IAM_PASSWORD,
    DEFAULT_IAM_USER,
    DEFAULT_PROJECT_ID,
    SimOptions,
    SimulatorThread,
)
from monitor.store import SQLiteStore, lock_state
from monitor.store.base import CycleChanges
from tests.support.secret_scan import find_secrets

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def an_alert() -> AlertState:
    return AlertState(
        fingerprint="f1", rule_name="r", project="p", task_id="t-1", task_name="prod-reboot",
        status=AlertStatus.FIRING, episode=1, last_status="FAIL", record_id=None, next_execution_time=None,
        occurrences=1, consecutive_failures=1, opened_at=NOW, updated_at=NOW, notified_at=NOW,
        notified_occurrence=1, notified_status="FAIL", silenced_by=None, closed_at=None, reason="test",
        acknowledged_by=None,
    )  # fmt: skip


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o000], indirect=True, ids=["022", "002", "000"])
def test_every_directory_the_store_or_its_lock_creates_is_private(tmp_path: Path, umask: int) -> None:
    """Parents included: `mkdir(parents=True, mode=0o700)` gives only the last one that mode."""
    store = SQLiteStore.open(tmp_path / "a" / "b" / "state.db")
    store.close()
    lock = lock_state(f"sqlite://{tmp_path}/c/d/state.db")
    assert lock is not None
    lock.release()
    made = [tmp_path / "a", tmp_path / "a" / "b", tmp_path / "c", tmp_path / "c" / "d"]
    assert {str(p.relative_to(tmp_path)): oct(mode(p)) for p in made} == {
        str(p.relative_to(tmp_path)): oct(0o700) for p in made
    }


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o000], indirect=True, ids=["022", "002", "000"])
def test_state_file_wal_and_shm_are_private_under_any_umask(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "created" / "state.db"
    store = SQLiteStore.open(path)
    try:
        store.apply_cycle(
            CycleChanges(alerts=[an_alert()], outbox=[], meta={"last_cycle_at": NOW.isoformat()})
        )
        files = {p.name: mode(p) for p in path.parent.iterdir()}
    finally:
        store.close()
    assert {"state.db", "state.db-wal", "state.db-shm"} <= files.keys(), files
    assert files == dict.fromkeys(files, 0o600), {name: oct(m) for name, m in files.items()}
    assert mode(path.parent) == 0o700


def test_once_with_iam_password_writes_no_credential_anywhere(tmp_path: Path) -> None:
    with SimulatorThread(SimOptions(tasks=0, seed=5)) as sim:
        fields = {
            "task_name": "prod-reboot",
            "last_status": "SUCCESS",
            "enable": True,
            "scheduled_type": "DAY",
        }
        task = sim.call(sim.state.create_task, fields)
        sim.call(sim.state.add_execution, task.id, "FAIL")
        (tmp_path / "rules.yaml").write_text('rules:\n  - name: ops\n    channel: "#ops"\n')
        (tmp_path / "config.yaml").write_text(
            textwrap.dedent(
                f"""\
                workspace:
                  endpoint: {sim.base_url}
                  iam_endpoint: {sim.base_url}
                  project_id: {DEFAULT_PROJECT_ID}
                state:
                  url: sqlite:///{tmp_path}/var/state.db
                rules: rules.yaml
                """
            )
        )
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "XDG_CACHE_HOME": str(tmp_path / ".cache"),
            "HUAWEICLOUD_IAM_USERNAME": DEFAULT_IAM_USER,
            "HUAWEICLOUD_IAM_PASSWORD": DEFAULT_IAM_PASSWORD,
            "HUAWEICLOUD_IAM_DOMAIN": DEFAULT_IAM_DOMAIN,
        }
        result = subprocess.run(
            [sys.executable, "-m", "monitor.cli", "once"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        issued = len(sim.state.tokens)
    assert result.returncode == 0, result.stderr
    assert issued >= 1, "no IAM token was fetched: the test proves nothing"
    assert "prod-reboot" in result.stdout  # it alerted (console notifier)
    assert find_secrets(result.stdout + result.stderr) == []
    written = {}
    for path in tmp_path.rglob("*"):
        if path.is_file():
            found = find_secrets(path.read_bytes().decode("utf-8", "replace"))
            if found:
                written[str(path.relative_to(tmp_path))] = found
    assert written == {}
    assert (tmp_path / "var" / "state.db").exists()
