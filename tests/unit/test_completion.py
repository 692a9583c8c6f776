"""Shell completion: `workspace-monitor completion bash|zsh` prints a script generated from the parser
itself, so it knows every command; bash completes commands, options and choices with it."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import pytest

from monitor.arguments import build_parser
from monitor.cli import main
from monitor.completion import SHELLS, script


def commands() -> list[str]:
    [sub] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return list(sub.choices)


@pytest.mark.parametrize("shell", SHELLS)
def test_the_script_names_every_command(shell: str) -> None:
    text = script(shell)
    assert {"run", "check", "once", "tasks", "init", "completion"} <= set(commands())
    for name in commands():
        assert name in text


def test_the_command_prints_the_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "zsh"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("#compdef workspace-monitor")
    assert out == script("zsh")


BASH = shutil.which("bash")


@pytest.mark.skipif(BASH is None, reason="no bash")
def test_the_bash_script_is_valid_bash(tmp_path: Path) -> None:
    (tmp_path / "wm.bash").write_text(script("bash"))
    assert subprocess.run([BASH or "bash", "-n", tmp_path / "wm.bash"], check=False).returncode == 0


@pytest.mark.skipif(BASH is None, reason="no bash")
@pytest.mark.parametrize(
    ("words", "offered"),
    [
        (["ch"], ["check"]),
        (["check", "--o"], ["--online"]),
        (["completion", ""], ["bash", "zsh"]),
        (["tasks", "--status", "F"], ["FAIL"]),
    ],
)
def test_bash_completes_commands_options_and_choices(
    tmp_path: Path, words: list[str], offered: list[str]
) -> None:
    (tmp_path / "wm.bash").write_text(script("bash"))
    line = " ".join(["workspace-monitor", *words])
    driver = (
        f"source {tmp_path / 'wm.bash'}; COMP_WORDS=(workspace-monitor {' '.join(repr(w) for w in words)}); "
        f"COMP_CWORD={len(words)}; COMP_LINE={line!r}; COMP_POINT={len(line)}; "
        '_shtab_workspace_monitor; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run([BASH or "bash", "-c", driver], capture_output=True, text=True, check=True)
    assert done.stdout.split() == offered


def test_path_options_complete_file_names() -> None:
    text = script("bash")
    assert "_shtab_workspace_monitor_check___config_COMPGEN=_shtab_compgen_files" in text
    assert "_shtab_workspace_monitor_check___rules_COMPGEN=_shtab_compgen_files" in text
