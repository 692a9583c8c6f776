"""Missed runs against the simulator: real cycles list every task every `overdue_every` cycles and raise,
remind and resolve OVERDUE alerts through Slack's stand-in (and PagerDuty's), on the test's clock."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from monitor import engine as engine_module
from monitor.decide import OVERDUE_STATUS, DecisionKind, overdue_fingerprint
from monitor.devtools.pagerduty import PagerDutyStubThread
from monitor.devtools.sim import DEFAULT_PROJECT_ID
from monitor.engine import CycleReport
from monitor.notify.dispatch import Dispatcher
from monitor.pagerduty.notifier import PagerDutyNotifier
from monitor.rules.load import load_rules_text
from monitor.runtime import Loaded
from monitor.workspace.client import TaskFilter
from monitor.workspace.errors import TransportError
from tests.support.world import World, open_world

RULES = """
rules:
  - name: ops
    match:
      task_name: "prod-*"
    channel: "#ops-alerts"
    overdue_after: 30m
"""


def daily(name: str, zone: str = "Europe/Berlin", at: str = "02:30:00", **more: Any) -> dict[str, Any]:
    """A daily task, last run successful, due next at `at` in `zone`."""
    fields = {"task_name": name, "last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY",
              "time_zone": zone, "scheduled_time": at}  # fmt: skip
    return {**fields, **more}


def kinds(report: CycleReport | None) -> list[tuple[str | None, DecisionKind]]:
    assert report is not None
    return [(note.task_name, note.kind) for note in report.decisions]


def at(world: World, moment: str) -> None:
    world.now[0] = datetime.fromisoformat(moment).replace(tzinfo=UTC)


async def test_a_missed_run_is_raised_reminded_and_resolved_when_the_task_runs(tmp_path: Path) -> None:
    """prod-reboot is due 2026-11-30 02:30 Europe/Berlin (01:30Z): overdue from 02:00Z on."""
    async with open_world(tmp_path, RULES, tasks=[daily("prod-reboot")]) as world:
        world.engine.overdue_every = 1
        assert kinds(await world.cycle()) == []
        at(world, "2026-11-30 01:59:00")
        assert kinds(await world.cycle()) == []
        at(world, "2026-11-30 02:01:00")
        report = await world.cycle()
        assert kinds(report) == [("prod-reboot", DecisionKind.NEW)]
        assert report is not None
        [entry] = report.outbox
        assert entry.fingerprint == overdue_fingerprint(
            "ops", DEFAULT_PROJECT_ID, world.task_id("prod-reboot")
        )
        assert entry.payload["task"]["last_status"] == OVERDUE_STATUS
        assert "missed its run due 2026-11-30 02:30:00" in entry.payload["reason"]
        [posted] = world.top_level("#ops-alerts")
        assert OVERDUE_STATUS in posted.text

        at(world, "2026-11-30 03:00:00")
        assert kinds(await world.cycle()) == [], "still overdue: quiet until the reminder"
        at(world, "2026-11-30 06:01:00")
        assert kinds(await world.cycle()) == [("prod-reboot", DecisionKind.REPEAT)]

        world.execute("prod-reboot", "SUCCESS")  # its next run moves on to tomorrow
        assert kinds(await world.cycle()) == [("prod-reboot", DecisionKind.RESOLVED)]
        assert len(world.top_level("#ops-alerts")) == 1, "the reminder and the recovery are thread replies"


async def test_the_simulators_control_api_makes_a_task_miss_its_run(tmp_path: Path) -> None:
    async with open_world(tmp_path, RULES, tasks=[daily("prod-reboot"), daily("prod-stop")]) as world:
        world.engine.overdue_every = 1
        async with httpx.AsyncClient(base_url=world.sim.base_url) as control:
            answer = await control.post("/_sim/tasks/prod-reboot/missed-run", json={"late_by_seconds": 7200})
            assert answer.status_code == 200
            # 2026-11-29 08:00Z less two hours, in Berlin (UTC+1).
            assert answer.json()["next_execution_time"] == "2026-11-29 07:00:00"
            assert kinds(await world.cycle()) == [("prod-reboot", DecisionKind.NEW)]

            disabled = await control.patch("/_sim/tasks/prod-reboot", json={"enable": False})
            assert disabled.status_code == 200
            assert kinds(await world.cycle()) == [("prod-reboot", DecisionKind.CLOSED)]

            refused = await control.post("/_sim/tasks/prod-stop/missed-run", json={"late_by_seconds": 0})
            assert refused.status_code == 400


async def test_disabled_and_triggered_tasks_never_go_overdue(tmp_path: Path) -> None:
    tasks = [
        daily("prod-off", enable=False),
        {"task_name": "prod-on-create", "last_status": "SUCCESS", "scheduled_type": "LIFE_CYCLE",
         "life_cycle_type": "POST_CREATE_DESKTOP_SUCCESS"},
        daily("prod-on"),
    ]  # fmt: skip
    async with open_world(tmp_path, RULES, tasks=tasks) as world:
        world.engine.overdue_every = 1
        world.sim.state.patch_task("prod-off", {"next_execution_time": "2026-11-28 02:30:00"})
        world.advance(timedelta(days=3))
        assert kinds(await world.cycle()) == [("prod-on", DecisionKind.NEW)]
        async with httpx.AsyncClient(base_url=world.sim.base_url) as control:
            refused = await control.post("/_sim/tasks/prod-on-create/missed-run", json={})
        assert refused.status_code == 400
        assert "LIFE_CYCLE" in refused.json()["error"]


async def test_each_task_is_late_in_its_own_zone(tmp_path: Path) -> None:
    """Both are due at 10:00 local: in New York (EST) that is 15:00Z today, in Shanghai 02:00Z tomorrow."""
    tasks = [daily("prod-ny", "America/New_York", "10:00:00"), daily("prod-sh", "Asia/Shanghai", "10:00:00")]
    async with open_world(tmp_path, RULES, tasks=tasks) as world:
        world.engine.overdue_every = 1
        at(world, "2026-11-29 15:31:00")
        assert kinds(await world.cycle()) == [("prod-ny", DecisionKind.NEW)]
        at(world, "2026-11-30 02:29:00")
        assert ("prod-sh", DecisionKind.NEW) not in kinds(await world.cycle())
        at(world, "2026-11-30 02:31:00")
        assert kinds(await world.cycle()) == [("prod-sh", DecisionKind.NEW)]


async def test_a_run_due_in_the_hour_dst_skips_counts_from_its_later_reading(tmp_path: Path) -> None:
    """Berlin skips 02:00-03:00 on 2027-03-28: a run due "02:30" is overdue from 02:00Z (its CET reading,
    01:30Z, plus 30m), not from 01:00Z (the CEST reading)."""
    async with open_world(tmp_path, RULES, tasks=[daily("prod-reboot")]) as world:
        world.engine.overdue_every = 1
        world.sim.state.patch_task("prod-reboot", {"next_execution_time": "2027-03-28 02:30:00"})
        at(world, "2027-03-28 01:31:00")
        assert kinds(await world.cycle()) == []
        at(world, "2027-03-28 02:01:00")
        assert kinds(await world.cycle()) == [("prod-reboot", DecisionKind.NEW)]


async def test_between_overdue_cycles_a_missed_run_alert_is_left_as_it_is(tmp_path: Path) -> None:
    """Only the listing of every task can tell that a task ran: the cycles between leave its alert open
    (no lookup either), and the next listing of every task resolves it."""
    async with open_world(tmp_path, RULES, tasks=[daily("prod-reboot")]) as world:
        world.engine.overdue_every = 3
        at(world, "2026-11-30 02:01:00")
        assert kinds(await world.cycle()) == [("prod-reboot", DecisionKind.NEW)]
        world.execute("prod-reboot", "SUCCESS")
        world.sim.state.reset_stats()
        assert kinds(await world.cycle()) == []
        assert kinds(await world.cycle()) == []
        stats = world.sim.state.stats
        assert stats.count("records") == 0
        assert stats.count("show") == 0
        assert kinds(await world.cycle()) == [("prod-reboot", DecisionKind.RESOLVED)]


async def test_a_task_deleted_while_overdue_is_closed(tmp_path: Path) -> None:
    async with open_world(tmp_path, RULES, tasks=[daily("prod-reboot")]) as world:
        world.engine.overdue_every = 1
        at(world, "2026-11-30 02:01:00")
        assert kinds(await world.cycle()) == [("prod-reboot", DecisionKind.NEW)]
        world.sim.state.delete_task("prod-reboot")
        report = await world.cycle()
        assert report is not None
        assert [note.kind for note in report.decisions] == [DecisionKind.CLOSED]


async def test_the_listing_of_every_task_costs_one_request_a_page_every_nth_cycle(tmp_path: Path) -> None:
    """130 tasks: every 3rd cycle pages them (the scheduled ones, 50 a page, and the triggered ones, which the
    API lists only when asked for, apart) beside the failing listing; the other cycles cost what they cost
    without missed runs."""
    async with open_world(
        tmp_path, RULES, sim_options={"tasks": 130, "fail_rate": 0.1, "skip_rate": 0.05}
    ) as world:
        world.engine.overdue_every = 3
        scheduled = [task for task in world.sim.state.tasks if not task.triggered]
        triggered = len(world.sim.state.tasks) - len(scheduled)
        pages = math.ceil(len(scheduled) / 50) + max(1, math.ceil(triggered / 50))
        lists = []
        for _ in range(6):
            world.sim.state.reset_stats()
            await world.cycle()
            lists.append(world.sim.state.stats.count("list"))
    plain = lists[1]
    assert lists == [plain + pages, plain, plain, plain + pages, plain, plain]


async def test_an_overdue_cycle_looks_up_records_of_at_most_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "MAX_OVERDUE_LOOKUPS", 2)
    names = [f"prod-{n}" for n in range(4)]
    async with open_world(tmp_path, RULES, tasks=[daily(name) for name in names]) as world:
        world.engine.overdue_every = 1
        at(world, "2026-11-30 02:01:00")
        world.sim.state.reset_stats()
        report = await world.cycle()
        assert world.sim.state.stats.count("records") == 2
    assert sorted(name for name, kind in kinds(report) if kind is DecisionKind.NEW) == names


@pytest.fixture
def pd() -> Iterator[PagerDutyStubThread]:
    with PagerDutyStubThread() as stub:
        yield stub


async def test_a_missed_run_of_a_pagerduty_rule_triggers_and_its_run_resolves(
    tmp_path: Path, pd: PagerDutyStubThread
) -> None:
    rules = RULES + "    pagerduty: true\n"
    async with open_world(tmp_path, rules, tasks=[daily("prod-reboot")]) as world:
        receiver = PagerDutyNotifier("0123456789abcdef0123456789ABCDEF", pd.server.enqueue_url, interval=0)
        world.dispatcher = Dispatcher(
            world.store, world.runtime.delivery, claimer="t", clock=lambda: world.now[0], receivers=[receiver]
        )
        world.engine.overdue_every = 1
        at(world, "2026-11-30 02:01:00")
        await world.cycle()
        [incident] = pd.server.incidents
        assert incident.status == "triggered"
        world.execute("prod-reboot", "SUCCESS")
        await world.cycle()
    assert [action for action, _ in pd.server.events] == ["trigger", "resolve"]
    assert [i.status for i in pd.server.incidents] == ["resolved"]


async def test_a_failed_listing_of_every_task_is_tried_again_the_next_cycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failing listing goes on as usual; missed runs wait one cycle, not `overdue_every`."""
    async with open_world(tmp_path, RULES, tasks=[daily("prod-reboot")]) as world:
        world.engine.overdue_every = 5
        at(world, "2026-11-30 02:01:00")
        real = world.client.fetch_tasks
        refused = []

        async def fail_once(filters: TaskFilter | None = None, **kwargs: Any) -> Any:
            if not refused and filters is not None and filters.last_status is None:  # every task's listing
                refused.append(True)
                raise TransportError("connection reset (injected)")
            return await real(filters, **kwargs)

        monkeypatch.setattr(world.client, "fetch_tasks", fail_once)
        with structlog.testing.capture_logs() as logs:
            assert kinds(await world.cycle()) == []
        assert [e["event"] for e in logs if e["event"] == "cycle.overdue_listing_failed"] == [
            "cycle.overdue_listing_failed"
        ]
        assert kinds(await world.cycle()) == [("prod-reboot", DecisionKind.NEW)]


