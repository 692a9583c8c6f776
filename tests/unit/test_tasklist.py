"""The terminal's task table shows times in one form, whatever form the API sent them in."""

from __future__ import annotations

import pytest
from rich.console import Console

from monitor.tasklist import task_table
from monitor.workspace.models import ScheduledTask


@pytest.mark.parametrize(
    "next_run",
    ["2026-11-30 02:00:00", "2026-11-29T18:00:00Z", "2026-11-29T18:00:00.000Z", "2026-11-30T02:00:00+08:00"],
)
def test_next_run_is_the_tasks_local_time_with_its_zone(next_run: str) -> None:
    task = ScheduledTask(id="t-1", task_name="n", next_execution_time=next_run, time_zone="Asia/Shanghai")
    console = Console(width=250, record=True)
    console.print(task_table([task]))
    assert "2026-11-30 02:00:00 Asia/Shanghai" in console.export_text()
