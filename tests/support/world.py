"""An in-process world: the simulator, the Slack stand-in, and the product as `runtime.build` wires it for
the daemon (a real SQLite store, the engine, the dispatcher and selfwatch), all on one clock the test moves
(`world.now[0]`).

    async with open_world(tmp_path, RULES) as world:
        world.execute("prod-reboot", "FAIL")
        await world.cycle()              # run_cycle + selfwatch + flush, as the daemon's poll does
        world.top_level("alerts")        # what the channel shows

What a test may change: the tasks (names, or the simulator's fields), the simulator's and the stand-in's
options, the notifier (Slack through the stand-in by default), the default and ops channels, the Workspace
client's retries and an observer of its requests. Everything else is the daemon's own wiring.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.config import Settings
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
from monitor.notify.dispatch import Dispatcher, DispatchReport, Notifier
from monitor.rules.load import load_rules_text
from monitor.runtime import Loaded, Runtime, build
from monitor.selfwatch import SelfWatch
from monitor.slack.notifier import SlackNotifier
from monitor.store import StoreError
from monitor.store.base import Store
from monitor.workspace.auth import AkSkAuth
from monitor.workspace.client import RetryPolicy, WorkspaceClient
from monitor.workspace.errors import WorkspaceError

if TYPE_CHECKING:
    from monitor.chatops.handlers import Deps

__all__ = ["START", "World", "open_world"]

START = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
#: One attempt, no waits: a test sees each failure at once (throttling is still honoured, briefly).
NO_RETRY = RetryPolicy(
    attempts=1, wait_initial=0, wait_max=0, wait_jitter=0, throttle_initial=0.01, throttle_max=0.05
)


@dataclass
class World:
    sim: Simulator
    stub: SlackStub
    runtime: Runtime
    #: Where notifications go (the dispatcher reaches it through the runtime's DeliveryWatch).
    notifier: Notifier
    now: list[datetime]

    @property
    def engine(self) -> Engine:
        return self.runtime.projects[0].engine

    @property
    def client(self) -> WorkspaceClient:
        return self.runtime.projects[0].client

    @property
    def dispatcher(self) -> Dispatcher:
        return self.runtime.dispatcher

    @dispatcher.setter
    def dispatcher(self, dispatcher: Dispatcher) -> None:
        """Another sender on the same store (as after a restart)."""
        self.runtime.dispatcher = dispatcher

    @property
    def selfwatch(self) -> SelfWatch:
        return self.runtime.selfwatch

    @property
    def store(self) -> Store:
        return self.runtime.store

    def task_id(self, name: str) -> str:
        return self.sim.state.task(name).id

    def execute(self, name: str, status: str, **fields: Any) -> None:
        self.sim.state.add_execution(self.task_id(name), status, **fields)

    def advance(self, delta: timedelta) -> None:
        self.now[0] += delta

    def chatops_deps(self, **more: Any) -> Deps:
        """The chatops handlers' dependencies on this world (its client, store and clock), plus `more`."""
        from monitor.chatops.handlers import Deps  # only the chatops tests load bolt's side

        return Deps(tasks=self.client, store=self.store, clock=lambda: self.now[0], **more)

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
    tasks: Sequence[str | Mapping[str, Any]] = ("prod-reboot", "prod-stop", "prod-start"),
    default_channel: str = "#alerts",
    ops_channel: str = "#ops",
    threshold: int = 3,
    slack_timeout: float = 30,
    stub_options: SlackStubOptions | None = None,
    sim_options: Mapping[str, Any] | None = None,
    notifier: Notifier | None = None,
    retry: RetryPolicy = NO_RETRY,
    observer: Callable[[str, str], None] | None = None,
) -> AsyncIterator[World]:
    """`tasks`: names (daily, enabled, last successful) or each one's fields as the simulator takes them (what
    is left out, the simulator picks); `sim_options`
    override SimOptions (no generated tasks, seed 4); `notifier` replaces Slack through the stand-in."""
    now = [START]
    options: dict[str, Any] = {"tasks": 0, "seed": 4, **(sim_options or {})}
    async with (
        start_simulator(SimOptions(**options, clock=lambda: now[0])) as sim,
        # Slack's rate limits off unless asked for: pacing is off here and the stub's clock is not the test's.
        start_slack_stub(stub_options or SlackStubOptions(rate_limits=False)) as stub,
    ):
        for task in tasks:
            if isinstance(task, str):
                task = {"task_name": task, "last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY"}
            sim.state.create_task(dict(task))
        settings = Settings.model_validate(
            {
                "workspace": {
                    "endpoint": sim.base_url,
                    "project_id": DEFAULT_PROJECT_ID,
                    "outage_cycles": threshold,
                },
                "state": {"url": f"sqlite:///{tmp_path}/state.db"},
                "slack": {"mode": "none", "default_channel": default_channel, "ops_channel": ops_channel},
            }
        )
        auth = AkSkAuth(
            DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, project_id=DEFAULT_PROJECT_ID, clock=lambda: now[0]
        )
        client = WorkspaceClient(
            endpoint=sim.base_url, project_id=DEFAULT_PROJECT_ID, auth=auth, retry=retry, observer=observer
        )
        if notifier is None:
            # No retries inside slack_sdk: the dispatcher is where retrying lives.
            web = stub.client(timeout=slack_timeout, retry_handlers=[])
            notifier = SlackNotifier(web, per_channel_interval=0)
        runtime = build(
            Loaded(settings, load_rules_text(rules, "rules.yaml")),
            {},
            notifier=notifier,
            replica="test",
            chatops=False,
            clock=lambda: now[0],
            clients=[(DEFAULT_PROJECT_ID, client)],
        )
        try:
            yield World(sim, stub, runtime, notifier, now)
        finally:
            await runtime.aclose()