async def test_the_daemon_sets_overdue_every_and_a_reload_changes_it(tmp_path: Path) -> None:
    async with open_world(tmp_path, RULES, tasks=[daily("prod-reboot")]) as world:
        assert world.engine.overdue_every == 5, "the default"
        loaded = world.runtime.loaded
        workspace = loaded.settings.workspace.model_copy(update={"overdue_every": 2})
        world.runtime.apply(
            Loaded(loaded.settings.model_copy(update={"workspace": workspace}), loaded.ruleset)
        )
        assert world.engine.overdue_every == 2


async def test_a_run_recorded_while_the_listing_still_shows_the_missed_time_resolves(tmp_path: Path) -> None:
    """The records say it ran (at 02:40Z, after its 01:30Z slot) though its next_execution_time did not move
    on (a stale listing, a one-off task): resolved, not left open."""
    async with open_world(tmp_path, RULES, tasks=[daily("prod-reboot")]) as world:
        world.engine.overdue_every = 1
        at(world, "2026-11-30 02:01:00")
        assert kinds(await world.cycle()) == [("prod-reboot", DecisionKind.NEW)]
        missed = world.sim.state.task("prod-reboot").next_execution_time
        at(world, "2026-11-30 02:40:00")
        world.execute("prod-reboot", "SUCCESS")
        world.sim.state.patch_task("prod-reboot", {"next_execution_time": missed})
        assert kinds(await world.cycle()) == [("prod-reboot", DecisionKind.RESOLVED)]


