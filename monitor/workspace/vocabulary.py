"""The Workspace API's vocabulary: the values of a scheduled task's enum fields, defined once.

Rule files, the CLI's `tasks` filters, the chatops `/tasks list` arguments and the simulator all take their
choices from here. The values are the ones the official SDK's ScheduledTask model lists
(huaweicloudsdkworkspace/v2/model/scheduled_task.py). The API may send others (issue 15): a listing keeps
and shows an unknown value as it is; only what people write (rules, arguments) is held to these lists.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "LAST_STATUSES",
    "LIFE_CYCLE_TYPES",
    "SCHEDULED_TYPES",
    "TASK_TYPES",
    "LastStatus",
    "LifeCycleType",
    "ScheduledType",
    "TaskType",
]

TaskType = Literal[
    "START", "STOP", "REBOOT", "HIBERNATE", "REBUILD", "EXECUTE_SCRIPT", "CREATE_SNAPSHOT", "DELETE_BLACK_ECS"
]  # fmt: skip
ScheduledType = Literal["FIXED_TIME", "DAY", "WEEK", "MONTH", "LIFE_CYCLE"]
#: What triggers a LIFE_CYCLE task (other tasks have none).
LifeCycleType = Literal[
    "POST_CREATE_DESKTOP_SUCCESS",
    "POST_REBUILD_DESKTOP_SUCCESS",
    "POST_REATTACH_DESKTOP_SUCCESS",
    "POST_DESKTOP_DISCONNECTED",
]
#: A task's `last_status`, as the list endpoint filters by it.
LastStatus = Literal["FAIL", "SKIP", "SUCCESS"]

TASK_TYPES: tuple[TaskType, ...] = get_args(TaskType)
SCHEDULED_TYPES: tuple[ScheduledType, ...] = get_args(ScheduledType)
LIFE_CYCLE_TYPES: tuple[LifeCycleType, ...] = get_args(LifeCycleType)
LAST_STATUSES: tuple[LastStatus, ...] = get_args(LastStatus)
