"""Run history from sightings (monitor.history.runs_seen): which runs a task made since its stored mark, and
on which day, from its next_execution_time moving on or from the records a cycle fetched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.history import Mark, Run, Sighting, runs_seen, sightings_of
from monitor.workspace.models import ExecutionRecord, ScheduledTask

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def seen(
    next_at: datetime | None,
    status: str | None = "SUCCESS",
    records: tuple[tuple[datetime, str], ...] | None = None,
) -> Sighting:
    return Sighting("t-1", "nightly", "REBOOT", next_at, status, UTC, records)


@pytest.mark.parametrize(
    ("mark", "sighting", "runs", "counted_until"),
    [
        pytest.param(None, seen(NOW + H), [], NOW, id="first sight: a mark only"),
        pytest.param(
            Mark(NOW - H, NOW - 2 * H),
            seen(NOW + 23 * H, "FAIL"),
            [Run("2026-03-10", "FAIL")],
            NOW,
            id="next time moved on: one run at the old one, as last_status says",
        ),
        pytest.param(Mark(NOW + H, NOW - H), seen(NOW + H, "FAIL"), [], NOW - H, id="same next time: no run"),
        pytest.param(
            Mark(NOW + 5 * H, NOW - H),
            seen(NOW + 29 * H, "SKIP"),
            [Run("2026-03-10", "SKIP")],
            NOW,
            id="started ahead of its schedule: counted now",
        ),
        pytest.param(
            Mark(NOW - H, NOW - H),
            seen(NOW + 23 * H),
            [],
            NOW - H,
            id="the run at the mark is counted already",
        ),
        pytest.param(
            Mark(NOW + 5 * H, NOW - H),
            seen(NOW - 30 * H),
            [],
            NOW - H,
            id="schedule moved back: nothing counted",
        ),
        pytest.param(
            Mark(NOW - H, NOW - 30 * H),
            seen(
                NOW + 23 * H,
                "FAIL",
                ((NOW - 26 * H, "SUCCESS"), (NOW - 50 * H, "FAIL"), (NOW - 2 * H, "FAIL")),
            ),
            [Run("2026-03-09", "SUCCESS"), Run("2026-03-10", "FAIL")],
            NOW - 2 * H,
            id="records: each finished run since the mark",
        ),
        pytest.param(
            None,
            seen(NOW + H, "FAIL", ((NOW - 2 * H, "FAIL"), (NOW + 2 * H, "FAIL"))),
            [Run("2026-03-10", "FAIL")],
            NOW - 2 * H,
            id="records at first sight count; one in the future does not",
        ),
    ],
)
def test_runs_since_the_mark(
    mark: Mark | None, sighting: Sighting, runs: list[Run], counted_until: datetime
) -> None:
    after, counted = runs_seen(mark, sighting, NOW)
    assert counted == runs
    assert after.counted_until == counted_until


def test_seen_twice_counts_once() -> None:
    """The mark a sighting leaves makes the same sighting count nothing again (a restart, a replica)."""
    sighting = seen(NOW + 23 * H, "FAIL", ((NOW - 2 * H, "FAIL"),))
    mark, first = runs_seen(Mark(NOW - H, NOW - 30 * H), sighting, NOW)
    again, second = runs_seen(mark, sighting, NOW + H)
    assert (len(first), second, again) == (1, [], mark)


def test_a_runs_day_is_its_date_in_the_tasks_zone() -> None:
    """01:00 UTC on the 10th is still the 9th in New York, and already the 10th in Shanghai."""
    at = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
    for zone, day in (("America/New_York", "2026-03-09"), ("Asia/Shanghai", "2026-03-10")):
        sighting = Sighting("t-1", None, None, at + 24 * H, "FAIL", ZoneInfo(zone))
        assert runs_seen(Mark(at, at - H), sighting, NOW)[1] == [Run(day, "FAIL")]


def test_sightings_read_the_listing_and_the_finished_records() -> None:
    task = ScheduledTask(
        id="t-1", task_name="n", task_type="STOP", last_status="FAIL",
        next_execution_time="2026-03-11 02:00:00", time_zone="Asia/Shanghai",
    )  # fmt: skip
    records = [
        ExecutionRecord(
            id="r-2", start_time="2026-03-10 02:00:01", status="RUNNING", time_zone="Asia/Shanghai"
        ),
        ExecutionRecord(id="r-1", start_time="2026-03-09 02:00:01", status="FAIL", time_zone="Asia/Shanghai"),
    ]
    [sighting] = sightings_of([task], {"t-1": records})
    assert sighting.next_at == datetime(2026, 3, 10, 18, 0, tzinfo=UTC)
    assert sighting.records == ((datetime(2026, 3, 8, 18, 0, 1, tzinfo=UTC), "FAIL"),)
    [unfetched] = sightings_of([task], {})
    assert unfetched.records is None


def test_tasks_sharing_a_next_time_in_different_zones_are_sighted_at_their_own_instants() -> None:
    """The same text is parsed once per zone (sightings_of remembers what it parsed), not once for all."""
    tasks = [
        ScheduledTask(id=f"t-{zone}", next_execution_time="2026-03-11 02:00:00", time_zone=zone)
        for zone in ("Asia/Shanghai", "UTC", "Asia/Shanghai", "America/New_York")
    ]
    assert [sighting.next_at for sighting in sightings_of(tasks, {})] == [
        datetime(2026, 3, 10, 18, 0, tzinfo=UTC),
        datetime(2026, 3, 11, 2, 0, tzinfo=UTC),
        datetime(2026, 3, 10, 18, 0, tzinfo=UTC),
        datetime(2026, 3, 11, 6, 0, tzinfo=UTC),
    ]


def test_a_run_counted_from_the_listing_is_not_counted_again_from_its_record() -> None:
    """Its record started a few seconds after it was due and is fetched by a later cycle."""
    mark, first = runs_seen(Mark(NOW - H, NOW - 2 * H), seen(NOW + 23 * H, "FAIL"), NOW)
    record = ((NOW - H + timedelta(seconds=5), "FAIL"),)
    _, again = runs_seen(mark, seen(NOW + 23 * H, "FAIL", record), NOW + timedelta(minutes=1))
    assert (len(first), again) == (1, [])
