"""An in-process world for outage tests: the simulator, the Slack stand-in, a real SQLite store, the engine,
the dispatcher and selfwatch, all on one clock the test moves (`world.now[0]`).

    async with open_world(tmp_path, RULES) as world:
        world.execute("prod-reboot", "FAIL")
        await world.cycle()              # run_cycle + selfwatch + flush, as the daemon's poll does
        world.top_level("alerts")        # what the channel shows
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.devtools.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    SimOptions,
    start_simulator,
)
from monitor.devtools.sim.runner import Simulator
from monitor.devtools.slackstub import SlackStubOptions, StubMessage, start_slack_stub
from monitor.devtools.slackstub.runner import SlackStub
from monitor.engine import CycleReport, Engine
from monitor.notify.dispatch import Dispatcher, DispatchReport
from monitor.rules.load import load_rules_text
from monitor.selfwatch import SelfWatch
from monitor.slack.notifier import SlackNotifier
from monitor.store import SQLiteStore, StoreError
from monitor.workspace.auth import AkSkAuth
from monitor.workspace.client import RetryPolicy, WorkspaceClient
from monitor.workspace.errors import WorkspaceError

__all__ = ["START", "World", "open_world"]

START = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


@dataclass
class World:
    sim: Simulator
    stub: SlackStub
    engine: Engine
    dispatcher: Dispatcher
    selfwatch: SelfWatch
    store: SQLiteStore
    now: list[datetime]

    def execute(self, name: str, status: str) -> None:
        self.sim.state.add_execution(self.sim.state.task(name).id, status)

    def advance(self, delta: timedelta) -> None:
        self.now[0] += delta

    async def poll(self) -> CycleReport | None:
        """One cycle with the daemon's bookkeeping: selfwatch told of the outcome; None when it failed."""
        try:
            report = await self.engine.run_cycle()
        except WorkspaceError as exc:
            self.selfwatch.cycle_failed(exc)
            return None
        self.selfwatch.cycle_succeeded(complete=report.complete, problems=report.problems)
        return report

    async def flush(self) -> DispatchReport:
        report = await self.dispatcher.flush()
        self.selfwatch.deliveries(report.delivered_channels, report.refused_channels)
        return report

    async def cycle(self) -> CycleReport | None:
        report = await self.poll()
        with contextlib.suppress(StoreError):
            await self.flush()
        return report

    def top_level(self, channel: str) -> list[StubMessage]:
        try:
            return self.stub.state.messages(channel)
        except KeyError:
            return []


@contextlib.asynccontextmanager
async def open_world(
    tmp_path: Path,
    rules: str,
    *,
    tasks: tuple[str, ...] = ("prod-reboot", "prod-stop", "prod-start"),
    ops_channel: str = "#ops",
    threshold: int = 3,
    slack_timeout: float = 30,
    stub_options: SlackStubOptions | None = None,
) -> AsyncIterator[World]:
    now = [START]
    async with (
        start_simulator(SimOptions(tasks=0, seed=4, clock=lambda: now[0])) as sim,
        start_slack_stub(stub_options or SlackStubOptions()) as stub,
    ):
        for name in tasks:
            sim.state.create_task(
                {"task_name": name, "last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY"}
            )
        auth = AkSkAuth(
            DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, project_id=DEFAULT_PROJECT_ID, clock=lambda: now[0]
        )
        client = WorkspaceClient(
            endpoint=sim.base_url,
            project_id=DEFAULT_PROJECT_ID,
            auth=auth,
            retry=RetryPolicy(
                attempts=1,
                wait_initial=0,
                wait_max=0,
                wait_jitter=0,
                throttle_initial=0.01,
                throttle_max=0.05,
            ),
        )
        store = SQLiteStore.open(tmp_path / "state.db")
        engine = Engine(
            client=client,
            store=store,
            ruleset=load_rules_text(rules, "rules.yaml"),
            project=DEFAULT_PROJECT_ID,
            default_channel="#alerts",
            clock=lambda: now[0],
        )
        # No retries inside slack_sdk: the dispatcher is where retrying lives.
        client_options = {"timeout": slack_timeout, "retry_handlers": []}
        notifier = SlackNotifier(stub.client(**client_options), per_channel_interval=0)
        dispatcher = Dispatcher(store, notifier, claimer="test", clock=lambda: now[0])
        selfwatch = SelfWatch(store, ops_channel=ops_channel, threshold=threshold, clock=lambda: now[0])
        async with client:
            yield World(sim, stub, engine, dispatcher, selfwatch, store, now)
        store.close()
