"""The `workspace-monitor` command line: parses arguments (the grammar is `monitor.arguments`) and hands each
command to the module that does it (`monitor.listtasks`, `monitor.commands`, `monitor.daemon`, the simulator
and the demo), imported only when that command runs, so a command loads only what it uses (`--help` not even
structlog; tests/unit/test_startup_imports.py, bench/startup.py).

Exit codes: 0 success; 1 the command ran but the outcome is not trustworthy or the API failed (an
incomplete listing, an API error); 2 the command cannot run as configured (bad config, missing credentials,
usage). Errors are one line on stderr saying what is wrong and what to do - never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from monitor.arguments import build_parser

__all__ = ["main"]

EXIT_CONFIG = 2


def main(argv: Sequence[str] | None = None) -> int:
    own_process = argv is None  # the process's own command line: the installed script, python -m monitor.cli
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "simulate":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "tasks":
        # The CA certificates load on another core while `tasks` imports what it needs (GIL released).
        from monitor.workspace.tls import prefetch_default_context

        prefetch_default_context()
    # Imported once a command is known: --help and a usage error need neither. The cyclic collector is paused
    # while they import (see _command).
    from monitor.gc_pause import collector_paused

    with collector_paused():
        import asyncio

        from monitor.logs import configure_logging

    level = {0: "warning", 1: "info"}.get(args.verbose, "debug")
    configure_logging(level)
    try:
        if args.command in ("tasks", "once", "check", "schema"):
            return _command(args, own_process=own_process)
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


def _command(args: argparse.Namespace, *, own_process: bool) -> int:
    import asyncio
    import gc

    from monitor.gc_pause import collector_paused

    if args.command == "tasks":  # first, and alone: listing loads nothing of the runtime
        # What the listing's modules make as they import lives as long as the process, so the cyclic collector
        # finds nothing to free in it: it is paused while they import, and when the process is the command's
        # own, what they made is then frozen out of its way (gc.freeze), so that neither the collections
        # during the listing nor those at exit traverse it again (bench/findings.md, start-up). An in-process
        # caller (a test) keeps a collector that can free everything it had.
        with collector_paused():
            from monitor.listtasks import tasks

            if own_process:
                gc.freeze()

        return asyncio.run(tasks(args))
    from rich.console import Console

    from monitor import commands
    from monitor.tasklist import output_console

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
