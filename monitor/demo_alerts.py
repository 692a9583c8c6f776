"""The alerting half of `make demo`: a scripted week of one team's scheduled tasks, cycle by cycle.

Tasks fail, stay failing, fail again, skip, recover and get silenced on a simulator; after each change a real
cycle runs (the Workspace client over loopback, the rules, `decide`, a real SQLite state file) and the
dispatcher delivers the outbox through the console notifier, so every decision is shown as it happens.

Only the clock is scripted: it jumps forward between steps so that "an hour later" does not take an hour.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.text import Text

from monitor.engine import Engine
from monitor.notify.console import ConsoleNotifier
from monitor.notify.dispatch import Dispatcher
from monitor.oneshot import show_decisions
from monitor.rules import compile_match, load_rules_text
from monitor.silences import Silence
from monitor.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    SimOptions,
    start_simulator,
)
from monitor.sim.runner import Simulator
from monitor.store import SQLiteStore
from monitor.workspace.auth import AkSkAuth
from monitor.workspace.client import WorkspaceClient

__all__ = ["DEMO_RULES", "run_alerting_story"]

DEMO_RULES = """\
rules:
  - name: prod
    match:
      task_name: "prod-*"
    channel: "#desktop-ops"
    severity: critical
    mention: "<!subteam^S0DEMO|@desktop-oncall>"
    repeat_interval: 1h
  - name: scripts
    match:
      task_type: EXECUTE_SCRIPT
    channel: "#desktop-scripts"
    severity: warning
    repeat_interval: 0
  - name: everything-else
    channel: "#desktop-ops"
    severity: info
    repeat_interval: 4h
"""

TASKS = (
    ("prod-nightly-reboot", "REBOOT"),
    ("prod-morning-start", "START"),
    ("finance-gpo-script", "EXECUTE_SCRIPT"),
    ("lab-rebuild", "REBUILD"),
)


@dataclass
class _Story:
    sim: Simulator
    engine: Engine
    dispatcher: Dispatcher
    console: Console
    clock: list[datetime]

    def execute(self, name: str, status: str) -> None:
        self.sim.state.add_execution(self.sim.state.task(name).id, status)

    async def step(
        self, title: str, change: Callable[[], None] | None = None, *, later: timedelta | None = None
    ) -> None:
        if later:
            self.clock[0] += later
        self.console.rule(Text(title, style="bold"), align="left")
        if change:
            change()
        report = await self.engine.run_cycle()
        show_decisions(report, self.console)
        delivered = await self.dispatcher.flush()
        if not delivered.messages:
            self.console.print(Text("(nothing sent)", style="dim"))


async def run_alerting_story(console: Console) -> None:
    clock = [datetime.now(UTC).replace(microsecond=0)]
    now = lambda: clock[0]  # noqa: E731 - one clock shared by simulator, signer, engine and dispatcher
    async with start_simulator(SimOptions(tasks=0, seed=11, clock=now)) as sim:
        for name, task_type in TASKS:
            sim.state.create_task(
                {"task_name": name, "task_type": task_type, "scheduled_type": "DAY", "last_status": "SUCCESS"}
            )
        with tempfile.TemporaryDirectory(prefix="workspace-monitor-demo-") as scratch:
            store = SQLiteStore.open(Path(scratch) / "state.db")
            auth = AkSkAuth(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, project_id=DEFAULT_PROJECT_ID, clock=now)
            async with WorkspaceClient(
                endpoint=sim.base_url, project_id=DEFAULT_PROJECT_ID, auth=auth
            ) as client:
                engine = Engine(
                    client=client,
                    store=store,
                    ruleset=load_rules_text(DEMO_RULES, "demo-rules.yaml"),
                    project=DEFAULT_PROJECT_ID,
                    default_channel="#desktop-ops",
                    clock=now,
                )
                dispatcher = Dispatcher(store, ConsoleNotifier(console), claimer="demo", clock=now)
                story = _Story(sim, engine, dispatcher, console, clock)
                console.print(f"Rules:\n{DEMO_RULES}")
                console.print(f"State: {Path(scratch) / 'state.db'} (SQLite, WAL, mode 0600)")
                await _tell(story, store, now)
            store.close()


async def _tell(story: _Story, store: SQLiteStore, now: Callable[[], datetime]) -> None:
    def lab_silenced() -> None:
        store.add_silence(
            Silence(
                id="demo-1",
                matcher=compile_match({"task_name": "lab-*"}, where="demo"),
                until=now() + timedelta(hours=2),
                comment="lab desktops are being re-imaged by hand",
                created_by="alice",
                created_at=now(),
            )
        )
        story.execute("lab-rebuild", "FAIL")

    def three_fail() -> None:
        for name in ("prod-nightly-reboot", "prod-morning-start", "finance-gpo-script"):
            story.execute(name, "FAIL")

    minute, hour = timedelta(minutes=1), timedelta(hours=1)
    await story.step("Three tasks fail at once: one digest per channel and group", three_fail)
    await story.step("A minute later the poll sees the same failures: nothing is sent twice", later=minute)
    await story.step(
        "lab-rebuild fails, but alice silenced lab-* for 2 h: recorded, not sent", lab_silenced, later=minute
    )
    await story.step("An hour later, still failing: one reminder in each prod thread (every 1 h)", later=hour)
    await story.step(
        "prod-nightly-reboot ran again and failed again: RECURRED (message updated, thread reply)",
        lambda: story.execute("prod-nightly-reboot", "FAIL"),
        later=5 * minute,
    )
    await story.step(
        "finance-gpo-script was skipped this time: CHANGED FAIL -> SKIP",
        lambda: story.execute("finance-gpo-script", "SKIP"),
        later=5 * minute,
    )
    await story.step(
        "prod-morning-start succeeded: confirmed with the API, then RESOLVED",
        lambda: story.execute("prod-morning-start", "SUCCESS"),
        later=5 * minute,
    )
    await story.step("The lab silence has ended and lab-rebuild still fails: sent now", later=hour)
