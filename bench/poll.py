"""Polling benchmark: our client against the official SDK's sequential paging loop, side by side.

Both list every FAIL task of a simulator (a separate process, so neither side shares its CPU) that holds
about 10,000 failing tasks and answers each request after 50 ms. Printed for each: the median wall time of
several runs, the ideal `(1 + ceil((pages-1)/concurrency)) x latency`, and the ratios. Targets (issue 2):
within 1.3x of the ideal and at least 4x faster than the SDK loop at concurrency 8. Exits 1 when a target
is missed.

    .venv/bin/python bench/poll.py [--tasks 10000] [--latency-ms 50] [--runs 5] [--sdk-runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import time
import urllib.request

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkworkspace.v2 import ListScheduledTasksRequest
from huaweicloudsdkworkspace.v2 import WorkspaceClient as SdkWorkspaceClient

# bench/ is on sys.path when this file runs as a script (tasks_command.py imports `simulator` from here).
from simproc import simulator

from monitor.devtools.sim.options import DEFAULT_ACCESS_KEY, DEFAULT_PROJECT_ID, DEFAULT_SECRET_KEY
from monitor.logs import configure_logging
from monitor.workspace.auth import AkSkAuth
from monitor.workspace.client import PAGE_LIMIT, TaskFilter, WorkspaceClient


def max_in_flight(base: str) -> int:
    with urllib.request.urlopen(f"{base}/_sim/stats", timeout=5) as answer:
        stats = json.load(answer)
    return int(stats["max_in_flight"])


def reset_stats(base: str) -> None:
    request = urllib.request.Request(f"{base}/_sim/stats/reset", method="POST")
    with urllib.request.urlopen(request, timeout=5):
        pass


async def ours_once(base: str, concurrency: int) -> tuple[float, int]:
    auth = AkSkAuth(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, project_id=DEFAULT_PROJECT_ID)
    async with WorkspaceClient(
        endpoint=base, project_id=DEFAULT_PROJECT_ID, auth=auth, concurrency=concurrency
    ) as client:
        started = time.perf_counter()
        listing = await client.fetch_tasks(TaskFilter(last_status="FAIL"))
        elapsed = time.perf_counter() - started
    if not listing.complete:
        raise RuntimeError(f"incomplete listing: {listing.problems}")
    return elapsed, len(listing.tasks)


def sdk_once(base: str) -> tuple[float, int]:
    """The loop a user of the official SDK writes: one page after another until total_count is reached."""
    credentials = BasicCredentials(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, DEFAULT_PROJECT_ID)
    client = SdkWorkspaceClient.new_builder().with_credentials(credentials).with_endpoints([base]).build()
    ids: list[str] = []
    started = time.perf_counter()
    offset = 0
    while True:
        page = client.list_scheduled_tasks(
            ListScheduledTasksRequest(offset=offset, limit=PAGE_LIMIT, last_status="FAIL")
        )
        ids.extend(task.id for task in page.scheduled_tasks)
        offset += PAGE_LIMIT
        if offset >= page.total_count:
            break
    return time.perf_counter() - started, len(ids)


def main() -> int:
    configure_logging("warning")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    # 10,545 simulated tasks at a 100% fail rate list 10,008 FAIL tasks (LIFE_CYCLE ones are listed apart).
    parser.add_argument("--tasks", type=int, default=10_545, help="tasks in the simulator")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sdk-runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16])
    args = parser.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    latency = args.latency_ms / 1000
    headline = 8
    with simulator(args.tasks, args.latency_ms) as base:
        sdk_times = []
        for _ in range(args.sdk_runs):
            seconds, sdk_count = sdk_once(base)
            sdk_times.append(seconds)
        sdk = statistics.median(sdk_times)
        pages = math.ceil(sdk_count / PAGE_LIMIT)
        print(
            f"simulator: {sdk_count} FAIL tasks, {pages} pages of {PAGE_LIMIT}, "
            f"{args.latency_ms} ms per request"
        )
        print(f"official SDK sequential loop: median {sdk:.3f} s over {args.sdk_runs} runs")
        print()
        header = ("concurrency", "ours (s)", "ideal (s)", "ours/ideal", "SDK/ours", "peak")
        print("{:>11} {:>9} {:>9} {:>10} {:>9} {:>5}".format(*header))
        verdicts = []
        for concurrency in sorted(set([*args.concurrency, headline])):
            times = []
            reset_stats(base)
            for _ in range(args.runs):
                seconds, count = asyncio.run(ours_once(base, concurrency))
                if count != sdk_count:
                    raise RuntimeError(f"ours listed {count} tasks, the SDK {sdk_count}")
                times.append(seconds)
            ours = statistics.median(times)
            ideal = (1 + math.ceil((pages - 1) / concurrency)) * latency
            peak = max_in_flight(base)
            print(
                f"{concurrency:>11} {ours:>9.3f} {ideal:>9.3f} {ours / ideal:>10.2f} "
                f"{sdk / ours:>9.1f} {peak:>5}"
            )
            if concurrency == headline:
                verdicts = [
                    (f"ours within 1.3x of ideal at concurrency {headline}", ours / ideal <= 1.3),
                    (f"at least 4x faster than the SDK loop at concurrency {headline}", sdk / ours >= 4),
                    (f"never more than {headline} requests in flight", peak <= headline),
                ]
    print()
    for text, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}: {text}")
    return 0 if all(ok for _, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
