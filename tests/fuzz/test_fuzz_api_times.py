"""Fuzzing the times an API answer carries (`next_execution_time`, `expire_time`, a record's `start_time`)
and the task's `time_zone`, through everything that reads them: `api_instant`, `parse_api_time`,
`format_api_time`, the overdue check and the run history's day.

What it proves (hypothesis; examples per target from the profile, see tests/fuzz/__init__.py):
- any text, and near-valid times at the calendar's edges (years 1 and 9999, offsets up to +-23:59, DST gaps
  and folds) in any zone (IANA names, offsets, `Local`, paths, 10,000 characters) give an aware instant UTC
  can hold or None, never an exception (an OverflowError here failed every cycle of the project);
- the overdue check answers (None or the due instant) for any such task at any `now`, and a due instant is
  never in the future of `now - overdue_after`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from monitor.overdue import due_instant, missed_run
from monitor.workspace.models import ScheduledTask, api_instant, format_api_time, parse_api_time
from tests.fuzz import examples

edge_times = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)).map(
        lambda t: t.strftime("%Y-%m-%d %H:%M:%S").rjust(19, "0")
    ),
    st.builds(
        lambda day, clock, sign, hours, minutes: f"{day}T{clock}{sign}{hours:02d}:{minutes:02d}",
        st.sampled_from(["0001-01-01", "9999-12-31", "2026-03-29", "2026-10-25"]),
        st.sampled_from(["00:00:00", "02:30:00", "23:59:59", "23:59:59.999"]),
        st.sampled_from(["+", "-"]),
        st.integers(0, 23),
        st.integers(0, 59),
    ),
    st.sampled_from(["", "Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-13-01 00:00:00", "now"]),
    st.text(max_size=30),
)
zones = st.one_of(
    st.none(),
    st.sampled_from(["UTC", "Asia/Shanghai", "America/New_York", "Pacific/Kiritimati", "Etc/GMT+12",
                     "Europe/Berlin", "UTC+08:00", "GMT-12", "+1400", "UTC+23:59", "UTC+24:00", "Local",
                     "../../etc/passwd", "Europe", "x" * 10_000, "\x00"]),
    st.text(max_size=20),
)  # fmt: skip


@examples(2000)
@given(edge_times, zones)
def test_any_api_time_is_an_instant_utc_can_hold_or_none(text: str, zone: str | None) -> None:
    for moment in (api_instant(text, zone), parse_api_time(text, zone)):
        if moment is not None:
            assert moment.tzinfo is not None
            moment.astimezone(UTC)
            moment.replace(fold=1).astimezone(UTC)
    assert isinstance(format_api_time(text, zone), str)


@examples(1000)
@given(
    edge_times,
    edge_times,
    zones,
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.sampled_from([timedelta(minutes=1), timedelta(minutes=30), timedelta(days=36_500)]),
)
def test_the_overdue_check_answers_for_any_due_time(
    due: str, expires: str, zone: str | None, now: datetime, after: timedelta
) -> None:
    task = ScheduledTask.model_validate(
        {"id": "t", "task_name": "n", "enable": True, "scheduled_type": "DAY", "next_execution_time": due,
         "expire_time": expires, "time_zone": zone}
    )  # fmt: skip
    due_instant(task)
    missed = missed_run(task, overdue_after=after, now=now)
    if missed is not None:
        assert now - missed > after
