"""`workspace-monitor simulate`: the simulator's flags, and serving until SIGINT/SIGTERM.

The main command line owns the parser; this module only adds its flags (`add_arguments`) and runs
(`run`). On start it prints one line with the URL, the environment to export so the monitor (or the
official SDK) talks to it, and how many tasks FAIL and SKIP.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from monitor.devtools.sim.options import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    SimOptions,
)
from monitor.devtools.sim.runner import Simulator, start_simulator
from monitor.devtools.sim.scenario import load_scenario

__all__ = ["add_arguments", "banner", "options_from_args", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    add("--port", type=int, default=8900, help="port, 0 for any free one (default: %(default)s)")
    add("--tasks", type=int, default=500, help="how many scheduled tasks to generate (default: %(default)s)")
    add(
        "--fail-rate",
        type=float,
        default=0.05,
        help="share of tasks that last FAILed (default: %(default)s)",
    )
    add(
        "--skip-rate",
        type=float,
        default=0.02,
        help="share of tasks that last SKIPped (default: %(default)s)",
    )
    add("--seed", type=int, default=1, help="generation seed; same seed, same tasks (default: %(default)s)")
    add("--latency-ms", type=float, default=0.0, help="delay before every API answer (default: %(default)s)")
    add(
        "--error-rate",
        type=float,
        default=0.0,
        help="share of /v2 requests answered 5xx (default: 0)",
    )
    add(
        "--scenario",
        type=Path,
        default=None,
        help="YAML file of steps (POST /_sim/scenario/advance runs one)",
    )
    add("--step-seconds", type=float, default=None, help="run one scenario step every this many seconds")
    add("--project-id", default=DEFAULT_PROJECT_ID, help="the one project id the API accepts")
    add("--access-key", default=DEFAULT_ACCESS_KEY, help="accepted AK (default: %(default)s)")
    add("--secret-key", default=DEFAULT_SECRET_KEY, help="its SK (default: the well-known simulator SK)")
    add(
        "--not-found-status",
        type=int,
        choices=(400, 404),
        default=400,
        help="HTTP status of an unknown task or record id (default: %(default)s, as the real API)",
    )
    add(
        "--time-format",
        choices=("local", "rfc3339"),
        default="local",
        help="times in the API reference's local form, or RFC 3339 in UTC (default: %(default)s)",
    )
    add(
        "--token-ttl",
        type=float,
        default=86400.0,
        help="IAM token lifetime in seconds (default: %(default)s)",
    )


def options_from_args(args: argparse.Namespace) -> SimOptions:
    return SimOptions(
        host=args.host,
        port=args.port,
        tasks=args.tasks,
        fail_rate=args.fail_rate,
        skip_rate=args.skip_rate,
        seed=args.seed,
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        project_id=args.project_id,
        access_key=args.access_key,
        secret_key=args.secret_key,
        token_ttl_seconds=args.token_ttl,
        not_found_status=args.not_found_status,
        time_format=args.time_format,
        scenario=args.scenario,
        step_seconds=args.step_seconds,
    )


def banner(sim: Simulator) -> str:
    """The start line. The SK is printed on purpose: it is the simulator's own and must be exported."""
    opts = sim.state.options
    counts = sim.state.counts()
    return (
        f"Workspace API simulator on {sim.base_url} - {len(sim.state.tasks)} tasks, "
        f"{counts['FAIL']} FAIL, {counts['SKIP']} SKIP - "
        f"export HUAWEICLOUD_SDK_AK={opts.access_key} HUAWEICLOUD_SDK_SK={opts.secret_key} "
        f"HUAWEICLOUD_SDK_PROJECT_ID={opts.project_id} WORKSPACE_ENDPOINT={sim.base_url}"
    )


async def _serve(options: SimOptions) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on some platforms
            loop.add_signal_handler(signum, stop.set)
    async with start_simulator(options) as sim:
        print(banner(sim), flush=True)
        await stop.wait()


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; 0 on a clean stop, 2 for bad options, 1 when the port cannot be opened."""
    try:
        options = options_from_args(args)
        if options.scenario is not None:
            load_scenario(options.scenario)  # fail before listening, with the file's problem
    except (ValueError, OSError) as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(options))
    except OSError as exc:
        print(f"simulate: cannot listen on {options.host}:{options.port}: {exc}", file=sys.stderr)
        return 1
    return 0
