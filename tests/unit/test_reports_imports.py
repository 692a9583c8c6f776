"""matplotlib is imported when a report's chart is drawn, never by the daemon's wiring, `check` or the chat
app (its import takes about a second)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_runtime_and_the_chat_app_do_not_import_matplotlib() -> None:
    code = (
        "import sys, monitor.runtime, monitor.commands, monitor.chatops.handlers, monitor.slack.report; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
