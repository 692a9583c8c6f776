"""Pydantic models of what the Workspace scheduled-task API returns, with every field the official SDK knows.

Unknown fields are kept (`extra="allow"`): the API adds fields over time, and dropping them would hide them
from rules and messages. Fields the SDK declares are optional here too, because the API omits them freely
(a START task has no `life_cycle_type`); only `id` is required, since nothing can be tracked without it.
Wrongly typed values are rejected: the client turns that into a MalformedResponseError naming the endpoint.
Text is kept to MAX_TEXT characters a value (`clip_text`, applied by the client to answers holding longer
strings): nothing the API sends can make a stored row or a message huge.

Times arrive in more than one form. The API reference says "yyyy-MM-dd HH:mm:ss" (in the task's own
`time_zone`); Huawei's Terraform provider, tested against the live cloud, parses records' `start_time` as
RFC 3339 and record details' times as "2006-01-02T15:04:05.000Z" (issue 15). All of them are accepted:
`parse_api_time` gives the instant (a time with its own offset keeps it; one without is in the task's zone),
and `format_api_time` is the one form people see everywhere: "yyyy-MM-dd HH:mm:ss <zone>" in the task's zone,
or in UTC (named so) when the task's zone is unknown and the time carried its own offset.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

__all__ = [
    "MAX_TEXT",
    "ApplyObject",
    "ExecutionRecord",
    "RecordDetail",
    "ScheduledTask",
    "TaskDetail",
    "TaskPage",
    "api_instant",
    "clip_text",
    "format_api_time",
    "has_long_text",
    "known_time_zone",
    "parse_api_time",
    "resolve_time_zone",
]

API_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$")


#: Longer than any zone name or time the API sends: such text is shown as it is, never parsed.
_MAX_TIME_TEXT = 64


@functools.lru_cache(maxsize=256)
def known_time_zone(name: str | None) -> tzinfo | None:
    """An IANA name ("Asia/Shanghai"), "UTC"/"GMT"/"Z" or an offset ("UTC+08:00", "GMT-5", "+0530"); None
    when the name is absent or means nothing (then nobody must be told a time is in it)."""
    if not name or len(name) > _MAX_TIME_TEXT:
        return None
    text = name.strip()
    if text.upper() in ("UTC", "GMT", "Z"):
        return UTC
    match = _OFFSET.match(text.upper())
    if match:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta >= timedelta(hours=24):
            return None
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def resolve_time_zone(name: str | None) -> tzinfo:
    """`known_time_zone`, else UTC."""
    return known_time_zone(name) or UTC


def _read_time(value: str | None) -> datetime | None:
    """ "yyyy-MM-dd HH:mm:ss" (naive), RFC 3339 with "Z" or an offset, with or without milliseconds."""
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_TIME_TEXT:
        return None
    text = value.strip()
    # fromisoformat first: it reads the API's own form as strptime does, ~50x faster (the run history
    # reads a time per task each listing); strptime still takes the unpadded forms it alone accepts.
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.strptime(text, API_TIME_FORMAT)
    except ValueError:
        return None


def _placeable(moment: datetime) -> datetime | None:
    """`moment` (aware) when it is an instant UTC can hold; None at the calendar's very edge (year 1 east of
    UTC, year 9999 west of it: "9999-12-31 23:59:59" in America/New_York), which every later comparison,
    subtraction or store write would fail on with OverflowError (a task due then broke every cycle)."""
    try:
        moment.astimezone(UTC)
        moment.replace(fold=1).astimezone(UTC)
    except OverflowError:
        return None
    return moment


def api_instant(value: str | None, time_zone: str | None) -> datetime | None:
    """The instant an API time means, or None when it cannot be known: unreadable, or without an offset
    of its own and the task's zone unknown."""
    moment = _read_time(value)
    if moment is None:
        return None
    if moment.tzinfo is not None:
        return _placeable(moment)
    place = known_time_zone(time_zone)
    return _placeable(moment.replace(tzinfo=place)) if place is not None else None


