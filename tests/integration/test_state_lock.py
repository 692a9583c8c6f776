"""One process per SQLite state file, as an operator meets it: real `run` and `once` processes on one state.

A second daemon, or a `once` beside a daemon, is refused in one line naming the first's pid (exit 2) and
changes nothing; `once --dry-run` still looks; when the holder stops, or is SIGKILLed, the next one starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.devtools.sim import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, SimOptions, SimulatorThread
from tests.support.daemon import DaemonProcess, write_config


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(SimOptions(tasks=0, seed=11)) as running:
        running.call(running.state.create_task, {"task_name": "prod-a", "last_status": "FAIL", "enable": True,
                                                  "scheduled_type": "DAY"})  # fmt: skip
        yield running


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY,
           "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY}  # fmt: skip
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def refusal(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("workspace-monitor:")]
    return line


def test_a_second_daemon_is_refused_naming_the_first(tmp_path: Path, sim: SimulatorThread) -> None:
    write_config(tmp_path, sim.base_url)
    first = DaemonProcess(tmp_path, name="first")
    try:
        first.wait_for('"daemon.started"')
        line = refusal(cli(tmp_path, "run"))
        assert f"pid {first.process.pid}" in line
        assert "state.db" in line
    finally:
        assert first.stop() == 0
    second = DaemonProcess(tmp_path, name="second")  # the first has stopped: its lock went with it
    try:
        second.wait_for('"daemon.started"')
    finally:
        assert second.stop() == 0


def test_once_beside_a_daemon_is_refused_and_a_dry_run_looks(tmp_path: Path, sim: SimulatorThread) -> None:
    write_config(tmp_path, sim.base_url, extra="slack:\n  default_channel: '#fallback'\n")
    daemon = DaemonProcess(tmp_path)
    try:
        daemon.wait_for('"daemon.started"')
        daemon.wait_for("prod-a", stream="out")  # its own alert, posted by the console notifier
        line = refusal(cli(tmp_path, "once"))
        assert f"pid {daemon.process.pid}" in line
        looked = cli(tmp_path, "once", "--dry-run")
        assert looked.returncode == 0, looked.stderr
        assert "cycle:" in looked.stdout
    finally:
        assert daemon.stop() == 0


def test_a_sigkilled_holder_leaves_no_lock_behind(tmp_path: Path, sim: SimulatorThread) -> None:
    write_config(tmp_path, sim.base_url, extra="slack:\n  default_channel: '#fallback'\n")
    daemon = DaemonProcess(tmp_path)
    daemon.wait_for('"daemon.started"')
    daemon.kill()
    after = cli(tmp_path, "once")
    assert after.returncode == 0, after.stderr
