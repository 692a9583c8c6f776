"""When a simulated task runs next, from its schedule fields, in its own time zone (pure functions).

The API writes times as "yyyy-MM-dd HH:mm:ss" in the task's `time_zone`. The simulator models schedules
only as far as it needs to move `next_execution_time` forward after an execution:

- FIXED_TIME runs once at `scheduled_date scheduled_time`; after that there is no next run.
- DAY runs daily at `scheduled_time` (`day_interval` needs the schedule's start date, which the simulator does
  not keep, so every day counts).
- WEEK runs on the ISO weekdays in `week_list` ("1,3,5": 1 = Monday ... 7 = Sunday).
- MONTH runs on the days of `date_list` in the months of `month_list`.
- LIFE_CYCLE (triggered) tasks have no next execution time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.devtools.sim.entities import SimTask

__all__ = ["API_TIME_FORMAT", "format_api_time", "next_run", "parse_api_time", "previous_run", "zone"]

API_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_SEARCH_DAYS = 400  # a MONTH schedule on day 31 of February-only would never match; stop looking after this


def zone(name: str | None) -> tzinfo:
    """The task's zone; UTC for names the tz database does not know (a PATCH may set anything)."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def format_api_time(moment: datetime, time_zone: str | None) -> str:
    return moment.astimezone(zone(time_zone)).strftime(API_TIME_FORMAT)


def parse_api_time(text: str, time_zone: str | None) -> datetime:
    return datetime.strptime(text, API_TIME_FORMAT).replace(tzinfo=zone(time_zone))


def _int_set(text: str | None) -> set[int]:
    values: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if part.isdigit():
            values.add(int(part))
    return values


def _at(day: date, clock: time, tz: tzinfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=tz)


def _day_matcher(task: SimTask) -> Callable[[date], bool]:
    """Whether the schedule runs on a given local day (the lists are parsed once per search)."""
    if task.scheduled_type == "WEEK":
        weekdays = _int_set(task.week_list)
        return lambda day: day.isoweekday() in weekdays
    if task.scheduled_type == "MONTH":
        months = _int_set(task.month_list) or set(range(1, 13))
        days = _int_set(task.date_list)
        return lambda day: day.month in months and day.day in days
    return lambda day: True


def _search(task: SimTask, moment: datetime, step: int) -> datetime | None:
    """The first run strictly after (`step` 1) or strictly before (`step` -1) `moment`."""
    if task.triggered or not task.scheduled_time:
        return None
    tz = zone(task.time_zone)
    clock = time.fromisoformat(task.scheduled_time)
    local = moment.astimezone(tz)
    if task.scheduled_type == "FIXED_TIME":
        if not task.scheduled_date:
            return None
        run = _at(date.fromisoformat(task.scheduled_date), clock, tz)
        return run if (run > local if step > 0 else run < local) else None
    runs_on = _day_matcher(task)
    for offset in range(_SEARCH_DAYS):
        day = local.date() + timedelta(days=offset * step)
        if not runs_on(day):
            continue
        run = _at(day, clock, tz)
        if (run > local) if step > 0 else (run < local):
            return run
    return None


def next_run(task: SimTask, after: datetime) -> datetime | None:
    """The first scheduled run strictly after `after` (aware), in the task's zone; None if there is none."""
    return _search(task, after, 1)


def previous_run(task: SimTask, before: datetime) -> datetime | None:
    """The last scheduled run strictly before `before`, in the task's zone; None if there is none."""
    return _search(task, before, -1)
