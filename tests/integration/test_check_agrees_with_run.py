"""`check` and `run` as an operator runs them: what `run` refuses, `check` reports (issue 20, items 14 and
16). Both ask `monitor.preflight.start_problems` (its cases are in tests/unit/test_preflight.py); this holds
the wiring, as processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from monitor.devtools.sim import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from tests.support.daemon import write_config

ENV = {"HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY, "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY}


def command(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        cwd=tmp_path, env={"PATH": os.environ["PATH"], **ENV}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_a_metrics_port_in_use_is_reported_by_check_and_refused_by_run_in_one_line(tmp_path: Path) -> None:
    """`run` died with an OSError traceback after `check` said OK."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # An endpoint nobody answers on: `run` must refuse before it polls anything.
        write_config(
            tmp_path, "http://127.0.0.1:9", extra=f"slack:\n  mode: none\nmetrics:\n  listen: {port}\n"
        )
        checked = command(tmp_path, "check")
        ran = command(tmp_path, "run")
    line = f"metrics.listen '127.0.0.1:{port}': port {port} is in use"
    assert checked.returncode == 1
    assert line in checked.stdout
    assert ran.returncode == 2
    [said] = [text for text in ran.stderr.splitlines() if text.startswith("workspace-monitor:")]
    assert line in said
    assert "Traceback" not in ran.stderr
    assert not (tmp_path / "state.db").exists()
