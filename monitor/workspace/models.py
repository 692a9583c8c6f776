"""Pydantic models of what the Workspace scheduled-task API returns, with every field the official SDK knows.

Unknown fields are kept (`extra="allow"`): the API adds fields over time, and dropping them would hide them
from rules and messages. Fields the SDK declares are optional here too, because the API omits them freely
(a START task has no `life_cycle_type`); only `id` is required, since nothing can be tracked without it.
Wrongly typed values are rejected: the client turns that into a MalformedResponseError naming the endpoint.

Times arrive as "yyyy-MM-dd HH:mm:ss" in the task's own `time_zone`; `next_execution_at` is that instant as an
aware datetime.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

__all__ = [
    "ApplyObject",
    "ExecutionRecord",
    "RecordDetail",
    "ScheduledTask",
    "TaskDetail",
    "TaskPage",
    "parse_api_time",
    "resolve_time_zone",
]

API_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$")


def resolve_time_zone(name: str | None) -> tzinfo:
    """An IANA name ("Asia/Shanghai"), an offset ("UTC+08:00", "GMT-5", "+0530") else UTC."""
    if not name:
        return UTC
    text = name.strip()
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    match = _OFFSET.match(text.upper())
    if match:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        return timezone(-delta if sign == "-" else delta)
    return UTC


def parse_api_time(value: str | None, time_zone: str | None) -> datetime | None:
    """Parse an API time in the given zone; None for absent or unparseable values (never raises)."""
    if not value:
        return None
    try:
        naive = datetime.strptime(value.strip(), API_TIME_FORMAT)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        if parsed.tzinfo is not None:
            return parsed
        naive = parsed
    return naive.replace(tzinfo=resolve_time_zone(time_zone))


class _ApiModel(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    @property
    def extra_fields(self) -> dict[str, Any]:
        """Fields the API sent that this model does not declare."""
        return dict(self.__pydantic_extra__ or {})


class ScheduledTask(_ApiModel):
    """One entry of `GET /v2/{project_id}/scheduled-tasks`."""

    id: StrictStr = Field(min_length=1)
    task_name: StrictStr | None = None
    task_type: StrictStr | None = None
    scheduled_type: StrictStr | None = None
    life_cycle_type: StrictStr | None = None
    life_cycle_exec_period: StrictInt | None = None
    last_status: StrictStr | None = None
    next_execution_time: StrictStr | None = None
    expire_time: StrictStr | None = None
    enable: StrictBool | None = None
    description: StrictStr | None = None
    priority: StrictInt | None = None
    time_zone: StrictStr | None = None
    wait_time: StrictInt | None = None
    extra_params: StrictStr | None = None

    @property
    def next_execution_at(self) -> datetime | None:
        return parse_api_time(self.next_execution_time, self.time_zone)


class TaskPage(_ApiModel):
    """The body of the list answer."""

    scheduled_tasks: list[ScheduledTask]
    total_count: StrictInt = Field(ge=0)


class ApplyObject(_ApiModel):
    object_id: StrictStr | None = None
    object_type: StrictStr | None = None
    object_name: StrictStr | None = None


class TaskDetail(_ApiModel):
    """`GET /v2/{project_id}/scheduled-tasks/{task_id}`: the task's full definition.

    Unlike the list entry it carries the schedule and targets, but no `last_status` or `enable` (the SDK's
    ShowScheduledTasksResponse has neither); any the API sends stay in `extra_fields`.
    """

    id: StrictStr = Field(min_length=1)
    task_type: StrictStr | None = None
    task_name: StrictStr | None = None
    force_execute: StrictBool | None = None
    scheduled_type: StrictStr | None = None
    life_cycle_type: StrictStr | None = None
    life_cycle_exec_period: StrictInt | None = None
    day_interval: StrictInt | None = None
    week_list: StrictStr | None = None
    month_list: StrictStr | None = None
    date_list: StrictStr | None = None
    scheduled_date: StrictStr | None = None
    scheduled_time: StrictStr | None = None
    expire_time: StrictStr | None = None
    description: StrictStr | None = None
    extra_params: StrictStr | None = None
    apply_objects: list[ApplyObject] | None = None
    gray_count: StrictInt | None = None
    gray_desktop_ids: list[StrictStr] | None = None
    gray_fail_threshold: StrictInt | None = None
    time_zone: StrictStr | None = None
    wait_time: StrictInt | None = None


class ExecutionRecord(_ApiModel):
    """One execution of a task (`.../scheduled-tasks/{task_id}/records`)."""

    id: StrictStr = Field(min_length=1)
    start_time: StrictStr | None = None
    task_type: StrictStr | None = None
    scheduled_type: StrictStr | None = None
    life_cycle_type: StrictStr | None = None
    status: StrictStr | None = None
    success_num: StrictInt | None = None
    failed_num: StrictInt | None = None
    skip_num: StrictInt | None = None
    time_zone: StrictStr | None = None
    execute_task_id: StrictStr | None = None
    execute_object_type: StrictStr | None = None
    expire_time: StrictStr | None = None
    extra_params: StrictStr | None = None

    @property
    def started_at(self) -> datetime | None:
        return parse_api_time(self.start_time, self.time_zone)


class RecordDetail(_ApiModel):
    """One desktop's outcome in one execution (`.../records/{record_id}`)."""

    id: StrictStr | None = None
    record_id: StrictStr | None = None
    desktop_id: StrictStr | None = None
    desktop_name: StrictStr | None = None
    exec_status: StrictStr | None = None
    exec_script_id: StrictStr | None = None
    result_code: StrictStr | None = None
    fail_reason: StrictStr | None = None
    start_time: StrictStr | None = None
    end_time: StrictStr | None = None
    time_zone: StrictStr | None = None
