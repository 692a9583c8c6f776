"""Task generation is deterministic, realistic and self-consistent; schedules move forward correctly."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from monitor.devtools.sim import data, wire
from monitor.devtools.sim.entities import TASK_TYPES, SimTask
from monitor.devtools.sim.schedule import API_TIME_FORMAT, next_run, parse_api_time, previous_run
from monitor.workspace.vocabulary import LIFE_CYCLE_TYPES, SCHEDULED_TYPES

NOW = datetime(2026, 11, 29, 5, 0, 0, tzinfo=UTC)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def generate(
    count: int = 400, seed: int = 1, fail_rate: float = 0.05, skip_rate: float = 0.02
) -> list[SimTask]:
    return data.generate_tasks(count, fail_rate=fail_rate, skip_rate=skip_rate, seed=seed, now=NOW)


TASKS = generate()  # read-only: the tests below only look


def test_same_seed_same_tasks_and_task_i_does_not_depend_on_the_count() -> None:
    first, again, longer = generate(100, seed=3), generate(100, seed=3), generate(count=120, seed=3)
    assert [wire.list_entry(t) for t in first] == [wire.list_entry(t) for t in again]
    assert [t.id for t in first[:50]] == [t.id for t in longer[:50]]
    assert {t.id for t in generate(100, seed=4)}.isdisjoint({t.id for t in first})


@pytest.mark.parametrize(
    ("count", "fail_rate", "skip_rate", "fails", "skips"),
    [(400, 0.05, 0.02, 20, 8), (10, 0.5, 0.5, 5, 5), (3, 0, 0, 0, 0)],
)
def test_exact_fail_and_skip_counts(
    count: int, fail_rate: float, skip_rate: float, fails: int, skips: int
) -> None:
    tasks = generate(count, fail_rate=fail_rate, skip_rate=skip_rate)
    assert sum(t.last_status == "FAIL" for t in tasks) == fails
    assert sum(t.last_status == "SKIP" for t in tasks) == skips


def test_every_type_and_schedule_appears_and_ids_are_unique_uuids() -> None:
    tasks = generate(count=7)
    assert {t.task_type for t in tasks} == set(TASK_TYPES)
    assert {t.scheduled_type for t in tasks} == set(SCHEDULED_TYPES)
    ids = [t.id for t in TASKS]
    assert len(set(ids)) == len(ids)
    assert all(UUID.match(i) for i in ids)


def test_names_include_unicode_and_spaces() -> None:
    names = [t.task_name for t in TASKS]
    assert any(not n.isascii() for n in names)
    assert any(" " in n for n in names)
    assert any(re.fullmatch(r"[a-z]+-[a-z-]+-\d{3}", n) for n in names)


def test_newest_record_matches_last_status_and_details_explain_failures() -> None:
    for task in TASKS:
        if task.last_status is None:
            assert task.records == []
            continue
        assert task.records[0].status == task.last_status
        for record in task.records:
            assert record.details, "every execution targets at least one desktop"
            failed = [d for d in record.details if d.exec_status == "FAIL"]
            if record.status == "FAIL":
                assert failed
                assert all(d.fail_reason and d.result_code for d in failed)
            else:
                assert not failed
            if record.status == "SKIP":
                assert all(d.exec_status == "SKIP" for d in record.details)


def test_times_and_zones() -> None:
    for task in TASKS:
        ZoneInfo(task.time_zone)
        if task.triggered:
            assert task.life_cycle_type in LIFE_CYCLE_TYPES
            assert task.next_execution_time is None
        else:
            assert task.life_cycle_type is None
        if task.next_execution_time is not None:
            assert parse_api_time(task.next_execution_time, task.time_zone) > NOW
        for record in task.records:
            assert parse_api_time(record.start_time, task.time_zone) < NOW


def test_wire_shapes_follow_the_sdk_models() -> None:
    task = next(t for t in TASKS if t.last_status == "FAIL" and t.scheduled_type == "DAY")
    entry = wire.list_entry(task)
    assert {"id", "task_name", "task_type", "scheduled_type", "last_status", "enable", "time_zone"} <= set(
        entry
    )
    show = wire.show_body(task)
    assert "last_status" not in show
    assert "enable" not in show
    assert [o["object_name"] for o in show["apply_objects"]] == [d.name for d in task.desktops]
    record = wire.record_entry(task, task.records[0])
    assert record["failed_num"] + record["success_num"] + record["skip_num"] == len(task.records[0].details)


def _task(scheduled_type: str, **fields: object) -> SimTask:
    task = SimTask(
        id="t", task_name="t", task_type="REBOOT", scheduled_type=scheduled_type, time_zone="Asia/Shanghai"
    )
    for name, value in fields.items():
        setattr(task, name, value)
    return task


def _local(text: str) -> datetime:
    return datetime.strptime(text, API_TIME_FORMAT).replace(tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.mark.parametrize(
    ("task", "after", "expected"),
    [
        (_task("DAY", scheduled_time="02:00:00"), "2026-11-29 01:00:00", "2026-11-29 02:00:00"),
        (_task("DAY", scheduled_time="02:00:00"), "2026-11-29 02:00:00", "2026-11-30 02:00:00"),
        # 2026-11-29 is a Sunday (7); the next Monday/Wednesday run is Monday the 30th.
        (
            _task("WEEK", scheduled_time="22:30:00", week_list="1,3"),
            "2026-11-29 23:00:00",
            "2026-11-30 22:30:00",
        ),
        (
            _task("MONTH", scheduled_time="00:00:00", date_list="1,15"),
            "2026-11-29 00:00:00",
            "2026-12-01 00:00:00",
        ),
        (
            _task("MONTH", scheduled_time="00:00:00", month_list="1,4,7,10", date_list="1"),
            "2026-11-29 00:00:00",
            "2027-01-01 00:00:00",
        ),
        (
            _task("FIXED_TIME", scheduled_time="09:00:00", scheduled_date="2026-12-24"),
            "2026-11-29 00:00:00",
            "2026-12-24 09:00:00",
        ),
        (
            _task("FIXED_TIME", scheduled_time="09:00:00", scheduled_date="2026-11-01"),
            "2026-11-29 00:00:00",
            None,
        ),
        (_task("LIFE_CYCLE", life_cycle_type="POST_DESKTOP_DISCONNECTED"), "2026-11-29 00:00:00", None),
    ],
)
def test_next_run(task: SimTask, after: str, expected: str | None) -> None:
    run = next_run(task, _local(after))
    assert (run.strftime(API_TIME_FORMAT) if run else None) == expected


def test_previous_run_is_before_and_next_is_after() -> None:
    task = _task("WEEK", scheduled_time="08:00:00", week_list="5")
    moment = _local("2026-11-29 12:00:00")
    before, after = previous_run(task, moment), next_run(task, moment)
    assert before is not None
    assert after is not None
    assert before.strftime(API_TIME_FORMAT) == "2026-11-27 08:00:00"
    assert after.strftime(API_TIME_FORMAT) == "2026-12-04 08:00:00"


def test_make_record_fails_the_named_desktops() -> None:
    task = next(t for t in TASKS if len(t.desktops) >= 3)
    names = [task.desktops[1].name, "extra-desktop-9"]
    record = data.make_record(random.Random(1), task, "FAIL", NOW, failed_desktops=names, fail_reason="boom")
    failed = {d.desktop_name: d.fail_reason for d in record.details if d.exec_status == "FAIL"}
    assert failed == {task.desktops[1].name: "boom", "extra-desktop-9": "boom"}
    assert record.count("SUCCESS") == len(task.desktops) - 1
