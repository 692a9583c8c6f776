"""The daemon as systemd runs it: its log lines in the journal at their priority, and `systemctl reload`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.devtools.sim import SimulatorThread
from tests.support.daemon import DaemonProcess, simulator_with, write_config


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with simulator_with("prod-reboot", "lab-start") as running:
        yield running


def test_on_the_journal_every_log_line_carries_its_priority(tmp_path: Path, sim: SimulatorThread) -> None:
    """JOURNAL_STREAM naming the daemon's stderr (as systemd sets it): errors at <3>, the rest at <6>, so
    `journalctl -p err` shows the failed cycles."""
    write_config(tmp_path, sim.base_url)
    err = tmp_path / "daemon.stderr.txt"
    err.touch()  # DaemonProcess reopens it: same inode
    stat = err.stat()
    sim.call(sim.state.add_fault, "status", endpoint="list", status=503, count=40)
    daemon = DaemonProcess(tmp_path, JOURNAL_STREAM=f"{stat.st_dev}:{stat.st_ino}")
    try:
        daemon.wait_for('"cycle.failed"')
    finally:
        assert daemon.stop() == 0
    lines = daemon.text().splitlines()
    assert all(re.match(r"<[2-7]>\{", line) for line in lines), lines
    assert any(line.startswith("<3>") and '"cycle.failed"' in line for line in lines)
    assert any(line.startswith("<6>") and '"daemon.started"' in line for line in lines)
