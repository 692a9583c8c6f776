"""RE2 is loaded at the first `re:` task name pattern: a daemon whose rules have none never maps the library
(its share of a daemon's RSS, bench/findings.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CODE = """
import sys
from monitor.engine import Engine
from monitor.rules.index import match
from monitor.rules.load import load_rules_text
from monitor.workspace.models import ScheduledTask

text = 'rules:\\n  - name: prod\\n    match: {task_name: "prod-*"}\\n    channel: "#ops"\\n'
ruleset = load_rules_text(text, "r.yaml")
routes = match(ruleset, ScheduledTask(id="t-1", task_name="prod-reboot", last_status="FAIL"), "p")
print(len(routes), "re2" in sys.modules)
"""


def test_rules_without_a_regex_do_not_load_re2() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "False"]
