"""A mass failure fetches the execution records of at most MAX_RECORD_LOOKUPS tasks per cycle; every
failing task still gets its alert in that cycle, the rest decided from the listing alone."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from monitor import engine as engine_module
from monitor.decide import DecisionKind
from monitor.engine import records_order
from monitor.workspace.models import ScheduledTask
from tests.support.world import open_world

RULES = 'rules:\n  - name: ops\n    channel: "#ops"\n'


def tasks(*ids: str) -> list[ScheduledTask]:
    return [ScheduledTask(id=task_id) for task_id in ids]


@pytest.mark.parametrize(
    ("fresh", "turn", "limit", "expected"),
    [
        pytest.param(set(), 0, 10, "abcde", id="under the cap: all, in order"),
        pytest.param({"d", "e"}, 0, 3, "dea", id="tasks without alerts first"),
        pytest.param(set(), 2, 3, "cde", id="the others from the turn on"),
        pytest.param(set(), 4, 3, "eab", id="wrapping around"),
        pytest.param({"a"}, 7, 2, "ae", id="turn beyond the end wraps too"),
        pytest.param({"a", "b", "c", "d"}, 0, 2, "ab", id="more new tasks than the cap"),
    ],
)
def test_which_tasks_get_their_records_looked_up(
    fresh: set[str], turn: int, limit: int, expected: str
) -> None:
    chosen = records_order(tasks(*"abcde"), fresh, turn=turn, limit=limit)
    assert "".join(task.id for task in chosen) == expected


async def test_a_mass_failure_looks_up_records_up_to_the_cap_and_alerts_on_every_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "MAX_RECORD_LOOKUPS", 3)
    names = tuple(f"prod-reboot-{n}" for n in range(5))
    async with open_world(tmp_path, RULES, tasks=names) as world:
        for name in names:
            world.execute(name, "FAIL")
        world.sim.state.reset_stats()
        with structlog.testing.capture_logs() as logs:
            report = await world.engine.run_cycle()
        records_requests = sum(world.sim.state.stats_snapshot()["requests"].get("records", {}).values())
    assert records_requests == 3
    assert sorted(note.task_name for note in report.decisions if note.kind is DecisionKind.NEW) == list(names)
    with_history = [entry for entry in report.outbox if "history" in entry.payload]
    assert len(with_history) == 3
    [capped] = [event for event in logs if event["event"] == "cycle.records_capped"]
    assert (capped["looked_up"], capped["without_records"]) == (3, 2)
