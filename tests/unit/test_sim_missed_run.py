"""The simulator's missed runs: a task whose next_execution_time passed without a run (SimState.miss_run, the
control API's POST /_sim/tasks/{id}/missed-run, the scenario action `miss`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.devtools.sim.options import SimOptions
from monitor.devtools.sim.scenario import parse_scenario
from monitor.devtools.sim.state import SimState

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def state() -> SimState:
    sim = SimState(SimOptions(tasks=0, clock=lambda: NOW))
    sim.create_task({"task_name": "nightly", "scheduled_type": "DAY", "time_zone": "Asia/Shanghai",
                     "scheduled_time": "02:00:00", "last_status": "SUCCESS"})  # fmt: skip
    return sim


def test_a_missed_run_leaves_the_due_time_in_the_past_in_the_tasks_zone() -> None:
    sim = state()
    task = sim.miss_run("nightly", late_by=timedelta(hours=2))
    assert task.next_execution_time == "2026-11-29 14:00:00"  # 06:00Z in Shanghai


def test_runs_since_the_missed_one_did_not_happen() -> None:
    sim = state()
    assert sim.task("nightly").records[0].start_time == "2026-11-29 02:00:00"  # 2026-11-28 18:00Z
    task = sim.miss_run("nightly", late_by=timedelta(days=1))  # due 2026-11-28 08:00Z
    assert all(record.start_time < "2026-11-28 16:00:00" for record in task.records)
    assert task.last_status == (task.records[0].status if task.records else None)


def test_a_created_tasks_history_follows_its_schedule() -> None:
    """Runs at its scheduled time in its zone, none in the future."""
    task = state().task("nightly")
    assert task.records
    assert all(record.start_time.endswith(" 02:00:00") for record in task.records)
    assert task.records[0].start_time == "2026-11-29 02:00:00"  # 2026-11-28 18:00Z, before NOW


@pytest.mark.parametrize("late_by", [timedelta(0), timedelta(seconds=-5)])
def test_a_missed_run_is_in_the_past(late_by: timedelta) -> None:
    with pytest.raises(ValueError, match="positive"):
        state().miss_run("nightly", late_by=late_by)


def test_a_triggered_task_has_no_run_to_miss() -> None:
    sim = state()
    sim.create_task({"task_name": "on-create", "scheduled_type": "LIFE_CYCLE"})
    with pytest.raises(ValueError, match="LIFE_CYCLE"):
        sim.miss_run("on-create", late_by=timedelta(hours=1))


def test_a_scenario_step_misses_a_run() -> None:
    sim = state()
    sim.load_scenario([[{"action": "miss", "task": "nightly", "late_by_seconds": 600}]])
    applied = sim.advance_scenario()
    assert applied["applied"] == [f"miss {sim.task('nightly').id}"]
    assert sim.task("nightly").next_execution_time == "2026-11-29 15:50:00"
    with pytest.raises(ValueError, match="late_by_seconds"):
        parse_scenario([[{"action": "miss", "task": "nightly", "late_by_seconds": "soon"}]])