def parse_api_time(value: str | None, time_zone: str | None) -> datetime | None:
    """Parse an API time in the given zone (UTC when the zone is unknown); None for absent or unparseable
    values (never raises)."""
    moment = _read_time(value)
    if moment is None:
        return None
    return _placeable(
        moment if moment.tzinfo is not None else moment.replace(tzinfo=resolve_time_zone(time_zone))
    )


def format_api_time(value: str | None, time_zone: str | None, *, named: bool = True) -> str:
    """An API time as people see it everywhere: "2026-11-28 09:00:00 Asia/Shanghai".

    A time with its own offset is shown in the task's zone (in UTC, named so, when that zone is unknown);
    one without is shown as it came, with the task's zone. Unreadable text (or a moment that cannot be moved
    to that zone, at the ends of the calendar) is shown as it came. "" for none.
    `named=False` leaves the task's zone out (a table with a zone column elsewhere); a time moved to UTC
    still says so, as "2026-11-28 01:00Z".
    """
    if not value:
        return ""
    zone_name = (time_zone or "").strip() if named else ""
    moment = _read_time(value)
    if moment is None:
        return f"{value} {zone_name}".strip()
    if moment.tzinfo is None:
        return f"{_wall(moment)} {zone_name}".strip()
    place = known_time_zone(time_zone)
    try:
        moved = moment.astimezone(place or UTC)
    except (OverflowError, ValueError, OSError):
        return f"{value} {zone_name}".strip()
    if place is None:
        return f"{_wall(moved)} UTC" if named else f"{_wall(moved)[:16]}Z"
    return f"{_wall(moved)} {zone_name}".strip()


def _wall(moment: datetime) -> str:
    """ "yyyy-MM-dd HH:mm:ss" (strftime's %Y does not pad years before 1000 on every platform)."""
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )


#: The most characters of one text value the monitor keeps (a task name, a failure reason, an extra field):
#: an outbox row carries each one, so one huge task name would make a huge row. Longer text is cut, marked
#: with "…".
MAX_TEXT = 1000
_MAX_DEPTH = 8


def has_long_text(value: Any, _depth: int = 0) -> bool:
    """Whether `value` holds a string (or key) longer than MAX_TEXT: cheap enough for every answer (a walk, no
    copy: bench/findings.md), so that `clip_text` only copies the rare answer that needs it."""
    kind = type(value)
    if kind is str:
        return len(value) > MAX_TEXT
    if _depth >= _MAX_DEPTH:
        return False
    if kind is dict:
        for key, item in value.items():
            if len(key) > MAX_TEXT:
                return True
            item_kind = type(item)
            if item_kind is str:
                if len(item) > MAX_TEXT:
                    return True
            elif (item_kind is dict or item_kind is list) and has_long_text(item, _depth + 1):
                return True
        return False
    if kind is list:
        return any(has_long_text(item, _depth + 1) for item in value)
    return False


def clip_text(value: Any, _depth: int = 0) -> Any:
    """`value` with every string in it (keys too, nested up to a depth) cut to MAX_TEXT characters."""
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"
    if _depth >= _MAX_DEPTH:
        return value
    if isinstance(value, list):
        return [clip_text(item, _depth + 1) for item in value]
    if isinstance(value, dict):
        return {clip_text(k, _depth + 1): clip_text(v, _depth + 1) for k, v in value.items()}
    return value


#: For the models a listing does not use: their validators are built when first used, not at import (a
#: model's build is most of what importing it costs; `tasks` lists only: bench/findings.md, start-up).
_BUILT_WHEN_USED = ConfigDict(defer_build=True)


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
    model_config = _BUILT_WHEN_USED

    object_id: StrictStr | None = None
    object_type: StrictStr | None = None
    object_name: StrictStr | None = None


class TaskDetail(_ApiModel):
    """`GET /v2/{project_id}/scheduled-tasks/{task_id}`: the task's full definition.

    Unlike the list entry it carries the schedule and targets, but no `last_status` or `enable` (the SDK's
    ShowScheduledTasksResponse has neither); any the API sends stay in `extra_fields`.
    """

    model_config = _BUILT_WHEN_USED

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

    model_config = _BUILT_WHEN_USED

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

    model_config = _BUILT_WHEN_USED

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
