"""Steady state: the real daemon for many cycles, its RSS and open file descriptors sampled from /proc.

An hour of 5-second cycles (720) compressed: `workspace-monitor run` as a child process polls every second
the Workspace simulator (2,000 tasks, 5% failing, in this process) and delivers to the Slack stand-in
(alerts, edits, recoveries; paced as in production at ~1 message/s/channel, and a cycle waits for its
delivery, so the churn is kept below that). Meanwhile tasks keep changing: every `--churn-every` seconds a
task gets a new FAIL, SKIP or SUCCESS execution, so alerts open, recur and resolve all along. The changing
tasks are a fixed pool (`--pool`), so the workload is stationary: as many alerts open as close, and lasting
growth is the daemon's, not the data's. Every second the daemon's VmRSS (/proc/<pid>/status) and open fds
(/proc/<pid>/fd) are read.

The verdict is about what grows, not about RSS: a 2-minute RSS slope is the allocator's arenas and the
page cache as much as the daemon's objects, and on a shared machine it swings across runs (issue 17 #9).
So the daemon runs with tracemalloc (`bench/probe/sitecustomize.py`, put first on its PYTHONPATH), which
reads every `--probe-every` seconds the traced total once the daemon is between cycles and the cyclic
garbage is collected (what is alive), and every `--sites-every` seconds after `--warmup` (imports, first
cycle, caches filling) the size and blocks of every allocation site (file:line, with the line of monitor/
that led there). The median slope between any two readings (Theil-Sen: a reading taken a moment early
does not tilt it) gives the net growth per cycle, of the whole and of each site; the sites growing most
are printed. Targets: Python memory alive between cycles grows under 1 KB per cycle (0.7 MB per hour of
5-second cycles), and open fds are back where they were (within 2). RSS (first, last, slope over the
second half) is printed for information only; tracemalloc's bookkeeping is in it (about 2x).

    .venv/bin/python bench/steady.py [--seconds 200] [--warmup 40] [--probe-every 5] [--sites-every S]
        [--tasks 2000] [--churn-every 2] [--pool 100] [--frames 1] [--probe-file PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository: tests/ holds the harness

from monitor.devtools.sim import SimOptions, SimulatorThread
from monitor.devtools.slackstub import SlackStubThread
from monitor.devtools.slackstub.options import DEFAULT_TOKEN
from monitor.logs import configure_logging
from tests.support.daemon import DaemonProcess, write_config

RULES = """\
rules:
  - name: prod
    match: {task_name: "prod-*"}
    channel: "#ops"
    repeat_interval: 1h
    notify_resolved: true
  - name: rest
    match: {}
    channel: "#desktop-ops"
    repeat_interval: 1h
    notify_resolved: true
