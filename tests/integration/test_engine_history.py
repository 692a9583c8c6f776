"""A poll cycle counts the runs it sees into the run history (monitor.history): from the records it fetched
for its alerts, and from a next_execution_time moving on; a cycle that sees nothing new counts nothing."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest

from monitor import engine as engine_module
from monitor.config import ReportSettings
from monitor.devtools.sim import DEFAULT_PROJECT_ID
from monitor.runtime import Loaded, watch_projects
from tests.support.world import START, open_world

RULES = 'rules:\n  - name: ops\n    channel: "#ops"\n'
DAY = timedelta(days=1)


def totals(rows: list) -> tuple[int, int, int]:  # type: ignore[type-arg]
    return sum(r.runs for r in rows), sum(r.fails for r in rows), sum(r.skips for r in rows)


async def test_each_run_in_the_records_is_counted_once(tmp_path: Path) -> None:
    """The first sight counts the records the cycle fetched (the simulator's task has run before); a
    cycle seeing nothing new adds nothing; the next run adds one."""
    async with open_world(tmp_path, RULES, tasks=("prod-reboot",)) as world:
        world.execute("prod-reboot", "FAIL")
        await world.cycle()
        runs, fails, skips = totals(world.store.task_days("2026-01-01", "2027-01-01"))
        records = world.sim.state.task("prod-reboot").records
        assert (runs, fails, skips) == (len(records), 1, sum(r.status == "SKIP" for r in records))
        await world.cycle()
        assert totals(world.store.task_days("2026-01-01", "2027-01-01")) == (runs, fails, skips)
        world.advance(DAY)
        world.execute("prod-reboot", "SKIP")
        await world.cycle()
        rows = world.store.task_days("2026-01-01", "2027-01-01")
    assert totals(rows) == (runs + 1, fails, skips + 1)
    assert {row.task_name for row in rows} == {"prod-reboot"}


async def test_without_records_the_moved_next_time_counts_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records beyond the per-cycle cap are never fetched for the history: the listing alone says a run
    happened (its next_execution_time moved on) and how it went (last_status)."""
    monkeypatch.setattr(engine_module, "MAX_RECORD_LOOKUPS", 0)
    async with open_world(tmp_path, RULES, tasks=("prod-reboot",)) as world:
        world.execute("prod-reboot", "FAIL")
        await world.cycle()
        assert world.store.task_days("2026-01-01", "2027-01-01") == [], "first sight: when it ran is unknown"
        world.advance(DAY)
        world.execute("prod-reboot", "FAIL")
        records = world.sim.state.stats_snapshot()["requests"].get("records", {})
        await world.cycle()
        rows = world.store.task_days("2026-01-01", "2027-01-01")
        assert world.sim.state.stats_snapshot()["requests"].get("records", {}) == records
    assert totals(rows) == (1, 1, 0)
    assert rows[0].day >= START.date().isoformat()


async def test_a_successful_run_is_counted_from_the_listing_of_every_task(tmp_path: Path) -> None:
    """A task that never fails is only in the listing of every task (an overdue turn, every
    `overdue_every` cycles): its next_execution_time moving on there counts its successful run."""
    rules = 'rules:\n  - name: ops\n    channel: "#ops"\n    overdue_after: 1d\n'
    async with open_world(tmp_path, rules, tasks=("prod-start",)) as world:
        await world.cycle()  # an overdue turn: every task listed, first sight
        world.advance(DAY)
        world.execute("prod-start", "SUCCESS")
        for _ in range(world.engine.overdue_every):
            await world.cycle()
        rows = world.store.task_days("2026-01-01", "2027-01-01")
    assert totals(rows) == (1, 0, 0)


TRIGGERED = {"task_name": "prod-on-create", "last_status": "SUCCESS", "scheduled_type": "LIFE_CYCLE",
             "life_cycle_type": "POST_CREATE_DESKTOP_SUCCESS", "enable": True}  # fmt: skip


async def test_with_reports_and_no_overdue_rule_a_successful_run_is_counted(tmp_path: Path) -> None:
    """Reports read the history: every task is listed every `overdue_every` cycles without any rule having
    `overdue_after`, so a task that never fails counts its successful run (one run, no failure)."""
    async with open_world(tmp_path, RULES, tasks=("prod-start",)) as world:
        world.engine.history_listing = True  # what `reports:` in the config sets (see the runtime test)
        await world.cycle()  # every task listed, first sight
        world.advance(DAY)
        world.execute("prod-start", "SUCCESS")
        for _ in range(world.engine.overdue_every):
            await world.cycle()
        rows = world.store.task_days("2026-01-01", "2027-01-01")
    assert totals(rows) == (1, 0, 0)
    assert {row.task_name for row in rows} == {"prod-start"}


async def test_without_reports_or_an_overdue_rule_successes_are_not_listed(tmp_path: Path) -> None:
    """The counterpart: nothing reads a listing of every task, none is made, the success goes uncounted."""
    async with open_world(tmp_path, RULES, tasks=("prod-start",)) as world:
        await world.cycle()
        world.advance(DAY)
        world.execute("prod-start", "SUCCESS")
        for _ in range(world.engine.overdue_every):
            await world.cycle()
        assert world.store.task_days("2026-01-01", "2027-01-01") == []


async def test_a_triggered_tasks_successful_run_is_counted_from_its_records(tmp_path: Path) -> None:
    """A LIFE_CYCLE task is listed only when asked for, and has no next_execution_time to move on: the
    listing of every task asks for it, and looks up its records (within the cap) to count its runs."""
    async with open_world(tmp_path, RULES, tasks=[TRIGGERED]) as world:
        world.engine.history_listing = True
        await world.cycle()  # first sight: its records (the simulator's task has run before) are counted
        before = totals(world.store.task_days("2000-01-01", "2100-01-01"))
        world.advance(DAY)
        world.execute("prod-on-create", "SUCCESS")
        for _ in range(world.engine.overdue_every):
            await world.cycle()
        rows = world.store.task_days("2000-01-01", "2100-01-01")
    assert totals(rows) == (before[0] + 1, before[1], before[2])
    assert {row.task_name for row in rows} == {"prod-on-create"}


async def test_triggered_tasks_records_are_looked_up_in_turn_within_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three triggered tasks, two lookups a listing of every task: each listing looks up two, the next one
    starts where the last stopped (so the third's run is counted too); the cycles between look up none."""
    monkeypatch.setattr(engine_module, "MAX_HISTORY_LOOKUPS", 2)
    tasks = [{**TRIGGERED, "task_name": f"prod-on-create-{n}"} for n in range(3)]
    async with open_world(tmp_path, RULES, tasks=tasks) as world:
        world.engine.history_listing = True
        world.engine.overdue_every = 2
        for task in tasks:
            world.execute(task["task_name"], "SUCCESS")
        looked_up = []
        for _ in range(4):
            world.sim.state.reset_stats()
            await world.cycle()
            looked_up.append(world.sim.state.stats.count("records"))
            if len(looked_up) == 1:  # the third was first seen without its records: only later runs count
                world.advance(DAY)
                for task in tasks:
                    world.execute(task["task_name"], "SUCCESS")
        rows = world.store.task_days("2000-01-01", "2100-01-01")
    assert looked_up == [2, 0, 2, 0]
    assert {row.task_name for row in rows} == {f"prod-on-create-{n}" for n in range(3)}


async def test_every_task_is_listed_every_nth_cycle_only_when_reports_or_overdue_rules_need_it(
    tmp_path: Path,
) -> None:
    """The listing's cost: with neither reports nor a rule with `overdue_after`, every cycle costs the
    failing listing alone; with reports, every `overdue_every`-th cycle adds the pages of every task (the
    scheduled ones, and the triggered ones listed apart)."""
    async with open_world(tmp_path, RULES, sim_options={"tasks": 130, "fail_rate": 0.1}) as world:
        world.engine.overdue_every = 3
        state = world.sim.state
        scheduled = sum(not task.triggered for task in state.tasks)
        triggered = sum(task.triggered for task in state.tasks)
        pages = math.ceil(scheduled / 50) + max(1, math.ceil(triggered / 50))

        async def lists(cycles: int) -> list[int]:
            counts = []
            for _ in range(cycles):
                state.reset_stats()
                await world.cycle()
                counts.append(state.stats.count("list"))
            return counts

        without = await lists(4)
        plain = without[0]
        assert without == [plain] * 4
        world.engine.history_listing = True
        assert await lists(6) == [plain + pages, plain, plain, plain + pages, plain, plain]


async def test_the_runtime_lists_for_the_history_when_reports_are_configured(tmp_path: Path) -> None:
    async with open_world(tmp_path, RULES) as world:
        assert world.engine.history_listing is False, "no reports: no listing for the history"
        loaded = world.runtime.loaded
        report = {"name": "weekly", "channel": "#ops", "schedule": "0 9 * * mon"}
        settings = loaded.settings.model_copy(update={"reports": (ReportSettings.model_validate(report),)})
        world.runtime.apply(Loaded(settings, loaded.ruleset))
        assert world.engine.history_listing is True
        watched = watch_projects([(DEFAULT_PROJECT_ID, world.client)], settings, world.store, loaded.ruleset)
        assert watched[0].engine.history_listing is True


async def test_scheduled_and_disabled_triggered_tasks_records_are_not_looked_up_for_the_history(
    tmp_path: Path,
) -> None:
    """Only an enabled triggered task's runs need its records: a scheduled task's show in its listing, a
    disabled one does not run."""
    tasks = ["prod-start", {**TRIGGERED, "task_name": "prod-off-create", "enable": False}]
    async with open_world(tmp_path, RULES, tasks=tasks) as world:
        world.engine.history_listing = True
        await world.cycle()
        assert world.sim.state.stats.count("records") == 0
