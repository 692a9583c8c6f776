"""`check` with `reports:`: each report's next firing said (where, what it covers), a scope naming no rule
refused at its line."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from monitor.commands import check

CONFIG = """\
workspace:
  project_id: 0123456789abcdef0123456789abcdef
  region: cn-north-4
state:
  url: sqlite:///{tmp}/state.db
rules: rules.yaml
slack:
  default_channel: "#ops"
reports:
  - name: weekly
    channel: "#desktop-ops"
    schedule: "0 9 * * mon"
    zone: Europe/Berlin
    scope:
      rules: [{rule}]
"""


def checked(tmp_path: Path, rule: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, list[str]]:
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", "ak")
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "sk")
    (tmp_path / "rules.yaml").write_text("rules:\n  - name: prod\n")
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(CONFIG.format(tmp=tmp_path, rule=rule)))
    out = io.StringIO()
    code = check(config, None, Console(file=out, width=300))
    return code, out.getvalue().splitlines()


def test_check_says_when_each_report_is_next_posted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, lines = checked(tmp_path, "prod", monkeypatch)
    assert code == 0, lines
    [line] = [line for line in lines if line.startswith("report weekly:")]
    assert line.endswith("Europe/Berlin, to #desktop-ops, the 7 days before that day")
    assert " 09:00 " in line


def test_check_refuses_a_scope_naming_no_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, lines = checked(tmp_path, "prdo", monkeypatch)
    assert code == 1
    assert (
        f"{tmp_path / 'config.yaml'}:15: reports.0.scope.rules: no rule named 'prdo' (the rules: prod)"
        in lines
    )
