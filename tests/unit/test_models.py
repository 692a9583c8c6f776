"""API models: strict types, unknown fields kept, times read in the task's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from monitor.workspace.models import (
    API_TIME_FORMAT,
    ExecutionRecord,
    ScheduledTask,
    _read_time,
    api_instant,
    clip_text,
    format_api_time,
    has_long_text,
    parse_api_time,
    resolve_time_zone,
)


@pytest.mark.parametrize(
    ("name", "zone"),
    [
        ("Asia/Shanghai", ZoneInfo("Asia/Shanghai")),
        ("UTC+08:00", timezone(timedelta(hours=8))),
        ("GMT-5", timezone(timedelta(hours=-5))),
        ("+0530", timezone(timedelta(hours=5, minutes=30))),
        (None, UTC),
        ("", UTC),
        ("Mars/Olympus_Mons", UTC),
    ],
)
def test_time_zones(name: str | None, zone: object) -> None:
    assert resolve_time_zone(name) == zone


def test_next_execution_time_is_read_in_the_tasks_zone() -> None:
    task = ScheduledTask(id="t", next_execution_time="2026-11-30 08:00:00", time_zone="Asia/Shanghai")
    assert task.next_execution_at == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


def test_daylight_saving_is_respected() -> None:
    summer = parse_api_time("2026-07-01 12:00:00", "Europe/Paris")
    winter = parse_api_time("2026-12-01 12:00:00", "Europe/Paris")
    assert summer is not None
    assert winter is not None
    assert summer.utcoffset() == timedelta(hours=2)
    assert winter.utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize("value", [None, "", "soon", "2026-13-01 00:00:00"])
def test_unreadable_times_are_none_not_errors(value: str | None) -> None:
    assert parse_api_time(value, "UTC") is None


def test_unknown_fields_are_kept_and_listed() -> None:
    task = ScheduledTask.model_validate({"id": "t", "task_name": "n", "gpu_profile": "A10"})
    assert task.extra_fields == {"gpu_profile": "A10"}
    assert task.model_dump(exclude_none=True) == {"id": "t", "task_name": "n", "gpu_profile": "A10"}


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({}, id="no id"),
        pytest.param({"id": ""}, id="empty id"),
        pytest.param({"id": 7}, id="numeric id"),
        pytest.param({"id": "t", "enable": "true"}, id="enable as a string"),
        pytest.param({"id": "t", "priority": "1"}, id="priority as a string"),
    ],
)
def test_wrong_types_are_rejected(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ScheduledTask.model_validate(data)


def test_record_start_time() -> None:
    record = ExecutionRecord(id="r", start_time="2026-11-29 03:00:00", time_zone="Europe/Berlin")
    assert record.started_at == datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


# Times in every form the API is known to send (issue 15): the reference's local form, RFC 3339 with "Z" or
# an offset, and "Z" with milliseconds (record details, as Huawei's Terraform provider reads them).
@pytest.mark.parametrize(
    ("value", "zone", "shown"),
    [
        ("2026-11-28 09:00:00", "Asia/Shanghai", "2026-11-28 09:00:00 Asia/Shanghai"),
        ("2026-11-28T01:00:00Z", "Asia/Shanghai", "2026-11-28 09:00:00 Asia/Shanghai"),
        ("2026-11-28T01:00:00.000Z", "Asia/Shanghai", "2026-11-28 09:00:00 Asia/Shanghai"),
        ("2026-11-28T09:00:00+08:00", "Asia/Shanghai", "2026-11-28 09:00:00 Asia/Shanghai"),
        ("2026-11-28T03:00:00+02:00", "UTC+08:00", "2026-11-28 09:00:00 UTC+08:00"),
        ("2026-11-28T01:00:00.000Z", None, "2026-11-28 01:00:00 UTC"),
        ("2026-11-28T01:00:00.000Z", "Mars/Olympus", "2026-11-28 01:00:00 UTC"),
        ("2026-11-28 09:00:00", "Mars/Olympus", "2026-11-28 09:00:00 Mars/Olympus"),
        ("2026-11-28 09:00:00", None, "2026-11-28 09:00:00"),
        ("next tuesday", "Asia/Shanghai", "next tuesday Asia/Shanghai"),
        ("0001-01-01 00:00:00", "Asia/Shanghai", "0001-01-01 00:00:00 Asia/Shanghai"),
        ("0001-01-01T00:00:00+14:00", "UTC", "0001-01-01T00:00:00+14:00 UTC"),  # UTC would be year 0
        ("9999-12-31T23:59:59Z", "Pacific/Kiritimati", "9999-12-31T23:59:59Z Pacific/Kiritimati"),
        (None, "Asia/Shanghai", ""),
    ],
)
def test_times_are_shown_in_one_form_in_the_tasks_zone(
    value: str | None, zone: str | None, shown: str
) -> None:
    assert format_api_time(value, zone) == shown


@pytest.mark.parametrize(
    ("value", "zone"),
    [
        ("2026-11-28 09:00:00", "Asia/Shanghai"),
        ("2026-11-28T01:00:00Z", "Asia/Shanghai"),
        ("2026-11-28T01:00:00.000Z", "Europe/Paris"),
        ("2026-11-28T09:00:00+08:00", None),
    ],
)
def test_every_form_means_the_same_instant(value: str, zone: str | None) -> None:
    assert api_instant(value, zone) == datetime(2026, 11, 28, 1, 0, tzinfo=UTC)


def test_an_instant_is_unknown_without_an_offset_or_a_known_zone() -> None:
    assert api_instant("2026-11-28 09:00:00", "Mars/Olympus") is None
    assert api_instant("2026-11-28 09:00:00", None) is None
    assert api_instant("x" * 10_000, "UTC") is None


def test_a_table_leaves_the_zone_out_but_never_hides_utc() -> None:
    assert format_api_time("2026-11-28T01:00:00Z", "Asia/Shanghai", named=False) == "2026-11-28 09:00:00"
    assert format_api_time("2026-11-28T01:00:00Z", None, named=False) == "2026-11-28 01:00Z"


def test_records_in_rfc3339_sort_by_their_instant() -> None:
    record = ExecutionRecord(id="r", start_time="2026-11-28T01:00:00.000Z", time_zone="Asia/Shanghai")
    assert record.started_at == datetime(2026, 11, 28, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "long"),
    [
        ({"a": "x" * 1000}, False),
        ({"a": "x" * 1001}, True),
        ({"x" * 1001: 1}, True),
        ({"a": [{"b": ["y" * 5000]}]}, True),
        ([1, None, True, 2.5, "short"], False),
        ("z" * 1001, True),
    ],
)
def test_long_text_is_found_and_cut(value: object, long: bool) -> None:
    assert has_long_text(value) is long
    assert has_long_text(clip_text(value)) is False


def _read_time_by_the_book(text: str) -> datetime | None:
    """What `_read_time` promises: the API's own format as strptime reads it, else ISO 8601."""
    for read in (lambda t: datetime.strptime(t, API_TIME_FORMAT), datetime.fromisoformat):
        try:
            return read(text)
        except ValueError:
            continue
    return None


TIME_FORMS = [
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S+08:00", "%Y-%m-%d", "%Y-%m-%d %H:%M", "{y}-{m}-{d} {H}:{M}:{S}",
]  # fmt: skip


@given(
    moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    form=st.sampled_from(TIME_FORMS),
    noise=st.text(alphabet="0123456789-:T Z+.", max_size=3),
)
def test_read_time_reads_every_form_as_strptime_then_fromisoformat_would(
    moment: datetime, form: str, noise: str
) -> None:
    """Reading fromisoformat first (it is the faster) changes no result: the same instant for every text
    both read, and strptime still takes the unpadded forms only it accepts ("2026-1-5 9:0:0")."""
    if form.startswith("{"):
        text = form.format(y=f"{moment.year:04d}", m=moment.month, d=moment.day, H=moment.hour,
                           M=moment.minute, S=moment.second)  # fmt: skip
    else:
        text = f"{moment.year:04d}" + moment.strftime(form.replace("%Y", "", 1))
    for candidate in (text, text + noise, noise + text):
        assert _read_time(candidate) == _read_time_by_the_book(candidate.strip()), candidate
