"""`once` on shared PostgreSQL state acts only as the leader would: it refuses while a replica leads (it would
decide and send beside it), and otherwise holds leadership for its cycle."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.devtools.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    SimOptions,
    SimulatorThread,
)
from monitor.leader import AdvisoryLockLeadership
from monitor.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(SimOptions(tasks=0, seed=12)) as running:
        fields = {
            "task_name": "prod-reboot",
            "last_status": "SUCCESS",
            "enable": True,
            "scheduled_type": "DAY",
        }
        running.call(running.state.create_task, fields)
        yield running


def once(
    tmp_path: Path, sim: SimulatorThread, state_url: str, *args: str
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "rules.yaml").write_text('rules:\n  - name: ops\n    channel: "#ops"\n')
    (tmp_path / "config.yaml").write_text(
        textwrap.dedent(
            f"""\
            workspace:
              endpoint: {sim.base_url}
              project_id: {DEFAULT_PROJECT_ID}
            state:
              url: "{state_url}"
            rules: rules.yaml
            """
        )
    )
    env = {"PATH": os.environ["PATH"], "HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY,
           "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "once", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_once_refuses_while_a_replica_leads(tmp_path: Path, sim: SimulatorThread, postgres_url: str) -> None:
    PostgresStore.open(postgres_url).close()  # the schema exists, as under running replicas
    replica = AdvisoryLockLeadership(postgres_url, "host-a:4242", timedelta(seconds=10))
    try:
        assert replica.check()
        with PostgresStore.open(postgres_url) as store:
            store.set_meta("leader", "host-a:4242")
        sim.call(sim.state.add_execution, sim.state.task("prod-reboot").id, "FAIL")
        result = once(tmp_path, sim, postgres_url)
        assert result.returncode == 1
        assert "host-a:4242 leads this state" in result.stderr
        assert "--dry-run" in result.stderr
        with PostgresStore.open(postgres_url) as store:
            assert store.load_open_alerts() == {}  # nothing decided beside the leader
        dry = once(tmp_path, sim, postgres_url, "--dry-run")
        assert dry.returncode == 0, dry.stderr
    finally:
        replica.close()


def test_once_runs_when_no_replica_leads(tmp_path: Path, sim: SimulatorThread, postgres_url: str) -> None:
    sim.call(sim.state.add_execution, sim.state.task("prod-reboot").id, "FAIL")
    result = once(tmp_path, sim, postgres_url)
    assert result.returncode == 0, result.stderr
    with PostgresStore.open(postgres_url) as store:
        assert len(store.load_open_alerts()) == 1
    # It let go when it finished: a replica can lead at once.
    replica = AdvisoryLockLeadership(postgres_url, "host-a:4242", timedelta(seconds=10))
    try:
        assert replica.check()
    finally:
        replica.close()
