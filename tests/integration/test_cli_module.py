"""`python -m monitor` runs the same CLI as the `workspace-monitor` console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from monitor import __version__

ROOT = Path(__file__).parents[2]


def test_python_dash_m_monitor_is_the_cli() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--version"], capture_output=True, text=True, env=env, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, f"workspace-monitor {__version__}")
