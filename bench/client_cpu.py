"""The Workspace client's CPU per listing, this checkout against another one (an A/B on a shared machine).

One simulator (this checkout's, a process of its own) holds ~10,000 failing tasks and answers each request
after 50 ms; each side lists every FAIL task at concurrency 8 in a child process of its own, that imports
`monitor` from its checkout: one warm-up listing, then `--listings` whole listings, each timed with
`time.process_time` in that process. The sides alternate, round after round, so both see the same load;
printed per side: every listing, median, mean, and the ratio of the medians.

`--instructions` counts instructions instead (valgrind's callgrind, one listing a child after the warm-up,
zeroed and dumped around it): about 50 times slower, but nearly free of the machine's noise, which on a
shared 2-core box is as large as the differences looked for (bench/findings.md, the client's CPU).

    .venv/bin/python bench/client_cpu.py --against /path/to/old/checkout [--rounds 6] [--listings 5]
        [--tasks 10545] [--latency-ms 50] [--concurrency 8] [--instructions]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


async def listing_cpu(base: str, concurrency: int) -> float:
    """One whole listing's CPU seconds in this process (imports from whichever checkout is on the path)."""
    from monitor.workspace.auth import AkSkAuth
    from monitor.workspace.client import TaskFilter, WorkspaceClient

    try:
        from monitor.devtools.sim.options import DEFAULT_ACCESS_KEY, DEFAULT_PROJECT_ID, DEFAULT_SECRET_KEY
    except ImportError:  # a checkout from before the layout of issue 16
        from monitor.sim.options import (  # type: ignore[no-redef]
            DEFAULT_ACCESS_KEY,
            DEFAULT_PROJECT_ID,
            DEFAULT_SECRET_KEY,
        )

    auth = AkSkAuth(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, project_id=DEFAULT_PROJECT_ID)
    async with WorkspaceClient(
        endpoint=base, project_id=DEFAULT_PROJECT_ID, auth=auth, concurrency=concurrency
    ) as client:
        started = time.process_time()
        listing = await client.fetch_tasks(TaskFilter(last_status="FAIL"))
        cpu = time.process_time() - started
    if not listing.complete:
        raise RuntimeError(f"incomplete listing: {listing.problems}")
    return cpu


def child(base: str, listings: int, concurrency: int) -> None:
    from monitor.logs import configure_logging

    configure_logging("warning")
    asyncio.run(listing_cpu(base, concurrency))  # warm-up: lazy imports, first connections
    os.getppid()  # where callgrind zeroes its counts (--zero-before=getppid)
    seconds = [asyncio.run(listing_cpu(base, concurrency)) for _ in range(listings)]
    os.getpgrp()  # where callgrind dumps them (--dump-before=getpgrp)
    print(json.dumps(seconds))


def run_side(checkout: Path, base: str, args: argparse.Namespace, dump: Path) -> list[float]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", base]
    command += ["--listings", str(1 if args.instructions else args.listings)]
    command += ["--concurrency", str(args.concurrency)]
    if args.instructions:
        command = [
            "valgrind", "--tool=callgrind", "--zero-before=getppid", "--dump-before=getpgrp",
            f"--callgrind-out-file={dump}", *command,
        ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(checkout), PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(command, env=env, cwd=checkout, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{checkout}: {done.stderr[-2000:]}")
    if not args.instructions:
        return [float(value) for value in json.loads(done.stdout.strip().splitlines()[-1])]
    summary = next(line for line in Path(f"{dump}.1").read_text().splitlines() if line.startswith("summary:"))
    return [float(summary.split()[1])]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", type=Path, help="the other checkout (a git worktree of the old commit)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--listings", type=int, default=5, help="timed listings a child")
    parser.add_argument("--tasks", type=int, default=10_545, help="10,545 tasks list 10,008 FAIL ones")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--instructions", action="store_true", help="count instructions (valgrind)")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.listings, args.concurrency)
        return 0
    sys.path.insert(0, str(HERE))
    from simproc import simulator

    sides = {"this": ROOT}
    if args.against:
        sides["against"] = args.against.resolve()
    unit = "instructions" if args.instructions else "CPU s"
    figures: dict[str, list[float]] = {name: [] for name in sides}
    with simulator(args.tasks, args.latency_ms) as base, tempfile.TemporaryDirectory() as scratch:
        for number in range(args.rounds):
            order = list(sides) if number % 2 == 0 else list(reversed(sides))
            for name in order:
                dump = Path(scratch) / f"{name}.{number}"
                values = run_side(sides[name], base, args, dump)
                figures[name].extend(values)
                shown = " ".join(f"{value:.4g}" for value in values)
                print(f"round {number} {name}: {shown} ({unit} a listing)", flush=True)
    print(f"\nload average at the end: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
    for name, values in figures.items():
        print(
            f"{name:>8}: median {statistics.median(values):.4g}, mean {statistics.mean(values):.4g} "
            f"{unit} a listing over {len(values)} ({sides[name]})"
        )
    if args.against:
        ratio = statistics.median(figures["this"]) / statistics.median(figures["against"])
        print(f"this / against (medians): {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
