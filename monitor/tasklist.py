"""Rendering a task listing for people (a table) and for scripts (JSON): pure functions of the tasks.

rich is imported by the table only: `tasks --json` does without it (tests/unit/test_startup_imports.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from monitor.notify.text import terminal_safe
from monitor.workspace.models import ScheduledTask, format_api_time

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

__all__ = ["STATUS_STYLE", "output_console", "task_table", "tasks_json"]

STATUS_STYLE = {"FAIL": "bold red", "SKIP": "yellow", "SUCCESS": "green"}


def _schedule(task: ScheduledTask) -> str:
    if task.scheduled_type == "LIFE_CYCLE" and task.life_cycle_type:
        return f"LIFE_CYCLE ({task.life_cycle_type})"
    return task.scheduled_type or "-"


def _next_run(task: ScheduledTask) -> str:
    return format_api_time(task.next_execution_time, task.time_zone) or "-"


def output_console() -> Console:
    """stdout; when it is a file or a pipe, wide enough that ids and names are not folded."""
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 200)
    return console


def task_table(tasks: Sequence[ScheduledTask], *, title: str | None = None, with_ids: bool = True) -> Table:
    """A table with one row per task; names are shown as text, never interpreted as markup."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, show_lines=False, header_style="bold")
    columns = ("ID", "Name", "Type", "Schedule", "Last status", "Next run", "Enabled")
    for column in columns if with_ids else columns[1:]:
        table.add_column(column, overflow="fold")
    for task in tasks:
        status = task.last_status or "-"
        # Every value is the API's: control characters are made visible, not sent to the terminal.
        cells = [
            Text(terminal_safe(task.task_name or "-")),
            Text(terminal_safe(task.task_type or "-")),
            Text(terminal_safe(_schedule(task))),
            Text(terminal_safe(status), style=STATUS_STYLE.get(status, "")),
            Text(terminal_safe(_next_run(task))),
            Text({True: "yes", False: "no", None: "-"}[task.enable]),
        ]
        if with_ids:
            cells.insert(0, Text(terminal_safe(task.id)))
        table.add_row(*cells)
    return table


def tasks_json(tasks: Sequence[ScheduledTask]) -> str:
    """A JSON array of the tasks as the API sent them (unknown fields included)."""
    data: list[dict[str, Any]] = [task.model_dump(mode="json", exclude_none=True) for task in tasks]
    return json.dumps(data, ensure_ascii=False, indent=2)
