"""The command line's common options: before the command's name, or after it (as people type them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.arguments import build_parser


@pytest.mark.parametrize(
    ("argv", "config", "verbose"),
    [
        pytest.param(["check"], None, 0, id="neither"),
        pytest.param(["--config", "a.yaml", "check"], Path("a.yaml"), 0, id="before the command"),
        pytest.param(["check", "--config", "b.yaml", "-vv"], Path("b.yaml"), 2, id="after the command"),
        pytest.param(["--config", "a.yaml", "-v", "check"], Path("a.yaml"), 1, id="not reset by the command"),
        pytest.param(["--config", "a.yaml", "run", "--config", "b.yaml"], Path("b.yaml"), 0, id="after wins"),
    ],
)
def test_the_common_options_go_before_or_after_the_command(
    argv: list[str], config: Path | None, verbose: int
) -> None:
    args = build_parser().parse_args(argv)
    assert (args.config, args.verbose) == (config, verbose)


@pytest.mark.parametrize("command", ["run", "once", "check", "tasks", "schema", "simulate", "demo"])
def test_every_command_takes_the_config_after_its_name(command: str) -> None:
    assert build_parser().parse_args([command, "--config", "c.yaml"]).config == Path("c.yaml")
