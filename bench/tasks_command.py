"""`/tasks list` benchmark: time from the slash command to its ephemeral answer, over 10,000 tasks.

The Workspace API simulator runs as a separate process with 10,000 tasks answering each request after 50 ms.
The real bolt app (HTTP mode, signed requests) answers through the Slack stand-in's response_url. Each run
posts `/tasks list` (every status, so the plain and the LIFE_CYCLE listings run side by side) and measures:

    ack      until the HTTP answer to the command (Slack gives up after 3 s)
    answer   until the ephemeral answer (the first page of the table) reaches the response_url

Ours: the app's own client at `LIST_CONCURRENCY` pages at once (what `run` builds). Baseline: the same app
with the client at concurrency 1, which is the official SDK's sequential page loop (one request after the
other). Targets: answer p95 < 1.5 s, every ack < 3 s. Exits 1 when a target is missed.

    .venv/bin/python bench/tasks_command.py [--tasks 10000] [--latency-ms 50] [--runs 20] [--baseline-runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import math
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

# bench/ is on sys.path when this file runs as a script: the poll benchmark's simulator process.
from poll import max_in_flight, reset_stats, simulator

from monitor.chatops.handlers import Deps
from monitor.chatops.limits import PerUserRate
from monitor.chatops.runner import EVENTS_PATH, LIST_CONCURRENCY, ChatopsService, SlackTokens
from monitor.chatops.snapshots import Snapshots
from monitor.config import SlackSettings
from monitor.devtools.sim.options import DEFAULT_ACCESS_KEY, DEFAULT_PROJECT_ID, DEFAULT_SECRET_KEY
from monitor.devtools.slackstub import start_slack_stub
from monitor.devtools.slackstub.runner import SlackStub
from monitor.logs import configure_logging
from monitor.store import SQLiteStore
from monitor.workspace.auth import AkSkAuth
from monitor.workspace.client import WorkspaceClient

SECRET = "bench-signing-secret"


def signed(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
    }


class Answers:
    """Wakes the benchmark the moment the stand-in records an answer at a response_url."""

    def __init__(self, stub: SlackStub) -> None:
        self.arrived: dict[str, tuple[float, Any]] = {}
        self.event = asyncio.Event()
        record = stub.state.record_response

        def recording(response_id: str, body: Any) -> None:
            record(response_id, body)
            self.arrived[response_id] = (time.perf_counter(), body)
            self.event.set()

        stub.state.record_response = recording  # type: ignore[method-assign]

    async def wait(self, response_id: str) -> tuple[float, Any]:
        async with asyncio.timeout(120):
            while response_id not in self.arrived:
                self.event.clear()
                await self.event.wait()
        return self.arrived[response_id]


async def measure(base: str, concurrency: int, runs: int, label: str) -> tuple[list[float], list[float], str]:
    """(ack seconds, answer seconds, the last answer's text) of `runs` commands."""
    auth = AkSkAuth(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, project_id=DEFAULT_PROJECT_ID)
    with tempfile.TemporaryDirectory() as scratch:
        store = SQLiteStore.open(Path(scratch) / "state.db")
        async with (
            start_slack_stub() as stub,
            WorkspaceClient(
                endpoint=base, project_id=DEFAULT_PROJECT_ID, auth=auth, concurrency=concurrency
            ) as api,
            httpx.AsyncClient(timeout=30) as http,
        ):
            answers = Answers(stub)
            # Every run is one listing's latency: no sharing of a listing that just finished, and no
            # per-person rate (the runs come from one user, faster than 10 a minute).
            deps = Deps(
                tasks=api,
                store=store,
                clock=lambda: datetime.now(UTC),
                snapshots=Snapshots(share=timedelta(0)),
                rate=PerUserRate(per_minute=1_000_000),
            )
            settings = SlackSettings.model_construct(mode="http", listen="127.0.0.1:0", api_url=stub.api_url)
            service = ChatopsService(settings, SlackTokens(bot=stub.token, signing_secret=SECRET), deps)
            await service.start()
            url = f"http://{service.address}{EVENTS_PATH}"
            acks, totals, text = [], [], ""
            try:
                for run in range(runs + 1):  # the first run warms up (auth.test, connections); not counted
                    response_id = f"{label}-{run}"
                    fields = {
                        "team_id": "T0STUBTEAM",
                        "team_domain": "bench",
                        "channel_id": "C1",
                        "channel_name": "ops",
                        "user_id": "U1",
                        "user_name": "bench",
                        "command": "/tasks",
                        "text": "list",
                        "response_url": stub.response_url(response_id),
                        "api_app_id": "A0STUBAPP1",
                    }
                    body = urlencode(fields).encode()
                    started = time.perf_counter()
                    acked = await http.post(url, content=body, headers=signed(body))
                    ack = time.perf_counter() - started
                    if acked.status_code != 200:
                        raise RuntimeError(f"the command was answered {acked.status_code}")
                    arrived, answer = await answers.wait(response_id)
                    text = str(answer.get("text", ""))
                    if run:
                        acks.append(ack)
                        totals.append(arrived - started)
            finally:
                await service.stop()
                store.close()
    return acks, totals, text


def list_requests(base: str) -> int:
    with urllib.request.urlopen(f"{base}/_sim/stats", timeout=5) as answer:
        stats = json.load(answer)
    return sum(stats["requests"].get("list", {}).values())


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> int:
    configure_logging("warning")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks in the simulator")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--baseline-runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    with simulator(args.tasks, args.latency_ms) as base:
        reset_stats(base)
        acks, ours, text = asyncio.run(measure(base, LIST_CONCURRENCY, args.runs, "ours"))
        pages = list_requests(base) // (args.runs + 1)
        peak = max_in_flight(base)
        base_acks, baseline, _ = asyncio.run(measure(base, 1, args.baseline_runs, "baseline"))
    # Both listings' first pages go out together, then the remaining pages share the slots.
    ideal = (1 + math.ceil(max(pages - 2, 0) / LIST_CONCURRENCY)) * args.latency_ms / 1000
    print(f"/tasks list over {args.tasks} tasks, {args.latency_ms} ms per API request; answer: {text!r}")
    print(f"{pages} list requests per command, at most {peak} in flight; ideal answer {ideal:.2f} s")
    print()
    print(
        "{:<34} {:>5} {:>8} {:>8} {:>8} {:>9}".format("", "runs", "p50 (s)", "p95 (s)", "max (s)", "ack max")
    )
    rows = [
        (f"ours (client concurrency {LIST_CONCURRENCY})", ours, acks),
        ("baseline (sequential, concurrency 1)", baseline, base_acks),
    ]
    for name, totals, acked in rows:
        print(
            f"{name:<34} {len(totals):>5} {statistics.median(totals):>8.3f} {percentile(totals, 0.95):>8.3f} "
            f"{max(totals):>8.3f} {max(acked):>9.3f}"
        )
    speedup = statistics.median(baseline) / statistics.median(ours)
    print(f"\nbaseline p50 / ours p50: {speedup:.1f}x")
    verdicts = [
        ("answer p95 < 1.5 s", percentile(ours, 0.95) < 1.5),
        ("every ack < 3 s (ours and baseline)", max(acks + base_acks) < 3.0),
    ]
    for what, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}: {what}")
    return 0 if all(ok for _, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
