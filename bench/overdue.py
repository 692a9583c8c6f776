"""Missed runs' cost: a real engine cycle with the listing of every task (`overdue_every`), and one without.

A simulator process holds about 10,000 tasks (1% failing) answering each request after 50 ms; `--missed` of
them have missed their run (the control API's missed-run). One engine (SQLite state, the default client:
concurrency 4) runs with `overdue_every: 2`, so its cycles alternate: with the listing of every task, and
without (the failing listing only). After a first cycle that opens every alert, each steady cycle is timed
(wall and this process's CPU) and its requests counted by the simulator, per endpoint. Printed: the median
of each kind, and what the listing of every task adds. Verdicts: the added requests are one per page of 50
scheduled tasks and one per page of triggered ones (listed apart, as the API lists them only when asked for)
plus at most MAX_OVERDUE_LOOKUPS records lookups (bounded), and every missed run alerted.

    .venv/bin/python bench/overdue.py [--tasks 10000] [--latency-ms 50] [--missed 50] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simproc import simulator

from monitor.decide import DecisionKind
from monitor.devtools.sim.options import DEFAULT_ACCESS_KEY, DEFAULT_PROJECT_ID, DEFAULT_SECRET_KEY
from monitor.engine import MAX_OVERDUE_LOOKUPS, Engine
from monitor.logs import configure_logging
from monitor.rules.load import load_rules_text
from monitor.store.sqlite import SQLiteStore
from monitor.workspace.auth import AkSkAuth
from monitor.workspace.client import PAGE_LIMIT, WorkspaceClient

RULES = """
rules:
  - name: ops
    overdue_after: 30m
"""


def control(base: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    method = "GET" if body is None else "POST"
    request = urllib.request.Request(f"{base}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


@dataclass(frozen=True)
class Figures:
    overdue: bool
    wall_s: float
    cpu_s: float
    requests: dict[str, int]
    overdue_alerts: int


async def cycles(base: str, runs: int, state_dir: Path) -> tuple[list[Figures], int]:
    auth = AkSkAuth(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, project_id=DEFAULT_PROJECT_ID)
    store = SQLiteStore.open(state_dir / "state.db")
    figures = []
    try:
        async with WorkspaceClient(endpoint=base, project_id=DEFAULT_PROJECT_ID, auth=auth) as client:
            engine = Engine(
                client=client,
                store=store,
                ruleset=load_rules_text(RULES, "overdue.yaml"),
                project=DEFAULT_PROJECT_ID,
                default_channel="#desktop-ops",
                overdue_every=2,
            )
            first = await engine.run_cycle()  # opens every alert: with the listing of every task
            raised = sum(
                1 for note in first.decisions if note.kind is DecisionKind.NEW and "overdue" in note.reason
            )
            for _ in range(runs):
                for _kind in ("plain", "overdue"):
                    control(base, "/_sim/stats/reset", {})
                    wall, cpu = time.perf_counter(), time.process_time()
                    report = await engine.run_cycle()
                    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                    if not report.complete:
                        raise RuntimeError(f"incomplete listing: {report.problems}")
                    counted = control(base, "/_sim/stats")["requests"]
                    requests = {endpoint: sum(codes.values()) for endpoint, codes in counted.items()}
                    alerts = sum(1 for a in store.load_open_alerts().values() if a.overdue)
                    figures.append(Figures(engine._overdue_countdown > 0, wall, cpu, requests, alerts))
    finally:
        store.close()
    return figures, raised


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def main() -> int:
    configure_logging("warning")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks in the simulator")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--missed", type=int, default=50, help="tasks made to miss their run")
    parser.add_argument("--runs", type=int, default=3, help="pairs of steady cycles (plain, overdue)")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    with simulator(args.tasks, args.latency_ms, fail_rate=0.01) as base:
        tasks = control(base, "/_sim/tasks")["tasks"]
        scheduled = [t for t in tasks if t.get("scheduled_type") != "LIFE_CYCLE"]
        watchable = [t for t in scheduled if t.get("enable") is not False and t.get("next_execution_time")]
        for task in watchable[: args.missed]:
            control(base, f"/_sim/tasks/{task['id']}/missed-run", {"late_by_seconds": 7200})
        missed = min(args.missed, len(watchable))
        with tempfile.TemporaryDirectory(prefix="bench-overdue-") as state_dir:
            figures, raised = asyncio.run(cycles(base, args.runs, Path(state_dir)))
    triggered = len(tasks) - len(scheduled)
    # An empty listing is still one request.
    pages = math.ceil(len(scheduled) / PAGE_LIMIT) + max(1, math.ceil(triggered / PAGE_LIMIT))
    print(
        f"simulator: {len(tasks)} tasks ({len(scheduled)} scheduled, {triggered} triggered: {pages} pages of "
        f"{PAGE_LIMIT}), "
        f"1% failing, {missed} missed runs, {args.latency_ms} ms per request; client concurrency 4"
    )
    print()
    print("| cycle | wall (s) | CPU (s) | list requests | records requests | all requests |")
    print("|---|---:|---:|---:|---:|---:|")
    rows = {}
    for overdue in (False, True):
        same = [f for f in figures if f.overdue == overdue]
        row = (
            median([f.wall_s for f in same]),
            median([f.cpu_s for f in same]),
            median([f.requests.get("list", 0) for f in same]),
            median([f.requests.get("records", 0) for f in same]),
            median([sum(f.requests.values()) for f in same]),
        )
        rows[overdue] = row
        name = "with the listing of every task" if overdue else "failing listing only"
        print(f"| {name} | {row[0]:.2f} | {row[1]:.2f} | {row[2]:.0f} | {row[3]:.0f} | {row[4]:.0f} |")
    added = [with_ - without for with_, without in zip(rows[True], rows[False], strict=True)]
    print(
        f"| added by the listing of every task | {added[0]:+.2f} | {added[1]:+.2f} | {added[2]:+.0f} | "
        f"{added[3]:+.0f} | {added[4]:+.0f} |"
    )
    print()
    every = 5
    print(
        f"amortized at overdue_every {every}: {added[4] / every:+.0f} requests, "
        f"{added[0] / every:+.2f} s wall, {added[1] / every:+.2f} s CPU a cycle "
        f"(medians of {args.runs} cycles each)"
    )
    bound = pages + MAX_OVERDUE_LOOKUPS
    verdicts = [
        (
            f"the listing of every task adds {added[2]:.0f} list requests: one per page ({pages})",
            added[2] == pages,
        ),
        (f"it adds at most {bound} requests in all ({added[4]:.0f})", added[4] <= bound),
        (f"every missed run alerted ({raised} of {missed})", raised == missed),
    ]
    print()
    for text, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}: {text}")
    return 0 if all(ok for _, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