"""
#: Cycles of `workspace.poll_interval` 5s in an hour, for the per-hour slope.
CYCLES_PER_HOUR = 720
#: Net growth of the Python objects at rest, per cycle: 1 KB is 0.7 MB an hour of 5-second cycles.
GROWTH_TARGET_BYTES = 1024
FD_TOLERANCE = 2
PROBE = Path(__file__).resolve().parent / "probe"
#: How many of the fastest-growing allocation sites are printed.
TOP_SITES = 8


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@dataclass(frozen=True)
class Growth:
    """What grew after warm-up, per cycle: the traced total at rest, blocks, and the sites growing most."""

    cycles: float  # cycles in the window the lines span
    bytes_per_cycle: float
    blocks_per_cycle: float
    sites: list[tuple[str, float, int]]  # (file:line, bytes per cycle, bytes first -> last)


def slope(times: list[float], values: list[float]) -> float:
    """Theil-Sen: the median of the slopes between every two readings. A reading taken a moment too early
    (a cycle's objects still alive) moves a least-squares line a lot over a few dozen cycles; this not."""
    pairs = [
        (values[j] - values[i]) / (times[j] - times[i])
        for i in range(len(times))
        for j in range(i + 1, len(times))
        if times[j] != times[i]
    ]
    return statistics.median(pairs) if pairs else 0.0


def growth(lines: list[dict[str, Any]], cycles_per_s: float) -> Growth:
    """Slopes (Theil-Sen) through the probe's lines (already past the warm-up) read at rest, per cycle:
    the live total through each, blocks and sites through those carrying sites."""
    per_cycle = 1 / cycles_per_s
    times = [float(line["t"]) for line in lines]
    rested = [line for line in lines if line["rested"]]
    live = [float(line["rest"]) for line in rested]
    at_rest = slope([float(line["t"]) for line in rested], live) * per_cycle
    snapshots = [line for line in rested if "sites" in line]
    snap_times = [float(line["t"]) for line in snapshots]
    blocks = [float(sum(count for _, count in line["sites"].values())) for line in snapshots]
    names = {name for line in snapshots for name in line["sites"]}
    sites = []
    for name in names:
        sizes = [float(line["sites"].get(name, (0, 0))[0]) for line in snapshots]
        sites.append((name, slope(snap_times, sizes) * per_cycle, int(sizes[-1] - sizes[0])))
    sites.sort(key=lambda site: site[1], reverse=True)
    span = (times[-1] - times[0]) * cycles_per_s
    return Growth(span, at_rest, slope(snap_times, blocks) * per_cycle, sites[:TOP_SITES])


def short(site: str) -> str:
    """A site's paths from the repository or site-packages on, not the whole of them."""
    return " <- ".join(_short_path(part) for part in site.split(" <- "))


def _short_path(path: str) -> str:
    for marker in ("/site-packages/", "/lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    root = str(Path(__file__).resolve().parent.parent) + "/"
    return path.removeprefix(root)


def churn(base: str, ids: list[str], rng: random.Random, count: int) -> None:
    """A new execution for `count` random tasks, through the simulator's control API."""
    for task_id in rng.sample(ids, count):
        status = rng.choices(("FAIL", "SKIP", "SUCCESS"), (3, 1, 4))[0]
        request = urllib.request.Request(
            f"{base}/_sim/tasks/{task_id}/executions",
            data=json.dumps({"status": status}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10):
            pass


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=200, help="how long the daemon runs (1 cycle/s)")
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--churn-every", type=int, default=2, help="seconds between new executions")
    parser.add_argument("--pool", type=int, default=100, help="the tasks that change (the first ones)")
    parser.add_argument("--warmup", type=int, default=40, help="seconds left out of the growth figures")
    parser.add_argument("--probe-every", type=float, default=5, help="seconds between tracemalloc readings")
    parser.add_argument(
        "--frames",
        type=int,
        default=1,
        help="frames tracemalloc keeps per allocation: more name the line of monitor/ behind a site, "
        "at a cost (8 frames: a count of sites takes ~30 s on a loaded 2-core machine)",
    )
    parser.add_argument("--probe-file", type=Path, help="keep the probe's readings there (JSON lines)")
    parser.add_argument(
        "--sites-every",
        type=float,
        help="seconds between allocation site counts (default: a third of the time after warm-up)",
    )
    args = parser.parse_args()
    configure_logging("warning")
    rng = random.Random(11)
    samples: list[tuple[float, int, int]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-steady-") as scratch,
        SimulatorThread(SimOptions(tasks=args.tasks, fail_rate=0.05, skip_rate=0.01, seed=9)) as sim,
        SlackStubThread() as slack,
    ):
        ids = [task.id for task in sim.state.tasks][: args.pool]
        extra = f"slack:\n  mode: none\n  api_url: {slack.api_url}\n  default_channel: '#desktop-ops'\n"
        write_config(Path(scratch), sim.base_url, rules=RULES, extra=extra, poll_interval="1s")
        probe_out = args.probe_file or Path(scratch) / "probe.jsonl"
        # DaemonProcess hands the child this process's PYTHONPATH: the probe first, then what was there.
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROBE), os.environ.get("PYTHONPATH")]))
        daemon = DaemonProcess(
            Path(scratch),
            SLACK_BOT_TOKEN=DEFAULT_TOKEN,
            STEADY_PROBE_OUT=str(probe_out),
            STEADY_PROBE_EVERY=str(args.probe_every),
            STEADY_PROBE_FRAMES=str(args.frames),
            STEADY_PROBE_SITES_EVERY=str(args.sites_every or max(10, (args.seconds - args.warmup) / 3)),
        )
        try:
            daemon.wait_for('"cycle.done"', timeout=300)  # traced, on a loaded machine: slow to start
            pid = daemon.process.pid
            before = len(daemon.events("cycle.done"))
            started = time.monotonic()
            warm = started + args.warmup
            while (elapsed := time.monotonic() - started) < args.seconds:
                samples.append((elapsed, rss_kb(pid), open_fds(pid)))
                if time.monotonic() >= warm and not Path(f"{probe_out}.start").exists():
                    Path(f"{probe_out}.start").touch()  # warm-up over: the probe counts sites from now
                if len(samples) % args.churn_every == 0:
                    churn(sim.base_url, ids, rng, 1)
                time.sleep(max(0.0, len(samples) - (time.monotonic() - started)))
            samples.append((time.monotonic() - started, rss_kb(pid), open_fds(pid)))
            cycles = len(daemon.events("cycle.done")) - before
            posted = slack.state.count("chat.postMessage", ok=True)
            updates = slack.state.count("chat.update", ok=True)
        finally:
            daemon.stop()
        read = [json.loads(line) for line in probe_out.read_text().splitlines() if line.strip()]
    lines = [line for line in read if line["t"] >= warm]  # the child's monotonic clock is this one's
    if (
        sum(line["rested"] for line in lines) < 3
        or sum("sites" in line and line["rested"] for line in lines) < 2
    ):
        print(f"FAIL: {len(lines)} of {len(read)} tracemalloc readings after warm-up: run longer (--seconds)")
        return 1
    cycles_per_s = max(cycles, 1) / args.seconds
    grew = growth(lines, cycles_per_s)
    half = samples[len(samples) // 2 :]
    slope_kb_s = statistics.linear_regression([s[0] for s in half], [s[1] for s in half]).slope
    cycle_s = args.seconds / max(cycles, 1)
    per_hour_mb = slope_kb_s * cycle_s * CYCLES_PER_HOUR / 1024
    (_, rss_first, fd_first), (_, rss_last, fd_last) = samples[0], samples[-1]
    print(
        f"daemon: {cycles} cycles in {args.seconds} s ({args.tasks} tasks, a new execution every "
        f"{args.churn_every} s among {args.pool}); "
        f"Slack: {posted} messages, {updates} edits"
    )
    low, high = min(s[1] for s in samples) / 1024, max(s[1] for s in samples) / 1024
    print(
        f"RSS  first {rss_first / 1024:.1f} MB, last {rss_last / 1024:.1f} MB, min {low:.1f}, max {high:.1f}"
    )
    print(
        f"RSS slope over the second half: {slope_kb_s * cycle_s:.2f} KB/cycle = {per_hour_mb:.2f} MB "
        f"per hour of 5-second cycles"
    )
    tenths = [samples[min(len(samples) - 1, i * len(samples) // 10)][1] / 1024 for i in range(1, 11)]
    print("RSS at each tenth of the run, MB: " + " ".join(f"{mb:.1f}" for mb in tenths))
    print(f"open fds  first {fd_first}, last {fd_last}, max {max(s[2] for s in samples)}")
    rested = [line for line in lines if line["rested"]]
    first, last = rested[0]["rest"] / 2**20, rested[-1]["rest"] / 2**20
    print(
        f"tracemalloc after {args.warmup} s of warm-up, {len(rested)} of {len(lines)} readings at rest, "
        f"{grew.cycles:.0f} cycles: live {first:.2f} -> {last:.2f} MB, "
        f"net {grew.bytes_per_cycle:+.0f} B/cycle "
        f"({grew.bytes_per_cycle * CYCLES_PER_HOUR / 2**20:+.2f} MB per hour of 5-second cycles), "
        f"blocks {grew.blocks_per_cycle:+.1f}/cycle"
    )
    print("allocation sites growing most (B/cycle, bytes first -> last count of sites):")
    for site, per_cycle, total in grew.sites:
        print(f"  {per_cycle:+9.1f}  {total:+9d}  {short(site)}")
    verdicts = [
        (
            f"Python memory at rest grows {grew.bytes_per_cycle:+.0f} < {GROWTH_TARGET_BYTES} B/cycle",
            grew.bytes_per_cycle < GROWTH_TARGET_BYTES,
        ),
        (
            f"open fds back within {FD_TOLERANCE} ({fd_first} -> {fd_last})",
            abs(fd_last - fd_first) <= FD_TOLERANCE,
        ),
    ]
    for text, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}: {text}")
    return 0 if all(ok for _, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
