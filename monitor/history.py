"""Run history from what the listings already show: which runs a task made since it was last seen, and how
each went, as a pure function over a stored mark (`runs_seen`). The store keeps one mark per task and a
compact per-task daily summary (runs, fails, skips), which reports read (monitor.reports).

    a task's next_execution_time moved on      -> it ran at the old one; its last_status says how it went
    execution records fetched this cycle       -> each finished record started since the mark is one run
                                                  (those the cycle's capped lookups brought, and, with
                                                  reports, a few triggered tasks' in turn: their runs show
                                                  nowhere else; monitor.engine.MAX_HISTORY_LOOKUPS)
    first sight of a task                      -> its fetched records, if any; else a mark only (when it last
                                                  ran is not known)

Each counted run moves the mark's `counted_until` past it, and the mark is written in the same transaction as
the counts, so a restart (or a second replica) never counts a run twice. A run's day is its date in the
task's own time zone (the "Monday" of "the nightly reboot fails every Monday").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import NamedTuple

from monitor.workspace.models import ExecutionRecord, ScheduledTask, known_time_zone

__all__ = [
    "FINISHED",
    "HISTORY_RETENTION",
    "Mark",
    "Run",
    "Sighting",
    "TaskDay",
    "runs_seen",
    "sightings_of",
]

#: How long the daily summary is kept (a year, and the same weeks of the year before for a comparison).
HISTORY_RETENTION = timedelta(days=400)
#: Record statuses of a run that is over; a RUNNING or WAITING one is counted once it finishes.
FINISHED = frozenset({"SUCCESS", "FAIL", "SKIP", "PART_SUCCESS", "PARTIAL_SUCCESS"})
#: Distinct next times `sightings_of` remembers at once (then it starts again).
_NEXT_TIMES_MEMO = 4096


class Run(NamedTuple):
    """One run: its day (yyyy-mm-dd in the task's zone) and how it went (FAIL, SKIP, anything else: ran)."""

    day: str
    status: str


class Mark(NamedTuple):
    """What the store remembers of a task between sightings."""

    next_at: datetime | None  # its next_execution_time when last seen
    counted_until: datetime  # runs at or before this are counted already


class Sighting(NamedTuple):
    """A task as one cycle saw it; `records` only when the cycle fetched them (None otherwise)."""

    task_id: str
    task_name: str | None
    task_type: str | None
    next_at: datetime | None
    last_status: str | None
    zone: tzinfo
    records: tuple[tuple[datetime, str], ...] | None = None


class TaskDay(NamedTuple):
    """One row of the daily summary."""

    project: str
    task_id: str
    day: str
    task_type: str | None
    task_name: str | None
    runs: int
    fails: int
    skips: int


def sightings_of(
    tasks: Iterable[ScheduledTask], records: Mapping[str, Sequence[ExecutionRecord]]
) -> Iterator[Sighting]:
    """A sighting of each task, with the finished records `records` holds for it (started times known), made
    as they are taken (a listing of every task is 100,000 of them)."""
    # A fleet's tasks share next times (the same schedules in the same zones), and parsing one is most of a
    # sighting's cost: each (time, zone) is parsed once here, in a memo kept small (bench/findings.md).
    next_times: dict[tuple[str | None, str | None], datetime | None] = {}
    for task in tasks:
        when = (task.next_execution_time, task.time_zone)
        if when in next_times:
            next_at = next_times[when]
        else:
            if len(next_times) >= _NEXT_TIMES_MEMO:
                next_times.clear()
            next_at = next_times[when] = task.next_execution_at
        known = records.get(task.id)
        finished = None
        if known is not None:
            finished = tuple(
                (started, record.status or "")
                for record in known
                if (record.status or "") in FINISHED and (started := record.started_at) is not None
            )
        yield Sighting(
            task.id,
            task.task_name,
            task.task_type,
            next_at,
            task.last_status,
            known_time_zone(task.time_zone) or UTC,
            finished,
        )


def _day(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).date().isoformat()


def runs_seen(mark: Mark | None, seen: Sighting, now: datetime) -> tuple[Mark, list[Run]]:
    """The task's new mark, and the runs it made since `mark`.

    Records, when fetched, count each finished run started after the mark (at first sight: all of them) and
    not in the future. Otherwise a next_execution_time later than the marked one means one run at the marked
    time (or now, if that is earlier), with the listing's last_status; at first sight, nothing. A next time
    moved back (the schedule was edited) moves the mark without counting."""
    counted_until = mark.counted_until if mark is not None else None
    runs: list[Run] = []
    if seen.records:
        fresh = sorted(
            (started, status)
            for started, status in seen.records
            if started <= now and (counted_until is None or counted_until < started)
        )
        runs = [Run(_day(started, seen.zone), status) for started, status in fresh]
        if fresh:
            counted_until = fresh[-1][0]
    if mark is None:
        return Mark(seen.next_at, counted_until or now), runs
    if not runs and seen.next_at is not None and mark.next_at is not None and seen.next_at > mark.next_at:
        # It ran at the marked time, or earlier when it was started ahead of its schedule.
        ran_at = min(mark.next_at, now)
        if mark.counted_until < ran_at:
            runs = [Run(_day(ran_at, seen.zone), seen.last_status or "SUCCESS")]
            # Counted up to now, not to the run's time: its record (started a little after it was due, and
            # perhaps fetched by a later cycle) must not count it again.
            counted_until = now
    next_at = seen.next_at if seen.next_at is not None else mark.next_at
    return Mark(next_at, counted_until or now), runs
