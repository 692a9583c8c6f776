"""`workspace-monitor init DIR`: writes out the deployment files the package ships (monitor/deploy/), so an
installation from a wheel needs no checkout.

DIR gets `config.yaml` (a skeleton with comments), `rules/example.yaml`, `env` (the secrets' names, mode
0600), `workspace-monitor.service` (the systemd unit, its `ExecStart` naming this installation's executable
and DIR's files, `Documentation=` its README), `slack-manifest.yml`, and the shell completion scripts
(`completion/workspace-monitor.bash`, `completion/_workspace-monitor` for zsh; see monitor/completion.py).
Nothing is overwritten: when any of them exists, nothing is written and the one line says which.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = ["COMPLETIONS", "FILES", "InitRefused", "command_line", "init", "packaged", "unit_text"]

#: Where the unit in the package (systemd/workspace-monitor.service) expects the program and its files.
UNIT_PREFIX = "/opt/workspace-monitor"
UNIT_PROGRAM = f"{UNIT_PREFIX}/bin/workspace-monitor"
UNIT_DIR = "/etc/workspace-monitor"


@dataclass(frozen=True)
class DeployFile:
    #: The file's name in monitor/deploy/.
    source: str
    #: Where it goes, relative to DIR.
    target: str
    mode: int


FILES = (
    DeployFile("config.yaml", "config.yaml", 0o644),
    DeployFile("rules-example.yaml", "rules/example.yaml", 0o644),
    DeployFile("env.example", "env", 0o600),
    DeployFile("workspace-monitor.service", "workspace-monitor.service", 0o644),
    DeployFile("slack-manifest.yml", "slack-manifest.yml", 0o644),
)


#: The completion scripts (generated from the parser, not packaged): shell, where they go relative to DIR.
COMPLETIONS = (("bash", "completion/workspace-monitor.bash"), ("zsh", "completion/_workspace-monitor"))


class InitRefused(Exception):
    """DIR already holds some of the files: the message names them."""


def packaged(name: str) -> str:
    """The text of a file in monitor/deploy/."""
    return resources.files("monitor").joinpath("deploy", name).read_text(encoding="utf-8")


def command_line() -> str:
    """How systemd starts this installation: its `workspace-monitor` script next to the running interpreter
    (a venv's bin/), else the script this process was started as, else the interpreter with `-m`."""
    beside = Path(sys.executable).parent / "workspace-monitor"
    if beside.is_file() and os.access(beside, os.X_OK):
        return shlex.quote(str(beside.absolute()))
    started = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if started is not None and started.name == "workspace-monitor" and started.is_file():
        return shlex.quote(str(started.absolute()))
    return f"{shlex.quote(str(Path(sys.executable).absolute()))} -m monitor.cli"


def unit_text(unit: str, directory: Path, program: str, prefix: str | None = None) -> str:
    """The packaged unit with this installation's program, its prefix (sys.prefix: the venv, where the
    README of `Documentation=` is) and DIR in place of /opt/workspace-monitor/bin/..., /opt/... and
    /etc/..."""
    return (
        unit.replace(UNIT_PROGRAM, program)
        .replace(f"{UNIT_PREFIX}/", f"{prefix or sys.prefix}/")
        .replace(f"{UNIT_DIR}/", f"{directory}/")
    )


def init(directory: Path, program: str | None = None) -> list[Path]:
    """Write the deployment files into `directory` (created if missing); the paths written, in FILES' order.
    Raises InitRefused, writing nothing, when any of them exists."""
    directory = directory.absolute()
    targets = [f.target for f in FILES] + [target for _, target in COMPLETIONS]
    existing = [directory / target for target in targets if (directory / target).exists()]
    if existing:
        names = ", ".join(str(path) for path in existing)
        raise InitRefused(f"init: not overwriting {names}: move them away or pick another directory")
    written = []
    for item in FILES:
        text = packaged(item.source)
        if item.target.endswith(".service"):
            text = unit_text(text, directory, program or command_line())
        written.append(_write(directory / item.target, text, item.mode))
    from monitor.completion import script

    for shell, target in COMPLETIONS:
        written.append(_write(directory / target, script(shell), 0o644))
    return written


def _write(target: Path, text: str, mode: int) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: a file appearing meanwhile is not overwritten either; the mode is set before any secret is
    # written into the file.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), mode)  # whatever the umask
        out.write(text)
    return target
