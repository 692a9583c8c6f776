"""A mass failure fetches the execution records of at most MAX_RECORD_LOOKUPS tasks per cycle; every
failing task still gets its alert in that cycle, the rest decided from the listing alone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog

from monitor import engine as engine_module
from monitor.decide import DecisionKind
from monitor.engine import Engine, records_order
from monitor.rules import load_rules_text
from monitor.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    SimOptions,
    start_simulator,
)
from monitor.store import SQLiteStore
from monitor.workspace.auth import AkSkAuth
from monitor.workspace.client import WorkspaceClient
from monitor.workspace.models import ScheduledTask

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
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
    async with start_simulator(SimOptions(tasks=0, seed=21, clock=lambda: NOW)) as sim:
        names = [f"prod-reboot-{n}" for n in range(5)]
        for name in names:
            sim.state.create_task(
                {"task_name": name, "last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY"}
            )
            sim.state.add_execution(sim.state.task(name).id, "FAIL")
        auth = AkSkAuth(
            DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, project_id=DEFAULT_PROJECT_ID, clock=lambda: NOW
        )
        client = WorkspaceClient(endpoint=sim.base_url, project_id=DEFAULT_PROJECT_ID, auth=auth)
        sim.state.reset_stats()
        with SQLiteStore.open(tmp_path / "state.db") as store, structlog.testing.capture_logs() as logs:
            engine = Engine(
                client=client, store=store, ruleset=load_rules_text(RULES),
                project=DEFAULT_PROJECT_ID, default_channel=None, clock=lambda: NOW,
            )  # fmt: skip
            async with client:
                report = await engine.run_cycle()
        records_requests = sum(sim.state.stats_snapshot()["requests"].get("records", {}).values())
    assert records_requests == 3
    assert sorted(note.task_name for note in report.decisions if note.kind is DecisionKind.NEW) == names
    with_history = [entry for entry in report.outbox if "history" in entry.payload]
    assert len(with_history) == 3
    [capped] = [event for event in logs if event["event"] == "cycle.records_capped"]
    assert (capped["looked_up"], capped["without_records"]) == (3, 2)
