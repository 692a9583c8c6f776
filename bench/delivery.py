"""Delivery benchmark: a mass failure's alerts through our dispatcher against one chat.postMessage per alert.

The outbox comes from one real engine cycle (the Workspace simulator in-process, every task failing, a rule
file sending five task families to five channels): about 1,000 NEW alerts. It is then delivered to the Slack
stand-in, which here also behaves like Slack's posting limit: in each channel a second chat.postMessage less
than one "second" after the last accepted one answers 429 `ratelimited` with `Retry-After: 1`.

    ours      the Dispatcher + SlackNotifier, as the daemon runs them: one digest per channel and group (split
              over as many messages as Block Kit limits need), paced to one message per second per channel,
              429s put back with Retry-After; flushed until the outbox is empty
    baseline  a plain loop posting each alert as its own message (the same single-alert rendering), waiting
              Retry-After and trying again on a 429

Time is compressed so the benchmark measures messages and calls, not sleeps: with `--scale 0.02` one Slack
second is 20 ms of real time, for the stand-in's limit, for our pacing and for every Retry-After (the
dispatcher's clock runs 1/scale times faster). Wall times are printed in real seconds and in "Slack seconds"
(real / scale: what it would take against Slack). Counted per side: messages posted, API calls, 429s. Each
side runs `--runs` times on a fresh stand-in; figures are medians. Target: fewer messages and no 429s for
ours; the ratios are printed.

    .venv/bin/python bench/delivery.py [--tasks 1095] [--scale 0.02] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

from aiohttp import web
from aiohttp.streams import StreamReader
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from monitor.devtools.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    SimOptions,
    start_simulator,
)
from monitor.devtools.slackstub import SlackStubOptions
from monitor.devtools.slackstub.options import DEFAULT_TOKEN
from monitor.devtools.slackstub.runner import build_app
from monitor.devtools.slackstub.state import StubState
from monitor.engine import Engine
from monitor.logs import configure_logging
from monitor.notify.dispatch import Dispatcher
from monitor.rules.load import load_rules_text
from monitor.slack.alert import render_alert
from monitor.slack.notifier import SlackNotifier
from monitor.store.sqlite import SQLiteStore
from monitor.workspace.auth import AkSkAuth
from monitor.workspace.client import WorkspaceClient

RULES = """
rules:
  - name: power
    match: {task_type: [START, STOP]}
    channel: "#power"
  - name: reboots
    match: {task_type: [REBOOT, HIBERNATE]}
    channel: "#reboots"
  - name: rebuilds
    match: {task_type: REBUILD}
    channel: "#rebuilds"
  - name: scripts
    match: {task_type: EXECUTE_SCRIPT}
    channel: "#scripts"
  - name: snapshots
    match: {}
    channel: "#snapshots"
"""
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


class RateLimitedSlack:
    """The Slack stand-in in a thread of its own, plus Slack's posting limit: one chat.postMessage per
    `interval` seconds per channel, strictly; the rest answer 429 with Retry-After: 1 (counted here)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        # The stand-in's own limits off: the strict one-per-interval limit below is what this bench measures.
        self.state = StubState(SlackStubOptions(rate_limits=False))
        self.rate_limited = 0
        self._last: dict[str, float] = {}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.port = 0
        self._runner: web.AppRunner | None = None

    @web.middleware
    async def _limit(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.endswith("/chat.postMessage"):
            raw = await request.read()
            if request.content_type == "application/json":
                channel = str(json.loads(raw).get("channel"))
            else:
                channel = next(iter(parse_qs(raw.decode()).get("channel", [""])))
            now = time.monotonic()
            if now - self._last.get(channel, -1e9) < self.interval:
                self.rate_limited += 1
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                         headers={"Retry-After": "1"})  # fmt: skip
            self._last[channel] = now
            request = _with_body(request, raw)
        return await handler(request)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = build_app(self.state)
        app.middlewares.append(self._limit)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = self._runner.addresses[0][1]
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> RateLimitedSlack:
        self._thread.start()
        self._ready.wait(30)
        return self

    def __exit__(self, *_: object) -> None:
        assert self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def client(self) -> AsyncWebClient:
        return AsyncWebClient(token=DEFAULT_TOKEN, base_url=f"http://127.0.0.1:{self.port}/api/")

    def figures(self) -> tuple[int, int]:
        """(messages posted, API calls including the 429s)."""
        return self.state.count("chat.postMessage", ok=True), len(self.state.calls) + self.rate_limited


def _with_body(request: web.Request, raw: bytes) -> web.Request:
    """`request` with its body readable again (the stand-in reads a body only while it is unread)."""
    reader = StreamReader(request.protocol, 2**16, loop=asyncio.get_running_loop())
    reader.feed_data(raw)
    reader.feed_eof()
    request._payload = reader  # aiohttp has no public way to hand a handler an already-read body
    return request


