"""Reports benchmark: building a scheduled report (monitor.reports) from 10,000 tasks x 90 days of history.

A fresh SQLite state is filled with the daily summary of `--tasks` tasks over `--days` days (one row per task
and day: 1 to 4 runs, about 3% failed and 1% skipped; seven task types; names prod-/lab-/dev-) with 20
rules (task_type, name globs, `continue: true` ones), and 500 open alerts. Then, per report period (7 and 30
days), the phases of what the leader does at report time, timed in wall and CPU (`time.process_time`):

    read    what report_payload reads: the period day by day (store.task_days, days x tasks rows) and the
            period before as totals per task (store.task_totals, a GROUP BY: tasks rows)
    build   build_report: per task type, per rule (each task matched once), top failing, daily series
    chart   render_chart: the PNG (matplotlib Agg)
    total   the three, what a report costs the leader once a period

The baseline reads both periods day by day (store.task_days of 2 x days: what a plain implementation
reads) and builds the same report from them: its read + build CPU over ours is the ratio printed. Each
figure is the median of `--runs` runs. Target: a 30-day report of 10,000 tasks under 3 s of CPU in total
(CPU, since the machines this runs on are shared: wall time is printed too; the leader's poll goes on
beside it, the report runs in a thread). Exits 1 when missed.

    .venv/bin/python bench/reports.py [--tasks 10000] [--days 90] [--runs 3]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.decide import AlertState, AlertStatus
from monitor.history import TaskDay
from monitor.reports.build import Scope, build_report, period_days
from monitor.reports.chart import render_chart
from monitor.rules.load import load_rules_text
from monitor.store import SQLiteStore

END = date(2026, 12, 7)
TYPES = ("REBOOT", "START", "STOP", "HIBERNATE", "REBUILD", "EXECUTE_SCRIPT", "CREATE_SNAPSHOT")
TARGET_CPU_SECONDS = 3.0


def rules_text() -> str:
    lines = ["rules:"]
    for number, kind in enumerate(TYPES):
        lines += [f"  - name: prod-{kind.lower()}", f"    match: {{task_type: {kind}, task_name: 'prod-*'}}",
                  "    continue: true"]  # fmt: skip
        lines += [
            f"  - name: lab-{kind.lower()}-{number}",
            f"    match: {{task_type: {kind}, task_name: 'lab-*'}}",
        ]
    lines += ["  - name: nightly", "    match: {task_name: '*-nightly-*'}"]
    lines += [f"  - name: dev-{n}\n    match: {{task_name: 'dev-{n}*'}}" for n in range(5)]
    lines += ["  - name: everything-else"]
    return "\n".join(lines) + "\n"


def fill(path: Path, tasks: int, days: int) -> None:
    SQLiteStore.open(path).close()  # the schema
    rng = random.Random(7)
    first = END - timedelta(days=days)
    names = [(f"t-{n:05d}", f"{('prod', 'lab', 'dev')[n % 3]}-{'nightly-' if n % 5 == 0 else ''}{n:05d}",
              TYPES[n % len(TYPES)]) for n in range(tasks)]  # fmt: skip
    with sqlite3.connect(path) as db:
        for offset in range(days):
            day = (first + timedelta(days=offset)).isoformat()
            rows = []
            for task_id, name, kind in names:
                runs = rng.randint(1, 4)
                fails = sum(rng.random() < 0.03 for _ in range(runs))
                skips = sum(rng.random() < 0.01 for _ in range(runs - fails))
                rows.append(("p", task_id, day, kind, name, runs, fails, skips))
            db.executemany("INSERT INTO task_days VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.close()


def open_alerts(count: int) -> list[AlertState]:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    return [
        AlertState(f"fp-{n}", "everything-else", "p", f"t-{n:05d}", f"dev-{n:05d}", AlertStatus.FIRING, 1,
                   "OVERDUE" if n % 10 == 0 else "FAIL", None, None, 1, 1, at, at, at, 1, "FAIL", None, None,
                   "x")
        for n in range(count)
    ]  # fmt: skip


def timed(call: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90, help="days of history in the state")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ruleset = load_rules_text(rules_text(), "bench-rules.yaml")
    alerts = open_alerts(500)
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        path = Path(tmp) / "state.db"
        _, fill_wall, _ = timed(lambda: fill(path, args.tasks, args.days))
        size = path.stat().st_size
        store = SQLiteStore.open(path)
        try:
            for period in (7, 30):
                before, first, end = period_days(END, period)
                figures: dict[str, list[float]] = {}
                for _ in range(args.runs):

                    def read(b: str = before, f: str = first, e: str = end) -> list[TaskDay]:
                        return [*store.task_totals(b, f), *store.task_days(f, e)]

                    rows, wall, cpu = timed(read)
                    figures.setdefault("read_wall", []).append(wall)
                    figures.setdefault("read_cpu", []).append(cpu)

                    def build(rows: list[TaskDay] = rows, period: int = period) -> dict[str, Any]:
                        return build_report(name="bench", end=END, days=period, rows=rows, ruleset=ruleset,
                                            open_alerts=alerts, scope=Scope())  # fmt: skip

                    report, wall, cpu = timed(build)
                    figures.setdefault("build_wall", []).append(wall)
                    figures.setdefault("build_cpu", []).append(cpu)
                    png, wall, cpu = timed(lambda r=report: render_chart(r))  # type: ignore[misc]
                    figures.setdefault("chart_wall", []).append(wall)
                    figures.setdefault("chart_cpu", []).append(cpu)

                    def naive(b: str = before, e: str = end, p: int = period) -> dict[str, Any]:
                        return build_report(name="bench", end=END, days=p, rows=store.task_days(b, e),
                                            ruleset=ruleset, open_alerts=alerts, scope=Scope())  # fmt: skip

                    plain, wall, cpu = timed(naive)
                    if plain != report:
                        raise RuntimeError("the baseline built another report")
                    figures.setdefault("naive_cpu", []).append(cpu)
                medians = {key: statistics.median(values) for key, values in figures.items()}
                medians["rows"] = len(rows)
                medians["png_bytes"] = len(png)
                medians["total_wall"] = medians["read_wall"] + medians["build_wall"] + medians["chart_wall"]
                medians["total_cpu"] = medians["read_cpu"] + medians["build_cpu"] + medians["chart_cpu"]
                results[period] = medians
        finally:
            store.close()
    print(
        f"state: {args.tasks:,} tasks x {args.days} days = {args.tasks * args.days:,} summary rows "
        f"({size / 1e6:.0f} MB SQLite, filled in {fill_wall:.0f} s), 20 rules, 500 open alerts; "
        f"medians of {args.runs} runs"
    )
    print()
    print("| period | rows read | read wall/CPU (s) | build wall/CPU (s) | chart wall/CPU (s) "
          "| total wall/CPU (s) | day-by-day read + build CPU (s) | ratio |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    failed = False
    for period, m in results.items():
        ours = m["read_cpu"] + m["build_cpu"]
        ratio = m["naive_cpu"] / ours if ours else float("inf")
        print(
            f"| {period} days | {int(m['rows']):,} | {m['read_wall']:.2f} / {m['read_cpu']:.2f} | "
            f"{m['build_wall']:.2f} / {m['build_cpu']:.2f} | {m['chart_wall']:.2f} / {m['chart_cpu']:.2f} | "
            f"{m['total_wall']:.2f} / {m['total_cpu']:.2f} | {m['naive_cpu']:.2f} | {ratio:.1f}x |"
        )
        if period == 30 and m["total_cpu"] > TARGET_CPU_SECONDS:
            failed = True
    verdict = "FAIL" if failed else "ok"
    print(f"\ntarget: a 30-day report under {TARGET_CPU_SECONDS:g} s of CPU in total: {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
