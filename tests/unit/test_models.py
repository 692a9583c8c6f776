"""API models: strict types, unknown fields kept, times read in the task's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from monitor.workspace.models import ExecutionRecord, ScheduledTask, parse_api_time, resolve_time_zone


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