async def make_outbox(tasks: int, path: Path) -> int:
    """One engine cycle over `tasks` failing tasks into a state file at `path`; the NEW alerts written."""
    options = SimOptions(tasks=tasks, fail_rate=1.0, skip_rate=0.0, seed=5)
    async with start_simulator(options) as sim:
        auth = AkSkAuth(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, project_id=DEFAULT_PROJECT_ID)
        store = SQLiteStore.open(path)
        async with WorkspaceClient(endpoint=sim.base_url, project_id=DEFAULT_PROJECT_ID, auth=auth) as client:
            engine = Engine(client=client, store=store, ruleset=load_rules_text(RULES, "delivery.yaml"),
                            project=DEFAULT_PROJECT_ID, default_channel="#snapshots")  # fmt: skip
            report = await engine.run_cycle()
        store.close()
    return len(report.outbox)


@dataclass(frozen=True)
class Run:
    wall_s: float
    messages: int
    calls: int
    rate_limited: int
    delivered: int


async def ours(state_file: Path, scale: float) -> Run:
    store = SQLiteStore.open(state_file)
    origin, started = datetime.now(UTC), time.monotonic()

    def clock() -> datetime:  # Slack time: 1/scale times faster, so Retry-After and backoffs shrink with it
        return origin + timedelta(seconds=(time.monotonic() - started) / scale)

    with RateLimitedSlack(scale) as slack:
        notifier = SlackNotifier(slack.client(), per_channel_interval=scale)
        dispatcher = Dispatcher(store, notifier, claimer="bench", clock=clock)
        delivered = 0
        began = time.perf_counter()
        while True:
            delivered += (await dispatcher.flush()).sent
            pending = store.pending_outbox(now=FAR_FUTURE, limit=100_000)
            if not pending:
                break
            due = min(row.next_attempt_at for row in pending)
            await asyncio.sleep(max((due - clock()).total_seconds() * scale, 0.001))
        wall = time.perf_counter() - began
        messages, calls = slack.figures()
        run = Run(wall, messages, calls, slack.rate_limited, delivered)
    store.close()
    return run


async def baseline(state_file: Path, scale: float) -> Run:
    store = SQLiteStore.open(state_file)
    rows = store.pending_outbox(now=FAR_FUTURE, limit=100_000)
    store.close()
    with RateLimitedSlack(scale) as slack:
        client = slack.client()
        began = time.perf_counter()
        for row in rows:
            kwargs = render_alert(row.entry.payload).post_kwargs(row.entry.channel)
            while True:
                try:
                    await client.chat_postMessage(**kwargs)
                    break
                except SlackApiError as exc:
                    if exc.response.status_code != 429:
                        raise
                    await asyncio.sleep(float(exc.response.headers.get("Retry-After", 1)) * scale)
        wall = time.perf_counter() - began
        messages, calls = slack.figures()
        return Run(wall, messages, calls, slack.rate_limited, len(rows))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=1095, help="failing tasks (~1 alert each)")
    parser.add_argument("--scale", type=float, default=0.02, help="real seconds per Slack second")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    configure_logging("warning")
    results: dict[str, list[Run]] = {"ours": [], "baseline": []}
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as scratch:
        template = Path(scratch) / "outbox.db"
        alerts = asyncio.run(make_outbox(args.tasks, template))
        for run in range(args.runs):
            for side, deliver in (("ours", ours), ("baseline", baseline)):
                copy = Path(scratch) / f"{side}-{run}.db"
                shutil.copy(template, copy)
                results[side].append(asyncio.run(deliver(copy, args.scale)))
    print(f"{alerts} NEW alerts in 5 channels; Slack's limit 1 message/s/channel; 1 Slack second = "
          f"{args.scale * 1000:g} ms; median of {args.runs} runs")  # fmt: skip
    print()
    header = ("", "messages", "API calls", "429s", "delivered", "wall (s)", "Slack time (s)")
    print("{:<10} {:>9} {:>10} {:>6} {:>10} {:>9} {:>15}".format(*header))
    med: dict[str, dict[str, float]] = {}
    for side, runs in results.items():
        med[side] = {
            name: statistics.median(getattr(r, name) for r in runs)
            for name in ("messages", "calls", "rate_limited", "delivered", "wall_s")
        }
        m = med[side]
        print(
            f"{side:<10} {m['messages']:>9.0f} {m['calls']:>10.0f} {m['rate_limited']:>6.0f} "
            f"{m['delivered']:>10.0f} {m['wall_s']:>9.2f} {m['wall_s'] / args.scale:>15.0f}"
        )
    o, b = med["ours"], med["baseline"]
    print()
    ratios = (
        f"messages {b['messages'] / o['messages']:.0f}x, API calls {b['calls'] / o['calls']:.0f}x, "
        f"time {b['wall_s'] / o['wall_s']:.0f}x"
    )
    print(f"baseline/ours: {ratios}; 429s {b['rate_limited']:.0f} vs {o['rate_limited']:.0f}")
    verdicts = [
        (f"every alert delivered ({o['delivered']:.0f} of {alerts})", o["delivered"] == alerts),
        ("ours posts fewer messages than one per alert", o["messages"] < b["messages"]),
        ("ours is never rate limited (paced under Slack's limit)", o["rate_limited"] == 0),
    ]
    for text, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}: {text}")
    return 0 if all(ok for _, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
