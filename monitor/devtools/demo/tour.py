"""`workspace-monitor demo`: the scripted end-to-end tour behind `make demo`.

It starts the Workspace API simulator on loopback and drives the real client against it, the way the daemon
will: every failing task across all pages, one failing task's latest executions and failed desktops, the same
listing again while the API misbehaves (5xx, throttling, a dropped connection), and what an operator sees when
the credentials are wrong. Then the real daemon, `workspace-monitor run`, lives an alerting story against the
simulator and Slack (the stand-in, or a real workspace: `story`).
"""

from __future__ import annotations

import asyncio
import time

from rich.console import Console
from rich.table import Table
from rich.text import Text

from monitor.config import Credentials, WorkspaceSettings
from monitor.devtools.demo.story import run_daemon_story
from monitor.devtools.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    SimOptions,
    start_simulator,
)
from monitor.logs import configure_logging
from monitor.tasklist import STATUS_STYLE, output_console, task_table
from monitor.workspace.client import WorkspaceClient
from monitor.workspace.errors import WorkspaceError
from monitor.workspace.factory import build_client
from monitor.workspace.models import format_api_time

__all__ = ["run"]

DEMO_OPTIONS = SimOptions(tasks=500, fail_rate=0.05, skip_rate=0.02, seed=1, latency_ms=20)
STRIP = {"SUCCESS": "✅", "FAIL": "❌", "SKIP": "⏭"}


def run() -> int:
    # Retries are part of the story below, told through the simulator's counters rather than log lines.
    configure_logging("error")
    return asyncio.run(_demo(output_console()))


def _settings(base_url: str) -> WorkspaceSettings:
    return WorkspaceSettings(endpoint=base_url, project_id=DEFAULT_PROJECT_ID, concurrency=4)


async def _demo(console: Console) -> int:
    async with start_simulator(DEMO_OPTIONS) as sim:
        counts = sim.state.counts()
        console.rule("[bold]workspace-monitor demo")
        console.print(
            f"Workspace API simulator on {sim.base_url}: {len(sim.state.tasks)} scheduled tasks, "
            f"{counts['FAIL']} failed and {counts['SKIP']} skipped at their last run, "
            f"{DEMO_OPTIONS.latency_ms:.0f} ms per request, AK/SK signatures verified."
        )
        credentials = Credentials(access_key=DEFAULT_ACCESS_KEY, secret_key=DEFAULT_SECRET_KEY)
        async with build_client(_settings(sim.base_url), credentials) as client:
            console.rule("1. Every failing task, all pages, FAIL and SKIP side by side")
            started = time.perf_counter()
            listing = await client.fetch_failing()
            elapsed = time.perf_counter() - started
            tasks = sorted(listing.tasks, key=lambda t: (t.last_status or "", (t.task_name or "").lower()))
            console.print(task_table(tasks, title=f"{len(tasks)} failing or skipped tasks", with_ids=False))
            console.print(
                f"{listing.requests} signed requests in {elapsed:.2f} s; listing complete: {listing.complete}"
            )

            failing = next(t for t in tasks if t.last_status == "FAIL")
            console.rule(f"2. Why did {failing.task_name!r} fail?")
            await _explain(console, client, failing.id)

            console.rule("3. The same listing while the API misbehaves")
            sim.state.reset_stats()
            sim.state.add_faults(
                [
                    {"kind": "status", "endpoint": "list", "status": 503, "count": 2},
                    {"kind": "status", "endpoint": "list", "status": 429, "headers": {"Retry-After": "0.5"}},
                    {"kind": "drop", "endpoint": "list"},
                ]
            )
            again = await client.fetch_failing()
            stats = sim.state.stats_snapshot()
            injected = sum(stats["faults_injected"].values())
            console.print(
                f"{injected} faults injected (503, 503, 429 with Retry-After, a dropped connection): "
                f"retried with backoff; {len(again.tasks)} tasks, listing complete: {again.complete}, "
                f"never more than {stats['max_in_flight']} requests in flight"
            )

        console.rule("4. Wrong credentials")
        wrong = Credentials(access_key=DEFAULT_ACCESS_KEY, secret_key="not-the-right-secret")  # noqa: S106
        async with build_client(_settings(sim.base_url), wrong) as bad_client:
            try:
                await bad_client.fetch_failing()
            except WorkspaceError as exc:
                console.print(Text(f"workspace-monitor: {exc}", style="red"))
    console.rule("5. The daemon: workspace-monitor run against the simulator and Slack")
    story = await run_daemon_story(console)
    console.rule()
    console.print(
        "Try it yourself: .venv/bin/workspace-monitor simulate (prints what to export), then "
        ".venv/bin/workspace-monitor tasks --status FAIL, or once --dry-run with a config (see README)"
    )
    return 0 if listing.complete and again.complete and story.ok else 1


async def _explain(console: Console, client: WorkspaceClient, task_id: str) -> None:
    records = await client.list_records(task_id, limit=10)
    strip = "".join(STRIP.get(r.status or "", "?") for r in reversed(records))
    console.print(f"last {len(records)} executions, oldest first: {strip}")
    if not records:
        return
    latest = records[0]
    console.print(
        f"latest execution {latest.id} at {format_api_time(latest.start_time, latest.time_zone)}: "
        f"{latest.failed_num or 0} desktops failed, {latest.success_num or 0} succeeded, "
        f"{latest.skip_num or 0} skipped"
    )
    details = await client.list_record_details(task_id, latest.id)
    table = Table(header_style="bold")
    for column in ("Desktop", "Status", "Code", "Reason"):
        table.add_column(column, overflow="fold")
    for detail in [d for d in details if d.exec_status != "SUCCESS"][:5]:
        status = detail.exec_status or "-"
        table.add_row(
            Text(detail.desktop_name or detail.desktop_id or "-"),
            Text(status, style=STATUS_STYLE.get(status, "")),
            Text(detail.result_code or "-"),
            Text(detail.fail_reason or "-"),
        )
    console.print(table)
