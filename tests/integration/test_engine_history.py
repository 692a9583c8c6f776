"""A poll cycle counts the runs it sees into the run history (monitor.history): from the records it fetched
for its alerts, and from a next_execution_time moving on; a cycle that sees nothing new counts nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor import engine as engine_module
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
