"""The `workspace-monitor` command line: parses arguments and hands each command to the module that does it
(`monitor.commands`, `monitor.daemon`, the simulator and the demo), imported only when that command runs.

Exit codes: 0 success; 1 the command ran but the outcome is not trustworthy or the API failed (an
incomplete listing, an API error); 2 the command cannot run as configured (bad config, missing credentials,
usage). Errors are one line on stderr saying what is wrong and what to do - never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitor import __version__
from monitor.logs import configure_logging
from monitor.workspace.vocabulary import LAST_STATUSES, SCHEDULED_TYPES, TASK_TYPES

__all__ = ["main"]

EXIT_CONFIG = 2


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "simulate":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    level = {0: "warning", 1: "info"}.get(args.verbose, "debug")
    configure_logging(level)
    try:
        if args.command in ("tasks", "once", "check", "schema"):
            return _command(args)
        if args.command == "run":
            from monitor.daemon import DaemonOptions, run_daemon

            configure_logging("info" if args.verbose == 0 else level)
            return asyncio.run(run_daemon(DaemonOptions(args.config, args.rules)))
        if args.command == "reload":
            from monitor.reloadstatus import request_reload

            code, lines = request_reload(args.pid, timeout=args.timeout)
            print(
                "\n".join(f"workspace-monitor: {line}" for line in lines),
                file=sys.stderr if code else sys.stdout,
            )
            return code
        if args.command == "simulate":
            configure_logging("info" if args.verbose == 0 else level)
            return _simulate(args, rest)
        if args.command == "demo":
            from monitor.devtools.demo import tour

            return tour.run()
        if args.command == "init":
            return _init(args.directory)
        if args.command == "completion":
            from monitor.completion import script

            sys.stdout.write(script(args.shell))
            return 0
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command}")  # pragma: no cover - argparse already refused it
    return EXIT_CONFIG  # pragma: no cover


def _init(directory: Path) -> int:
    from monitor.init_dir import InitRefused, command_line, init

    try:
        written = init(directory)
    except InitRefused as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:
        print(f"init: cannot write into {directory}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_CONFIG
    for path in written:
        print(f"wrote {path}")
    config, env, unit = written[0], written[2], written[3]
    print(f"next: fill in {env} and {config}, then")
    print(f"  (set -a; . {env}; {command_line()} --config {config} check)")
    print(
        f"  cp {unit} /etc/systemd/system/ && systemctl daemon-reload && systemctl enable --now {unit.stem}"
    )
    bash, zsh = written[-2], written[-1]
    print(f"shell completion: copy {bash} to /etc/bash_completion.d/workspace-monitor, {zsh} into $fpath")
    return 0


def _simulate(args: argparse.Namespace, rest: list[str]) -> int:
    from monitor.devtools.sim import cli as sim_cli

    parser = argparse.ArgumentParser(
        prog="workspace-monitor simulate", description="Run the Workspace API simulator on loopback."
    )
    sim_cli.add_arguments(parser)
    return sim_cli.run(parser.parse_args(rest, namespace=args))


def _command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from monitor import commands
    from monitor.tasklist import output_console

    if args.command == "tasks":
        return asyncio.run(commands.tasks(args))
    if args.command == "once":
        err = Console(stderr=True, soft_wrap=True)  # an error is one line, whatever the width
        return asyncio.run(
            commands.once(args.config, args.rules, dry_run=args.dry_run, console=output_console(), err=err)
        )
    if args.command == "check":
        # What `run` checks before starting too (monitor.preflight): `check` passing means `run` starts.
        return commands.check(args.config, args.rules, output_console(), online=args.online)
    return commands.schema()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
