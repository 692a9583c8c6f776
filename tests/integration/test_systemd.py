"""The daemon as systemd runs it: its log lines in the journal at their priority, and `systemctl reload`."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.devtools.sim import SimulatorThread
from tests.support.daemon import RULES, DaemonProcess, simulator_with, write_config


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


def reload_command(tmp_path: Path, pid: int) -> subprocess.CompletedProcess[str]:
    """`workspace-monitor reload --pid $MAINPID`, as ExecReload= runs it (same RUNTIME_DIRECTORY)."""
    env = {"PATH": os.environ["PATH"], "RUNTIME_DIRECTORY": str(tmp_path / "run")}
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "reload", "--pid", str(pid), "--timeout", "30"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_reload_says_whether_the_daemon_took_the_new_config(tmp_path: Path, sim: SimulatorThread) -> None:
    """ExecReload's command: exit 0 once the new rules are in force; exit 2 naming the first problem when the
    daemon rejects them (the old ones stay). systemd hears RELOADING=1 (MONOTONIC_USEC) then READY=1."""
    write_config(tmp_path, sim.base_url)
    (tmp_path / "run").mkdir(mode=0o700)
    notify = str(tmp_path / "notify.sock")
    messages: list[str] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(notify)
        listener.settimeout(0.2)
        stop = threading.Event()

        def drain() -> None:  # as systemd does: a full queue would block the daemon's sends
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    messages.append(listener.recv(4096).decode())

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        daemon = DaemonProcess(tmp_path, NOTIFY_SOCKET=notify, RUNTIME_DIRECTORY=str(tmp_path / "run"))
        try:
            daemon.wait_for('"daemon.started"')
            (tmp_path / "rules.yaml").write_text(RULES.replace("prod-*", "lab-*"))
            good = reload_command(tmp_path, daemon.process.pid)
            assert (good.returncode, good.stderr) == (0, "")
            assert "reloaded" in good.stdout
            daemon.wait_for('"config.reloaded"')

            (tmp_path / "rules.yaml").write_text("rules:\n  - name: x\n    chanel: '#ops'\n")
            bad = reload_command(tmp_path, daemon.process.pid)
            assert bad.returncode == 2
            [first, *_] = bad.stderr.splitlines()
            assert first.startswith("workspace-monitor: reload rejected, the previous config and rules stay")
            assert "rules.yaml:3" in first

            sim.call(sim.state.add_execution, sim.state.task("lab-start").id, "FAIL")
            daemon.wait_for("new alert: lab-start", stream="out")  # the good reload's rules are in force
        finally:
            assert daemon.stop() == 0
            stop.set()
            reader.join()
    assert not list((tmp_path / "run").iterdir())  # the verdict file goes with the daemon
    reloading = [m for m in messages if m.startswith("RELOADING=1\n")]
    ready = [m for m in messages if m.startswith("READY=1\n")]
    assert len(reloading) == 2, messages
    assert all(re.search(r"^MONOTONIC_USEC=\d+$", m, re.MULTILINE) for m in reloading)
    assert ready[1] == "READY=1\nSTATUS=reloaded"
    assert ready[2].startswith("READY=1\nSTATUS=reload rejected, config kept: ")
    assert "rules.yaml:3" in ready[2]
    assert messages.index(reloading[0]) < messages.index(ready[1]) < messages.index(reloading[1])


def test_reload_of_a_process_that_is_not_there_fails_at_once(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    result = reload_command(tmp_path, gone.pid)
    assert result.returncode == 2
    assert f"no process {gone.pid}" in result.stderr


def test_a_state_that_cannot_be_reached_yet_exits_1_which_systemd_restarts(
    tmp_path: Path, sim: SimulatorThread
) -> None:
    """PostgreSQL down at boot may come back: exit 1 (Restart=on-failure), not 2 (no restart)."""
    pytest.importorskip("psycopg")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        config = write_config(tmp_path, sim.base_url)
        config.write_text(
            config.read_text().replace(
                f"sqlite:///{tmp_path}/state.db", f"postgresql://wm:pw@127.0.0.1:{port}/wm?connect_timeout=5"
            )
        )
        daemon = DaemonProcess(tmp_path)
        assert daemon.process.wait(timeout=60) == 1
    assert "cannot reach PostgreSQL" in daemon.text()
