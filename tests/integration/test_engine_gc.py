"""The collector during a cycle: paused for the cycle's own objects, running while the engine waits on the
Workspace API (each request leaves cyclic garbage; a mass failure makes one request per failing task)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.world import open_world

RULES = """
rules:
  - name: all
    match: {}
    channel: "#ops"
"""


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


async def test_records_of_a_mass_failure_are_fetched_with_the_collector_running(tmp_path: Path) -> None:
    seen: list[tuple[str, bool]] = []
    async with open_world(
        tmp_path,
        RULES,
        tasks=(),
        sim_options={"tasks": 40, "fail_rate": 1.0, "skip_rate": 0.0, "seed": 2},
        observer=lambda endpoint, _status: seen.append((endpoint, gc.isenabled())),
    ) as world:
        report = await world.engine.run_cycle()
    # The per-desktop details (at most MAX_DETAIL_LOOKUPS a cycle) may stay inside the pause.
    records = [on for endpoint, on in seen if endpoint.endswith("/records")]
    assert len(report.outbox) > 20
    assert (
        len(records) >= len(report.outbox) - 10
    )  # one records request per new alert's task (LIFE_CYCLE too)
    assert all(records)
    assert gc.isenabled()
