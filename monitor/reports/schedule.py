"""When a report is due: its cron schedule in its zone (APScheduler's CronTrigger), the latest firing at or
before now, and the key that names that firing (what makes it queued once, by whichever replica leads).

A firing missed by more than `LATE_LIMIT` (the daemon was down over report time, say) is not posted late:
the next one comes as scheduled.

`schedule_problem` holds a schedule to what a report is: at most one an hour (`* * * * *` would build a
report and upload a chart every minute, 2.5 s of CPU each at 10,000 tasks), and some day at all (`0 0 31 2 *`
never fires: `check` said OK, and every cycle spent 0.2 s looking through the calendar up to the year 9999
for its next firing).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

__all__ = [
    "LATE_LIMIT",
    "MIN_REPORT_GAP",
    "cron_trigger",
    "latest_fire",
    "next_fire_line",
    "period_end",
    "report_key",
    "report_zone",
    "schedule_problem",
]

LATE_LIMIT = timedelta(days=1)
#: The shortest time between two firings of a report's schedule.
MIN_REPORT_GAP = timedelta(hours=1)
#: Firings looked at by `schedule_problem`: at least eight days' worth at one an hour, so every weekday and
#: the first matching day of the month's minutes and hours are seen.
_GAP_FIRINGS = 200
#: Where `schedule_problem` starts looking (any instant will do; a fixed one gives the same answer always).
_GAP_START = datetime(2026, 1, 1, tzinfo=UTC)
#: The most firings looked through for the latest one (a minute-by-minute cron over LATE_LIMIT: 1,440).
_MAX_STEPS = 2000


def report_zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; ValueError says what to write."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"{name!r} is not a time zone: write an IANA name like Europe/Berlin or UTC"
        ) from None


def cron_trigger(expression: str, zone: str) -> CronTrigger:
    """The schedule: five cron fields (minute hour day-of-month month day-of-week) in `zone`; ValueError
    says what is wrong with it."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"{expression!r} is not a cron schedule: write five fields, minute hour day month weekday, "
            'e.g. "0 9 * * mon" for Mondays at 09:00'
        )
    try:
        return CronTrigger.from_crontab(expression, timezone=report_zone(zone))
    except ValueError as exc:
        raise ValueError(f"{expression!r} is not a cron schedule: {exc}") from None


def schedule_problem(expression: str) -> str | None:
    """What is wrong with a valid cron schedule as a report's: it never fires, or it fires more often than
    once every MIN_REPORT_GAP; None when nothing is. Read in UTC (a zone's DST changes move a firing by an
    hour at most, never below the gap for a schedule that respects it)."""
    trigger = cron_trigger(expression, "UTC")
    previous = trigger.get_next_fire_time(None, _GAP_START)
    if previous is None:
        return f"{expression!r} never fires (no such date): check the day and month fields"
    for _ in range(_GAP_FIRINGS):
        fire = trigger.get_next_fire_time(previous, previous + timedelta(microseconds=1))
        if fire is None:
            break
        if fire - previous < MIN_REPORT_GAP:
            return (
                f"{expression!r} fires more than once an hour ({previous:%H:%M} and {fire:%H:%M}): a report "
                'is at most hourly; write one minute and hour, e.g. "0 9 * * mon"'
            )
        previous = fire
    return None


def latest_fire(
    trigger: CronTrigger, now: datetime, *, late_limit: timedelta = LATE_LIMIT
) -> datetime | None:
    """The latest firing in (now - late_limit, now], or None."""
    latest = None
    fire = trigger.get_next_fire_time(None, now - late_limit + timedelta(microseconds=1))
    for _ in range(_MAX_STEPS):
        if fire is None or fire > now:
            break
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return latest


def period_end(fire: datetime) -> date:
    """The day a firing's period ends on (excluded): the firing's date in the report's zone."""
    return fire.date()


def report_key(name: str, fire: datetime) -> str:
    """Names one firing of one report: the same on every replica."""
    return f"{name}@{fire.isoformat(timespec='minutes')}"


def next_fire_line(name: str, schedule: str, zone: str, channel: str, days: int, now: datetime) -> str:
    """What `check` says of a report: when it is next posted, where, and what it covers."""
    fire = cron_trigger(schedule, zone).get_next_fire_time(None, now)
    when = "never (the schedule has no next firing)" if fire is None else f"{fire:%Y-%m-%d %H:%M} {zone}"
    return f"report {name}: next {when}, to {channel}, the {days} days before that day"
