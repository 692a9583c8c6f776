"""The simulator's in-memory objects: tasks, their execution records and per-desktop results.

These are plain mutable dataclasses owned by `SimState`; `wire.py` turns them into the API's JSON. Record
counts (`success_num` ...) are derived from the details, so they can never disagree with them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from monitor.workspace import vocabulary

__all__ = [
    "TASK_TYPES",
    "SimDesktop",
    "SimDetail",
    "SimRecord",
    "SimTask",
]

#: The types the generator draws from (the API's vocabulary is monitor.workspace.vocabulary): every type but
#: DELETE_BLACK_ECS, so that seeds stay stable.
TASK_TYPES = tuple(task_type for task_type in vocabulary.TASK_TYPES if task_type != "DELETE_BLACK_ECS")


@dataclass
class SimDesktop:
    id: str
    name: str


@dataclass
class SimDetail:
    """One desktop's outcome in one execution."""

    id: str
    desktop_id: str
    desktop_name: str
    exec_status: str  # SUCCESS | FAIL | SKIP
    result_code: str
    fail_reason: str | None
    start_time: str
    end_time: str
    exec_script_id: str | None = None


@dataclass
class SimRecord:
    """One execution of a task; `details` holds one entry per targeted desktop."""

    id: str
    start_time: str
    status: str
    details: list[SimDetail] = field(default_factory=list)

    def count(self, exec_status: str) -> int:
        return sum(1 for d in self.details if d.exec_status == exec_status)


@dataclass
class SimTask:
    """A scheduled task with everything the list, show and records endpoints report about it."""

    id: str
    task_name: str
    task_type: str
    scheduled_type: str
    time_zone: str
    enable: bool = True
    description: str = ""
    priority: int = 0
    wait_time: int | None = None
    life_cycle_type: str | None = None
    last_status: str | None = None
    next_execution_time: str | None = None
    expire_time: str | None = None
    force_execute: bool = False
    day_interval: int | None = None
    week_list: str | None = None
    month_list: str | None = None
    date_list: str | None = None
    scheduled_date: str | None = None
    scheduled_time: str | None = None
    extra_params: str | None = None
    gray_count: int | None = None
    gray_fail_threshold: int | None = None
    desktops: list[SimDesktop] = field(default_factory=list)
    # Newest execution first, as the records endpoint answers.
    records: list[SimRecord] = field(default_factory=list)

    @property
    def triggered(self) -> bool:
        return self.scheduled_type == "LIFE_CYCLE"

    @property
    def execute_task_id(self) -> str:
        """What its records name as `execute_task_id` (the task that executed, which
        `script-executions/retry` takes as `task_id`): an id of its own, not the scheduled task's, so that a
        retry sending the scheduled task's id is refused here and a test can tell the two apart."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sim:execute-task:{self.id}"))
