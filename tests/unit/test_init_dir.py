"""`workspace-monitor init DIR`: the deployment files the package ships, written out for an installation
without a checkout; never over an operator's files."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.init_dir import FILES, InitRefused, command_line, init, packaged, unit_text

ROOT = Path(__file__).parents[2]
PROGRAM = "/srv/venv/bin/workspace-monitor"

#: The packaged copy of each top-level file (the design card keeps them at the top level).
TOP_LEVEL = {
    "rules-example.yaml": "rules/example.yaml",
    "env.example": "systemd/workspace-monitor.env.example",
    "workspace-monitor.service": "systemd/workspace-monitor.service",
    "slack-manifest.yml": "slack/manifest.yml",
}


@pytest.mark.parametrize(("packaged_name", "top_level"), TOP_LEVEL.items())
def test_the_packaged_files_are_the_top_level_ones(packaged_name: str, top_level: str) -> None:
    assert packaged(packaged_name) == (ROOT / top_level).read_text(encoding="utf-8")


def test_every_shipped_file_is_written(tmp_path: Path) -> None:
    written = init(tmp_path / "etc", program=PROGRAM)
    assert [path.relative_to(tmp_path / "etc").as_posix() for path in written] == [
        "config.yaml",
        "rules/example.yaml",
        "env",
        "workspace-monitor.service",
        "slack-manifest.yml",
        "completion/workspace-monitor.bash",
        "completion/_workspace-monitor",
    ]
    assert (tmp_path / "etc/rules/example.yaml").read_text() == (ROOT / "rules/example.yaml").read_text()
    assert (tmp_path / "etc/slack-manifest.yml").read_text() == (ROOT / "slack/manifest.yml").read_text()


@pytest.mark.parametrize(("target", "mode"), [(f.target, f.mode) for f in FILES])
def test_the_env_file_is_private_and_the_others_readable(tmp_path: Path, target: str, mode: int) -> None:
    init(tmp_path, program=PROGRAM)
    assert stat.S_IMODE((tmp_path / target).stat().st_mode) == mode
    assert (mode == 0o600) == (target == "env")


def test_the_unit_starts_this_installation_with_the_directorys_files(tmp_path: Path) -> None:
    init(tmp_path, program=PROGRAM)
    unit = (tmp_path / "workspace-monitor.service").read_text()
    assert f"ExecStart={PROGRAM} --config {tmp_path}/config.yaml run" in unit
    assert f"EnvironmentFile={tmp_path}/env" in unit
    assert f"ExecReload={PROGRAM} reload" in unit
    assert f"Documentation=file:{sys.prefix}/share/doc/workspace-monitor/README.md" in unit
    assert "/opt/workspace-monitor" not in unit


def test_the_unit_keeps_etc_when_written_there() -> None:
    unit = packaged("workspace-monitor.service")
    written = unit_text(unit, Path("/etc/workspace-monitor"), PROGRAM, prefix="/opt/workspace-monitor")
    assert written == unit.replace("/opt/workspace-monitor/bin/workspace-monitor", PROGRAM)


def test_the_program_is_the_script_beside_the_running_interpreter() -> None:
    """In a venv (as in this test run), bin/workspace-monitor next to bin/python."""
    beside = Path(sys.executable).parent / "workspace-monitor"
    assert command_line() == (
        str(beside.absolute()) if beside.exists() else f"{sys.executable} -m monitor.cli"
    )


def test_the_config_skeleton_passes_check_once_filled_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its rules (relative to it) load, its keys are the config's; only the secrets and the project id
    (and a state file this user may write) are the operator's to give."""
    init(tmp_path, program=PROGRAM)
    config = tmp_path / "config.yaml"
    text = config.read_text().replace("sqlite:///var/lib/workspace-monitor/", f"sqlite:///{tmp_path}/")
    before_metrics, _, _ = text.partition("\nmetrics:")  # the last section; its port may be taken here
    config.write_text(before_metrics)
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "HUAWEICLOUD_SDK_AK": "AK",
        "HUAWEICLOUD_SDK_SK": "SK",
        "HUAWEICLOUD_SDK_PROJECT_ID": "0123456789abcdef0123456789abcdef",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "WORKSPACE_MONITOR_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    assert main(["--config", str(config), "check"]) == 0


def test_existing_files_are_never_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "env").write_text("HUAWEICLOUD_SDK_SK=the operator's\n")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules/example.yaml").write_text("rules: []\n")
    assert main(["init", str(tmp_path)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == (
        f"init: not overwriting {tmp_path}/rules/example.yaml, {tmp_path}/env: "
        "move them away or pick another directory"
    )
    assert (tmp_path / "env").read_text() == "HUAWEICLOUD_SDK_SK=the operator's\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["env", "example.yaml", "rules"]  # nothing written


def test_refusal_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "slack-manifest.yml").write_text("mine\n")
    with pytest.raises(InitRefused):
        init(tmp_path, program=PROGRAM)
    assert [p.name for p in tmp_path.iterdir()] == ["slack-manifest.yml"]


def test_init_says_what_it_wrote_and_what_next(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path / "new")]) == 0
    out = capsys.readouterr().out
    assert f"wrote {tmp_path}/new/env" in out
    assert f"--config {tmp_path}/new/config.yaml check" in out


def test_the_completion_scripts_are_written_and_never_over_an_operators(tmp_path: Path) -> None:
    from monitor.completion import script

    init(tmp_path / "a", program=PROGRAM)
    assert (tmp_path / "a/completion/workspace-monitor.bash").read_text() == script("bash")
    assert (tmp_path / "a/completion/_workspace-monitor").read_text() == script("zsh")
    (tmp_path / "b/completion").mkdir(parents=True)
    (tmp_path / "b/completion/_workspace-monitor").write_text("mine")
    with pytest.raises(InitRefused, match="_workspace-monitor"):
        init(tmp_path / "b", program=PROGRAM)
    assert (tmp_path / "b/completion/_workspace-monitor").read_text() == "mine"
    assert not (tmp_path / "b/config.yaml").exists()
