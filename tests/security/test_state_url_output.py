"""A state URL's credentials never reach the terminal or the logs, as an operator meets them: `check`, `run`
and `once` as processes, refusing a mistyped scheme in one redacted line, and a daemon on PostgreSQL state
whose URL carries `password=` in its query (libpq reads it there) saying `daemon.started` and
`leader.elected` without it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.devtools.sim import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, SimOptions, SimulatorThread
from tests.support.daemon import DaemonProcess, write_config

PASSWORD = "hunter2-not-shown"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(SimOptions(tasks=0, seed=3)) as running:
        yield running


def with_state_url(tmp_path: Path, sim: SimulatorThread, url: str) -> None:
    config = write_config(tmp_path, sim.base_url)
    text = config.read_text().replace(f"url: sqlite:///{tmp_path}/state.db", f"url: {url!r}")
    config.write_text(text + "slack:\n  default_channel: '#fallback'\n")


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY,
           "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY}  # fmt: skip
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.mark.parametrize("command", [("check",), ("once",), ("once", "--dry-run"), ("run",)])
def test_a_mistyped_scheme_is_refused_in_one_redacted_line(
    tmp_path: Path, sim: SimulatorThread, command: tuple[str, ...]
) -> None:
    with_state_url(tmp_path, sim, f"postgresq://admin:{PASSWORD}@db.internal/state")
    result = run(tmp_path, *command)
    shown = result.stdout + result.stderr
    assert result.returncode == (1 if command == ("check",) else 2), shown
    assert PASSWORD not in shown
    assert "Traceback" not in shown
    assert "postgresq://admin:***@db.internal/state" in shown
    assert "unknown scheme" in shown
    if command != ("check",):  # one line for the operator (`run` logs it as a JSON line too)
        [line] = [line for line in result.stderr.splitlines() if line.startswith("workspace-monitor:")]
        assert "unknown scheme" in line
    assert not list(tmp_path.glob("*.db"))


@pytest.mark.parametrize("command", [("once",), ("run",)])
def test_an_unparseable_url_is_refused_redacted(
    tmp_path: Path, sim: SimulatorThread, command: tuple[str]
) -> None:
    with_state_url(tmp_path, sim, f"postgresql://admin:{PASSWORD}@[::1/state")
    result = run(tmp_path, *command)
    assert result.returncode == 2
    assert PASSWORD not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.postgres
def test_a_password_in_the_query_is_not_logged(
    tmp_path: Path, sim: SimulatorThread, postgres_url: str
) -> None:
    with_state_url(tmp_path, sim, f"{postgres_url}&password={PASSWORD}&sslmode=disable")
    daemon = DaemonProcess(tmp_path)
    try:
        daemon.wait_for('"leader.elected"')
        daemon.wait_for('"daemon.started"')
    finally:
        assert daemon.stop() == 0
    [started] = daemon.events("daemon.started")
    [elected] = daemon.events("leader.elected")
    assert "password=***" in started["state"]
    assert "password=***" in elected["state"]
    assert PASSWORD not in daemon.text() + daemon.text("out")
