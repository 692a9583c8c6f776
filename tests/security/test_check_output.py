"""`check` prints every line terminal-safe, as `once` does (issue 20, item 4): a rule file's name, a key or a
value that reaches a problem message carries the operator's data, and an escape sequence in it (a window
title change, a screen clear) is shown replaced, never acted on by the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from monitor.devtools.sim import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from tests.support.daemon import write_config

ESCAPE = "\x1b]0;pwned\x07"
#: The same, as YAML writes it inside a double-quoted string (a raw ESC is not allowed in a YAML stream).
YAML_ESCAPE = "\\e]0;pwned\\a"


def check(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY,
        "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY,
    }
    command = [sys.executable, "-m", "monitor.cli", "check"]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


def test_escape_sequences_in_a_rule_files_name_and_keys_never_reach_the_terminal(tmp_path: Path) -> None:
    write_config(tmp_path, "http://127.0.0.1:9")
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text().replace("rules: rules.yaml", "rules: rules.d"))
    (tmp_path / "rules.d").mkdir()
    (tmp_path / "rules.d" / f"team{ESCAPE}.yaml").write_text(
        f'rules:\n  - name: "x{YAML_ESCAPE}"\n    "bogus{YAML_ESCAPE}": 1\n    match:\n      task_name: "*"\n'
    )
    result = check(tmp_path)
    assert result.returncode == 1
    assert "team\ufffd]0;pwned\ufffd.yaml:3:" in result.stdout
    assert "bogus" in result.stdout
    for control in ("\x1b", "\x07"):
        assert control not in result.stdout + result.stderr


def test_escape_sequences_in_rule_names_and_values_never_reach_the_terminal(tmp_path: Path) -> None:
    """A rule's name, a time interval's name and a runbook link's text, each carrying an escape sequence,
    are refused with the value shown, its control characters made visible."""
    write_config(tmp_path, "http://127.0.0.1:9")
    (tmp_path / "rules.yaml").write_text(
        f'rules:\n  - name: "ops{YAML_ESCAPE}"\n    match:\n      task_name: "*"\n'
        f'    runbook_url: "https://wiki.example/{YAML_ESCAPE}{{bogus}}"\n'
        f'time_intervals:\n  - name: "night{YAML_ESCAPE}"\n'
        "    time_intervals:\n      - weekdays: [saturday]\n"
    )
    result = check(tmp_path)
    assert result.returncode == 1
    assert "rules.yaml:2: rule 'ops" in result.stdout
    assert "rules.yaml:7: time interval 'night" in result.stdout
    assert "bogus" in result.stdout
    for control in ("\x1b", "\x07"):
        assert control not in result.stdout + result.stderr
