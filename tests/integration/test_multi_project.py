"""Several projects in one config (`workspace.projects`): `once` polls each with its own endpoint and
credentials; rules match a project by name; messages name it; and one project's cycle never closes or
resolves the alerts of another."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from monitor.devtools.sim import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, SimOptions, SimulatorThread
from tests.support.daemon import DaemonProcess, free_port

BEIJING_ID = "b" * 32
SHANGHAI_ID = "5a" * 16
FINANCE_AK, FINANCE_SK = "FINANCEAK0123456789AB", "finance-secret-key-0123"

RULES = """\
rules:
  - name: finance
    match:
      project: shanghai-finance
    channel: "#finance"
  - name: everything
    channel: "#ops"
"""


def start(project_id: str, seed: int, **credentials: str) -> SimulatorThread:
    # Different seeds: different task ids, as two real projects have.
    thread = SimulatorThread(SimOptions(tasks=0, seed=seed, project_id=project_id, **credentials))
    thread.__enter__()
    return thread


@pytest.fixture
def sims() -> Iterator[tuple[SimulatorThread, SimulatorThread]]:
    beijing = start(BEIJING_ID, 3)
    shanghai = start(SHANGHAI_ID, 4, access_key=FINANCE_AK, secret_key=FINANCE_SK)
    try:
        for sim, name in ((beijing, "prod-reboot"), (shanghai, "month-end-close")):
            fields = {"task_name": name, "last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY"}
            sim.call(sim.state.create_task, fields)
        yield beijing, shanghai
    finally:
        shanghai.__exit__(None, None, None)
        beijing.__exit__(None, None, None)


def configure(tmp_path: Path, beijing: SimulatorThread, shanghai: SimulatorThread) -> dict[str, str]:
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "config.yaml").write_text(
        textwrap.dedent(
            f"""\
            workspace:
              projects:
                - name: beijing-prod
                  project_id: {BEIJING_ID}
                  endpoint: {beijing.base_url}
                - name: shanghai-finance
                  project_id: {SHANGHAI_ID}
                  endpoint: {shanghai.base_url}
                  credentials: FINANCE
            state:
              url: sqlite:///{tmp_path}/state.db
            rules: rules.yaml
            """
        )
    )
    return {
        "PATH": os.environ["PATH"],
        "HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY,
        "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY,
        "FINANCE_HUAWEICLOUD_SDK_AK": FINANCE_AK,
        "FINANCE_HUAWEICLOUD_SDK_SK": FINANCE_SK,
    }


def once(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "once"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def fail(sim: SimulatorThread, name: str) -> None:
    sim.call(sim.state.add_execution, sim.state.task(name).id, "FAIL")


def test_each_project_is_polled_with_its_own_credentials_and_named(
    tmp_path: Path, sims: tuple[SimulatorThread, SimulatorThread]
) -> None:
    beijing, shanghai = sims
    env = configure(tmp_path, beijing, shanghai)
    fail(beijing, "prod-reboot")
    fail(shanghai, "month-end-close")
    result = once(tmp_path, env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "project beijing-prod: cycle: 1 failing tasks" in out
    assert "project shanghai-finance: cycle: 1 failing tasks" in out
    assert "NEW       everything: prod-reboot" in out
    assert "NEW       finance: month-end-close" in out  # the rule matched the project by name
    assert "everything: month-end-close" not in out  # first match wins


def test_one_projects_cycle_leaves_the_other_projects_alerts_open(
    tmp_path: Path, sims: tuple[SimulatorThread, SimulatorThread]
) -> None:
    """Shanghai's cycle sees no failing task and cannot find Beijing's task: Beijing's open alert is still
    not its to resolve or close, in the same run or the next."""
    beijing, shanghai = sims
    env = configure(tmp_path, beijing, shanghai)
    fail(beijing, "prod-reboot")
    first, again = once(tmp_path, env), once(tmp_path, env)
    for result in (first, again):
        assert result.returncode == 0, result.stderr
        assert "RESOLVED" not in result.stdout, result.stdout
        assert "CLOSED" not in result.stdout, result.stdout
    with closing(sqlite3.connect(tmp_path / "state.db")) as db:
        rows = db.execute("SELECT project, status FROM alerts").fetchall()
    assert rows == [("beijing-prod", "firing")]


def test_a_project_whose_credentials_are_missing_is_named(
    tmp_path: Path, sims: tuple[SimulatorThread, SimulatorThread]
) -> None:
    beijing, shanghai = sims
    env = configure(tmp_path, beijing, shanghai)
    del env["FINANCE_HUAWEICLOUD_SDK_SK"]
    result = once(tmp_path, env)
    assert result.returncode == 2
    assert "project shanghai-finance" in result.stderr


def test_the_daemon_polls_every_project_each_cycle_and_names_it(
    tmp_path: Path, sims: tuple[SimulatorThread, SimulatorThread]
) -> None:
    beijing, shanghai = sims
    env = configure(tmp_path, beijing, shanghai)
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text().replace("workspace:\n", "workspace:\n  poll_interval: 1s\n", 1))
    fail(beijing, "prod-reboot")
    fail(shanghai, "month-end-close")
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "run"], cwd=tmp_path, env=env, stdout=stdout, stderr=stderr
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            "project beijing-prod" in out.read_text() and "project shanghai-finance" in out.read_text()
        ):
            assert daemon.poll() is None, err.read_text()
            time.sleep(0.2)
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=30)
    assert code == 0, err.read_text()
    logs = err.read_text()
    assert '"project": "beijing-prod"' in logs
    assert '"project": "shanghai-finance"' in logs
    assert "new alert: prod-reboot" in out.read_text()
    assert "new alert: month-end-close" in out.read_text()


def test_a_project_that_fails_every_cycle_fails_healthz_by_name_and_counts_under_its_label(
    tmp_path: Path, sims: tuple[SimulatorThread, SimulatorThread]
) -> None:
    """Beijing succeeds every cycle and Shanghai's key is wrong: /healthz used to stay green on Beijing's
    successes. Now it names Shanghai, and the cycle metrics carry each project's name."""
    beijing, shanghai = sims
    configure(tmp_path, beijing, shanghai)
    port = free_port()
    config = tmp_path / "config.yaml"
    text = config.read_text().replace("workspace:\n", "workspace:\n  poll_interval: 1s\n", 1)
    config.write_text(text + f"metrics:\n  listen: {port}\n")
    daemon = DaemonProcess(
        tmp_path, FINANCE_HUAWEICLOUD_SDK_AK=FINANCE_AK, FINANCE_HUAWEICLOUD_SDK_SK="not-the-finance-key"
    )
    try:
        daemon.wait_for('"cycle.failed"', count=1)
        deadline = time.monotonic() + 30
        health = ""
        while time.monotonic() < deadline and "shanghai" not in health:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).close()
            except urllib.error.HTTPError as answer:
                health = answer.read().decode()
            time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            metrics = answer.read().decode()
    finally:
        assert daemon.stop() == 0
    assert health.startswith("project shanghai-finance: no successful cycle for "), health
    assert "beijing" not in health
    samples = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if not line.startswith("#"))
    assert float(samples['workspace_monitor_cycles_total{outcome="failed",project="shanghai-finance"}']) >= 1
    assert float(samples['workspace_monitor_cycles_total{outcome="complete",project="beijing-prod"}']) >= 1
    assert float(samples['workspace_monitor_cycles_total{outcome="failed",project="beijing-prod"}']) == 0
    assert (
        'workspace_monitor_last_successful_cycle_timestamp_seconds{project="shanghai-finance"} 0.0' in metrics
    )
