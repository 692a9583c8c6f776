"""The alert lifecycle end to end: the simulator's tasks change, real cycles run against it over loopback
with a real SQLite file, and the dispatcher's calls are exactly the messages, replies and edits a team
should see.

Only the clock is ours (so that "an hour later" takes no hour) and the notifier records instead of posting;
everything between them is the product.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.devtools.sim.entities import SimDesktop
from monitor.notify.dispatch import Dispatcher, Memo, Notification, Record
from monitor.notify.threads import Posted, deliver_in_threads
from monitor.rules.load import compile_match
from monitor.silences import Silence
from monitor.store import SQLiteStore
from monitor.store.base import MessageRef, OutboxRow
from monitor.workspace.client import RetryPolicy
from monitor.workspace.errors import ConfigurationError
from tests.support.world import START, World, open_world

RULES = """
rules:
  - name: ops
    match:
      task_name: "prod-*"
    channel: "#ops"
    severity: critical
    repeat_interval: 1h
  - name: lab
    match:
      task_name: "lab-*"
    channel: "#lab"
    repeat_interval: 0
"""

TASKS = (("prod-reboot", "REBOOT"), ("prod-snapshot", "CREATE_SNAPSHOT"), ("lab-script", "EXECUTE_SCRIPT"))


@dataclass
class RecordingNotifier:
    """Stands where Slack stands; records what the dispatcher asks for, in order."""

    calls: list[tuple[str, ...]] = field(default_factory=list)
    next_ts: int = 1
    kind = "recording"

    async def deliver(self, notification: Notification, record: Record, memo: Memo) -> None:
        await deliver_in_threads(self, notification, record)

    def _ts(self) -> str:
        self.next_ts += 1
        return f"{self.next_ts}.000000"

    async def post(self, channel: str, rows: Sequence[OutboxRow]) -> Posted:
        names = ",".join(sorted(row.entry.payload["task"]["name"] for row in rows))
        ts = self._ts()
        self.calls.append(("post", channel, rows[0].entry.kind, names, ts))
        return Posted(channel, ts)

    async def reply(self, ref: MessageRef, row: OutboxRow) -> Posted:
        self.calls.append(("reply", ref.channel, row.entry.kind, row.entry.payload["task"]["name"], ref.ts))
        return Posted(ref.channel, self._ts())

    async def update(self, ref: MessageRef, row: OutboxRow) -> None:
        self.calls.append(("update", ref.channel, row.entry.kind, row.entry.payload["task"]["name"], ref.ts))

    async def find_posted(self, channel: str, fingerprint: str, episode: int) -> Posted | None:
        return None

    async def find_reply(self, ref: MessageRef, row: OutboxRow) -> Posted | None:
        return None


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    tasks = [{"task_name": name, "task_type": kind, "last_status": "SUCCESS"} for name, kind in TASKS]
    async with open_world(
        tmp_path,
        RULES,
        tasks=tasks,
        default_channel="#fallback",
        sim_options={"seed": 3},
        notifier=RecordingNotifier(),
        retry=RetryPolicy(attempts=2, wait_initial=0, wait_max=0, wait_jitter=0),
    ) as opened:
        yield opened


async def cycle(world: World) -> list[tuple[str, ...]]:
    """One poll cycle and one dispatch (a failing cycle raises); the notifier calls they caused."""
    notifier = world.notifier
    assert isinstance(notifier, RecordingNotifier)
    before = len(notifier.calls)
    await world.engine.run_cycle()
    await world.dispatcher.flush()
    return notifier.calls[before:]


async def test_the_whole_lifecycle_of_one_alert(world: World) -> None:
    world.execute("prod-reboot", "FAIL")
    [(call, channel, kind, name, first_ts)] = await cycle(world)
    assert (call, channel, kind, name) == ("post", "#ops", "NEW", "prod-reboot")

    world.advance(timedelta(minutes=30))
    assert await cycle(world) == [], "the same failure again: nothing"

    world.advance(timedelta(minutes=31))
    assert await cycle(world) == [("reply", "#ops", "REPEAT", "prod-reboot", first_ts)]
    assert await cycle(world) == [], "one reminder per repeat_interval"

    world.advance(timedelta(minutes=5))
    world.execute("prod-reboot", "FAIL")
    assert await cycle(world) == [
        ("update", "#ops", "RECURRED", "prod-reboot", first_ts),
        ("reply", "#ops", "RECURRED", "prod-reboot", first_ts),
    ]

    world.advance(timedelta(minutes=5))
    world.execute("prod-reboot", "SKIP")
    assert await cycle(world) == [
        ("update", "#ops", "CHANGED", "prod-reboot", first_ts),
        ("reply", "#ops", "CHANGED", "prod-reboot", first_ts),
    ]

    world.advance(timedelta(minutes=5))
    world.execute("prod-reboot", "SUCCESS")
    assert await cycle(world) == [
        ("update", "#ops", "RESOLVED", "prod-reboot", first_ts),
        ("reply", "#ops", "RESOLVED", "prod-reboot", first_ts),
    ]
    assert await cycle(world) == []

    world.advance(timedelta(minutes=5))
    world.execute("prod-reboot", "FAIL")
    [(call, channel, kind, name, second_ts)] = await cycle(world)
    assert (call, kind, name) == ("post", "NEW", "prod-reboot"), "a failure after recovery is a new alert"
    assert second_ts != first_ts


async def test_several_new_failures_in_one_cycle_become_one_digest(world: World) -> None:
    world.execute("prod-reboot", "FAIL")
    world.execute("prod-snapshot", "FAIL")
    world.execute("lab-script", "FAIL")
    calls = await cycle(world)
    assert sorted(call[:4] for call in calls) == [
        ("post", "#lab", "NEW", "lab-script"),
        ("post", "#ops", "NEW", "prod-reboot,prod-snapshot"),
    ]


@pytest.mark.parametrize("not_found_status", [400, 404])
async def test_a_deleted_task_closes_its_alert_quietly(world: World, not_found_status: int) -> None:
    """The real API answers a deleted task with 400 "The scheduled task does not exist." (the simulator's
    default); a 404 means the same."""
    world.sim.state.options.not_found_status = not_found_status
    world.execute("prod-snapshot", "FAIL")
    [(_, _, _, _, ts)] = await cycle(world)
    world.sim.state.delete_task(world.task_id("prod-snapshot"))
    assert await cycle(world) == [("update", "#ops", "CLOSED", "prod-snapshot", ts)]
    assert await cycle(world) == [], "a closed alert is not looked up again"


async def test_an_unpublished_api_closes_nothing_and_fails_the_cycle(world: World) -> None:
    """APIGW.0101 (the wrong endpoint or region) on a lookup is not "the task is gone"."""
    world.execute("prod-snapshot", "FAIL")
    await cycle(world)
    world.execute("prod-snapshot", "SUCCESS")
    world.sim.state.add_fault(
        "status", endpoint="show", status=404, count=100, body={"error_code": "APIGW.0101", "error_msg": "x"}
    )
    with pytest.raises(ConfigurationError, match=r"Workspace API unreachable at http://127\.0\.0\.1"):
        await cycle(world)
    assert [alert.task_name for alert in world.store.load_open_alerts().values()] == ["prod-snapshot"]


async def test_an_alert_names_failed_desktops_past_the_first_hundred(world: World) -> None:
    task = world.sim.state.task("prod-reboot")
    task.desktops = [SimDesktop(id=f"d-{i:03d}", name=f"desk-{i:03d}") for i in range(250)]
    failing = [f"desk-{i:03d}" for i in range(180, 190)]
    world.execute("prod-reboot", "FAIL", failed_desktops=failing)
    await world.engine.run_cycle()
    [row] = world.store.pending_outbox(now=world.now[0], limit=10)
    payload = row.entry.payload
    assert [d["desktop_name"] for d in payload["failed_desktops"]] == failing[:5]
    assert payload["latest_execution"]["failed_num"] == 10  # the message says "and 5 more"


async def test_a_silenced_failure_is_sent_when_the_silence_ends(world: World) -> None:
    world.store.add_silence(
        Silence(
            id="s1",
            matcher=compile_match({"task_name": "lab-*"}, where="test"),
            until=START + timedelta(hours=1),
            comment="lab maintenance",
            created_by="U123",
            created_at=START,
        )
    )
    world.execute("lab-script", "FAIL")
    assert await cycle(world) == []
    world.advance(timedelta(minutes=30))
    assert await cycle(world) == []
    world.advance(timedelta(minutes=31))
    [call] = await cycle(world)
    assert call[:4] == ("post", "#lab", "NEW", "lab-script")


async def test_an_incomplete_listing_resolves_nothing(world: World) -> None:
    world.execute("prod-reboot", "FAIL")
    await cycle(world)
    world.execute("prod-reboot", "SUCCESS")
    world.sim.state.add_fault("status", endpoint="list", status=500, count=100)
    with pytest.raises(Exception, match="500"):
        await cycle(world)
    world.sim.state.clear_faults()
    # A wrong total_count is not an incomplete listing (the pages ran out); the recovery is confirmed by
    # looking the task up, as every recovery is.
    world.sim.state.add_fault("lie_total", endpoint="list", count=100, extra=60)
    assert [call[:3] for call in await cycle(world)] == [
        ("update", "#ops", "RESOLVED"),
        ("reply", "#ops", "RESOLVED"),
    ]


async def test_a_restart_between_persist_and_delivery_loses_nothing(world: World, tmp_path: Path) -> None:
    """The cycle's outbox is in the state file; a new dispatcher on a reopened store delivers it once."""
    world.execute("prod-reboot", "FAIL")
    await world.engine.run_cycle()  # persisted, then the process "dies" before dispatching
    world.store.close()
    reopened = SQLiteStore.open(tmp_path / "state.db")
    notifier = RecordingNotifier()
    try:
        await Dispatcher(reopened, notifier, claimer="after-restart", clock=lambda: world.now[0]).flush()
        await Dispatcher(reopened, notifier, claimer="after-restart", clock=lambda: world.now[0]).flush()
    finally:
        reopened.close()
    assert [call[:4] for call in notifier.calls] == [("post", "#ops", "NEW", "prod-reboot")]


async def test_without_the_records_api_executions_are_told_apart_by_the_listing(world: World) -> None:
    """Records forbidden (403): NEW and RECURRED still work from last_status and next_execution_time."""
    world.sim.state.add_fault("status", endpoint="records", status=403, count=1000)
    world.execute("prod-reboot", "FAIL")
    [(call, _, kind, _, _)] = await cycle(world)
    assert (call, kind) == ("post", "NEW")
    assert world.engine.records_forbidden
    assert await cycle(world) == []
    world.advance(timedelta(minutes=5))
    world.execute("prod-reboot", "FAIL")  # a new execution moves next_execution_time on
    assert [call[:3] for call in await cycle(world)] == [
        ("update", "#ops", "RECURRED"),
        ("reply", "#ops", "RECURRED"),
    ]
    world.execute("prod-reboot", "SUCCESS")
    assert [call[:3] for call in await cycle(world)] == [
        ("update", "#ops", "RESOLVED"),
        ("reply", "#ops", "RESOLVED"),
    ]
