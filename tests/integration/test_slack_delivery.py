"""Alert delivery to Slack: real cycles against the Workspace simulator, real slack_sdk calls against the
Slack stand-in, and assertions on what the channel shows: messages, edits and thread replies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.devtools.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    SimOptions,
    start_simulator,
)
from monitor.devtools.sim.runner import Simulator
from monitor.devtools.slackstub import SlackStubOptions, start_slack_stub
from monitor.devtools.slackstub.runner import SlackStub
from monitor.engine import Engine
from monitor.notify.dispatch import Dispatcher
from monitor.rules.load import load_rules_text
from monitor.slack.notifier import SlackNotifier
from monitor.store import SQLiteStore
from monitor.workspace.auth import AkSkAuth
from monitor.workspace.client import RetryPolicy, WorkspaceClient

RULES = """
rules:
  - name: ops
    match:
      task_name: "prod-*"
    channel: "#desktop-ops"
    severity: critical
    repeat_interval: 1h
  - name: elsewhere
    match:
      task_name: "lost-*"
    channel: "#no-such-channel"
"""
START = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


@dataclass
class World:
    sim: Simulator
    stub: SlackStub
    engine: Engine
    dispatcher: Dispatcher
    store: SQLiteStore
    now: list[datetime]

    def execute(self, name: str, status: str) -> None:
        self.sim.state.add_execution(self.sim.state.task(name).id, status)

    async def cycle(self) -> None:
        await self.engine.run_cycle()
        await self.dispatcher.flush()

    def channel(self) -> list[dict[str, object]]:
        return [
            {
                "text": message.text,
                "edits": len(message.edits),
                "replies": [reply.text for reply in message.replies],
            }
            for message in self.stub.state.messages("desktop-ops")
        ]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    now = [START]
    async with (
        start_simulator(SimOptions(tasks=0, seed=4, clock=lambda: now[0])) as sim,
        start_slack_stub(SlackStubOptions(strict_channels=True)) as stub,
    ):
        for name in ("prod-reboot", "prod-stop", "prod-start", "lost-task"):
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
            retry=RetryPolicy(attempts=2, wait_initial=0, wait_max=0, wait_jitter=0),
        )
        store = SQLiteStore.open(tmp_path / "state.db")
        engine = Engine(
            client=client,
            store=store,
            ruleset=load_rules_text(RULES, "rules.yaml"),
            project=DEFAULT_PROJECT_ID,
            default_channel="#desktop-ops",
            clock=lambda: now[0],
        )
        notifier = SlackNotifier(stub.client(), per_channel_interval=0)
        dispatcher = Dispatcher(store, notifier, claimer="test", clock=lambda: now[0])
        async with client:
            yield World(sim, stub, engine, dispatcher, store, now)
        store.close()


async def test_an_alert_lives_in_one_message_and_its_thread(world: World) -> None:
    world.execute("prod-reboot", "FAIL")
    await world.cycle()
    [message] = world.channel()
    assert "prod-reboot" in str(message["text"])

    world.now[0] += timedelta(minutes=61)
    await world.cycle()  # reminder
    world.now[0] += timedelta(minutes=1)
    world.execute("prod-reboot", "FAIL")
    await world.cycle()  # failed again: the message is edited, and a reply
    world.execute("prod-reboot", "SUCCESS")
    await world.cycle()  # resolved: edited again, and a reply

    [message] = world.channel()
    assert message["edits"] == 2
    assert len(message["replies"]) == 3  # type: ignore[arg-type]
    stored = world.stub.state.messages("desktop-ops")[0]
    assert stored.metadata is not None
    assert stored.metadata["event_type"] == "workspace_monitor_alert"


async def test_new_failures_of_one_cycle_share_one_digest_message(world: World) -> None:
    for name in ("prod-reboot", "prod-stop", "prod-start"):
        world.execute(name, "FAIL")
    await world.cycle()
    [digest] = world.stub.state.messages("desktop-ops")
    assert all(name in str(digest.blocks) for name in ("prod-reboot", "prod-stop", "prod-start"))
    assert world.stub.state.count("chat.postMessage", ok=True) == 1


async def test_an_update_to_an_alert_in_a_digest_replies_instead_of_replacing_the_digest(
    world: World,
) -> None:
    for name in ("prod-reboot", "prod-stop"):
        world.execute(name, "FAIL")
    await world.cycle()
    world.execute("prod-stop", "SUCCESS")
    await world.cycle()
    [digest] = world.channel()
    assert digest["edits"] == 0
    assert len(digest["replies"]) == 1  # type: ignore[arg-type]


async def test_rate_limits_are_waited_out_and_nothing_is_lost(world: World) -> None:
    world.stub.state.faults.rate_limit(count=1, retry_after=0)
    world.execute("prod-reboot", "FAIL")
    await world.cycle()  # 429: the row waits (Retry-After 0)
    assert world.channel() == []
    await world.dispatcher.flush()
    assert len(world.channel()) == 1


async def test_an_unknown_channel_fails_for_good_and_says_so(world: World) -> None:
    world.execute("lost-task", "FAIL")
    await world.engine.run_cycle()
    report = await world.dispatcher.flush()
    assert report.failed == 1
    assert "channel_not_found" in report.errors[0]
    assert (await world.dispatcher.flush()).failed == 0  # not retried forever


async def test_a_post_whose_ts_was_never_recorded_is_found_not_posted_again(
    world: World, tmp_path: Path
) -> None:
    """The sender died after Slack took the message and before the outbox row was marked sent."""
    world.execute("prod-reboot", "FAIL")
    await world.engine.run_cycle()
    notifier = world.dispatcher.notifier
    [row] = world.store.pending_outbox(now=world.now[0])
    assert world.store.claim_outbox(row.id, claimer="dead-sender", now=world.now[0])
    await notifier.post(row.entry.channel, [row])  # posted; the crash comes before mark_sent
    world.now[0] += timedelta(minutes=10)  # the dead sender's claim expires
    await world.dispatcher.flush()
    assert world.stub.state.count("chat.postMessage", ok=True) == 1
    assert world.store.message_ref(row.entry.fingerprint) is not None
