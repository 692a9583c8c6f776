"""Steady state: the real daemon for many cycles, its RSS and open file descriptors sampled from /proc.

An hour of 5-second cycles (720) compressed: `workspace-monitor run` as a child process polls every second
the Workspace simulator (2,000 tasks, 5% failing, in this process) and delivers to the Slack stand-in
(alerts, edits, recoveries; paced as in production at ~1 message/s/channel, and a cycle waits for its
delivery, so the churn is kept below that). Meanwhile tasks keep changing: every `--churn-every` seconds a
task gets a new FAIL, SKIP or SUCCESS execution, so alerts open, recur and resolve all along. The changing
tasks are a fixed pool (`--pool`), so the workload is stationary: as many alerts open as close, and lasting
growth is the daemon's, not the data's. Every second the daemon's VmRSS (/proc/<pid>/status) and open fds
(/proc/<pid>/fd) are read. Printed: first vs last, and the slope of a least-squares line over the second
half (after warm-up: imports, first cycle, caches filling), per cycle and extrapolated to an hour of
5-second cycles. Targets: RSS slope under 5 MB per hour of cycles, open fds back where they were (within 2).

    .venv/bin/python bench/steady.py [--seconds 200] [--tasks 2000] [--churn-every 2] [--pool 100]
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
from pathlib import Path

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
#: One 4 KB page more per cycle is already 2.8 MB an hour: the target is about two pages a cycle.
RSS_SLOPE_TARGET_MB = 5.0
FD_TOLERANCE = 2


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


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
        daemon = DaemonProcess(Path(scratch), SLACK_BOT_TOKEN=DEFAULT_TOKEN)
        try:
            daemon.wait_for('"cycle.done"', timeout=60)
            pid = daemon.process.pid
            before = len(daemon.events("cycle.done"))
            started = time.monotonic()
            while (elapsed := time.monotonic() - started) < args.seconds:
                samples.append((elapsed, rss_kb(pid), open_fds(pid)))
                if len(samples) % args.churn_every == 0:
                    churn(sim.base_url, ids, rng, 1)
                time.sleep(max(0.0, len(samples) - (time.monotonic() - started)))
            samples.append((time.monotonic() - started, rss_kb(pid), open_fds(pid)))
            cycles = len(daemon.events("cycle.done")) - before
            posted = slack.state.count("chat.postMessage", ok=True)
            updates = slack.state.count("chat.update", ok=True)
        finally:
            daemon.stop()
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
    verdicts = [
        (
            f"RSS slope {per_hour_mb:.2f} MB/hour < {RSS_SLOPE_TARGET_MB:g} MB/hour",
            per_hour_mb < RSS_SLOPE_TARGET_MB,
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
