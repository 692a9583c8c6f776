"""The reload verdict file and `reload --pid` reading it (the daemon side: tests/integration/test_systemd)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.reloadstatus import EXIT_NO_VERDICT, Verdict, read, request_reload, status_path, write


@pytest.mark.parametrize(
    ("env", "directory"),
    [
        (
            {"RUNTIME_DIRECTORY": "/run/workspace-monitor", "XDG_RUNTIME_DIR": "/run/user/1"},
            "/run/workspace-monitor",
        ),
        ({"RUNTIME_DIRECTORY": "/run/a:/run/b"}, "/run/a"),  # several RuntimeDirectory= entries: the first
        ({"XDG_RUNTIME_DIR": "/run/user/1"}, "/run/user/1"),
    ],
)
def test_the_file_is_in_the_runtime_directory_named_by_the_pid(env: dict[str, str], directory: str) -> None:
    assert status_path(42, env) == Path(directory) / "workspace-monitor.42.reload.json"


def test_a_written_verdict_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "v.json"
    write(path, Verdict(3, False, ("rules.yaml:3: unknown key 'chanel'",)))
    assert read(path, os.getpid()) == Verdict(3, False, ("rules.yaml:3: unknown key 'chanel'",))
    assert [p.name for p in tmp_path.iterdir()] == ["v.json"]  # no temporary file left behind


@pytest.mark.parametrize(
    "body",
    [
        "{",  # half a file (never written so: the file is replaced whole)
        "[]",
        json.dumps({"pid": 1, "reloads": 1, "ok": True}),  # another daemon's
        json.dumps({"reloads": 1, "ok": True}),
        json.dumps({"pid": "PID", "reloads": "many", "ok": True}),
    ],
)
def test_a_file_that_is_not_this_daemons_verdict_is_no_verdict(tmp_path: Path, body: str) -> None:
    path = tmp_path / "v.json"
    path.write_text(body.replace('"PID"', str(os.getpid())))
    assert read(path, os.getpid()) is None


@pytest.fixture
def deaf() -> Iterator[int]:
    """A process that ignores SIGHUP and never writes a verdict (an older daemon, a hung one)."""
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),  # ignored across exec
    )
    yield process.pid
    process.kill()
    process.wait()


def test_no_verdict_by_the_deadline_exits_1(tmp_path: Path, deaf: int) -> None:
    ticks = iter(range(100))
    code, lines = request_reload(
        deaf,
        timeout=3,
        env={"RUNTIME_DIRECTORY": str(tmp_path)},
        clock=lambda: float(next(ticks)),
        sleep=lambda _: None,
    )
    assert code == EXIT_NO_VERDICT
    assert lines == [f"no verdict from the daemon (pid {deaf}) within 3s: see its log"]