async def test_a_task_due_at_the_calendars_edge_never_stops_the_cycle(tmp_path: Path) -> None:
    """An answer saying a task is next due "9999-12-31 23:59:59" in America/New_York (no UTC instant can
    hold it): the overdue check raised OverflowError and every cycle failed, for every task. It is now a due
    time that cannot be known (never overdue), and the others are alerted as ever."""
    edge = {"task_name": "prod-edge", "last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY",
            "time_zone": "America/New_York", "next_execution_time": "9999-12-31 23:59:59"}  # fmt: skip
    async with open_world(tmp_path, RULES, tasks=[edge, daily("prod-reboot")]) as world:
        world.engine.overdue_every = 1
        assert kinds(await world.cycle()) == []
        at(world, "2026-11-30 02:01:00")
        assert kinds(await world.cycle()) == [("prod-reboot", DecisionKind.NEW)]


WITHOUT_OVERDUE = """
rules:
  - name: ops
    match:
      task_name: "prod-*"
    channel: "#ops-alerts"
"""

OTHER_RULE = """
rules:
  - name: other
    match:
      task_name: "dev-*"
    channel: "#ops-alerts"
"""


@pytest.mark.parametrize(
    ("rules", "reason"),
    [
        (WITHOUT_OVERDUE, "rule 'ops' no longer watches for missed runs"),
        (OTHER_RULE, "rule 'ops' was removed"),
    ],
    ids=["overdue_after-dropped", "rule-removed"],
)
async def test_a_missed_run_alert_closes_when_no_rule_watches_for_missed_runs_any_more(
    tmp_path: Path, rules: str, reason: str
) -> None:
    """With no rule left that has `overdue_after`, the listing of every task still runs (every
    `overdue_every` cycles) while missed-run alerts are open, so they close instead of firing for ever."""
    async with open_world(tmp_path, RULES, tasks=[daily("prod-reboot")]) as world:
        world.engine.overdue_every = 1
        at(world, "2026-11-30 02:01:00")
        assert kinds(await world.cycle()) == [("prod-reboot", DecisionKind.NEW)]
        loaded = world.runtime.loaded
        world.runtime.apply(Loaded(loaded.settings, load_rules_text(rules)))
        lists, decisions = [], []
        for _ in range(3):
            world.sim.state.reset_stats()
            report = await world.cycle()
            assert report is not None
            decisions.append([(note.kind, note.reason) for note in report.decisions])
            lists.append(world.sim.state.stats.count("list"))
    assert decisions == [[(DecisionKind.CLOSED, reason)], [], []]
    plain = lists[2]
    # The listing of every task: a page of the scheduled tasks and one of the triggered (LIFE_CYCLE) ones.
    assert lists == [plain + 2, plain, plain], "closed: the listing of every task stops"
