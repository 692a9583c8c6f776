"""The command line's grammar: every command of `workspace-monitor` and its options; nothing that runs one.

A module of its own so that `cli.py` (which dispatches the commands) and `completion.py` (which generates
the shell scripts from this parser, also for `init`) both build on it without importing each other. It
imports only the API's vocabulary (the choices of `tasks`), so `--help` stays cheap.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from monitor import __version__
from monitor.workspace.vocabulary import LAST_STATUSES, SCHEDULED_TYPES, TASK_TYPES

__all__ = ["build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workspace-monitor",
        description="Alerting daemon and Slack chatops bot for Huawei Cloud Workspace scheduled tasks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_common(parser, default_config=None, default_verbose=0)
    # Every command takes the common options too, after its name (`workspace-monitor check --config F`, as
    # people type it); given there, they win over the same option before the name.
    common = argparse.ArgumentParser(add_help=False)
    _add_common(common, default_config=argparse.SUPPRESS, default_verbose=argparse.SUPPRESS)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, **options: Any) -> argparse.ArgumentParser:
        return subparsers.add_parser(name, parents=[common], **options)

    tasks = command("tasks", help="list scheduled tasks from the Workspace API")
    tasks.add_argument(
        "--status",
        type=str.upper,
        choices=(*LAST_STATUSES, "ANY"),
        default="ANY",
        help="last execution status (default: any)",
    )
    tasks.add_argument("--type", dest="task_type", type=str.upper, choices=TASK_TYPES, help="task type")
    tasks.add_argument(
        "--schedule",
        type=str.upper,
        choices=SCHEDULED_TYPES,
        help="scheduled type (default: all, triggered LIFE_CYCLE tasks included)",
    )
    tasks.add_argument("--name", help="task name to look for")
    tasks.add_argument("--json", action="store_true", help="print JSON instead of a table")

    run = command("run", help="the daemon (what systemd starts)")
    run.add_argument("--rules", type=Path, help="rule file or directory (default: `rules:` of the config)")

    once = command("once", help="one full cycle: poll, evaluate, persist, deliver")
    once.add_argument("--dry-run", action="store_true", help="print what would be sent; change nothing")
    once.add_argument("--rules", type=Path, help="rule file or directory (default: `rules:` of the config)")

    check = command("check", help="validate the config and the rules; file:line for each problem")
    check.add_argument("--rules", type=Path, help="rule file or directory (default: `rules:` of the config)")
    check.add_argument(
        "--online",
        action="store_true",
        help="also ask the Workspace API and Slack whether the credentials, tokens and scopes work",
    )

    command("schema", help="print the JSON Schema of the rule file (for editors)")

    reload = command("reload", help="SIGHUP the daemon and wait for its verdict (systemd's ExecReload=)")
    reload.add_argument("--pid", type=int, required=True, help="the daemon's process id ($MAINPID)")
    reload.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for it (default: 30)")

    # The simulator's own flags (and its --help) are parsed by `_simulate`, so that no other command loads
    # the developer tools (monitor.devtools).
    command("simulate", add_help=False, help="run the Workspace API simulator on loopback")

    command("demo", help="the scripted end-to-end demo behind `make demo`")

    completion = command("completion", help="print the bash or zsh completion script (see the README)")
    completion.add_argument("shell", choices=("bash", "zsh"))

    init = command("init", help="write the config skeleton, rules, env file and systemd unit into DIR")
    init.add_argument("directory", type=Path, metavar="DIR", help="e.g. /etc/workspace-monitor")
    return parser


def _add_common(parser: argparse.ArgumentParser, *, default_config: object, default_verbose: object) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=default_config,
        help="config file (default: $WORKSPACE_MONITOR_CONFIG or ./config.yaml)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=default_verbose, help="more log output (-vv for debug)"
    )
