"""Query parsing, validation, filtering and paging of the simulated list endpoints."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.devtools.sim import data
from monitor.devtools.sim.query import (
    Page,
    ParamError,
    TaskFilters,
    parse_page,
    parse_query,
    parse_task_filters,
    select_tasks,
    slice_page,
)


def test_parse_query_keeps_blank_values_and_order() -> None:
    assert parse_query("b=2&a=&c&d=x%20y+z") == [("b", "2"), ("a", ""), ("c", ""), ("d", "x y z")]
    assert parse_query("d=x%20y+z", plus_is_space=False) == [("d", "x y+z")]
    assert parse_query("") == []


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("limit=10", "offset is required"),
        ("offset=0", "limit is required"),
        ("offset=0&limit=51", "limit must be between 0 and 50"),
        ("offset=0&limit=-1", "limit must be between 0 and 50"),
        ("offset=x&limit=10", "offset must be an integer"),
        ("offset=1.5&limit=10", "offset must be an integer"),
        ("offset=&limit=10", "offset must be an integer"),
        ("offset=-1&limit=10", "offset must be >= 0"),
    ],
)
def test_bad_task_pages(query: str, error: str) -> None:
    with pytest.raises(ParamError, match=error):
        parse_page(parse_query(query), max_limit=50, required=True)


@pytest.mark.parametrize(
    ("query", "page"),
    [
        ("offset=0&limit=0", Page(0, 0)),
        ("offset=100&limit=50", Page(100, 50)),
        ("limit=5&offset=3", Page(3, 5)),
    ],
)
def test_good_task_pages(query: str, page: Page) -> None:
    assert parse_page(parse_query(query), max_limit=50, required=True) == page


def test_record_pages_are_optional_up_to_100() -> None:
    assert parse_page([], max_limit=100, required=False) == Page(0, 10)
    assert parse_page(parse_query("limit=100"), max_limit=100, required=False) == Page(0, 100)
    with pytest.raises(ParamError):
        parse_page(parse_query("limit=101"), max_limit=100, required=False)


@pytest.mark.parametrize(
    "query", ["task_type=REBOOTX", "last_status=fail", "scheduled_type=HOURLY", "life_cycle_type=X"]
)
def test_enum_filters_are_validated(query: str) -> None:
    with pytest.raises(ParamError, match="must be one of"):
        parse_task_filters(parse_query(query))


def test_empty_filter_values_mean_no_filter() -> None:
    assert parse_task_filters(parse_query("task_name=&last_status=")) == TaskFilters()


TASKS = data.generate_tasks(200, fail_rate=0.2, skip_rate=0.1, seed=5, now=datetime(2026, 11, 29, tzinfo=UTC))


def test_life_cycle_tasks_only_when_asked_for() -> None:
    triggered = {t.id for t in TASKS if t.triggered}
    assert triggered
    assert triggered.isdisjoint(t.id for t in select_tasks(TASKS, TaskFilters()))
    assert {t.id for t in select_tasks(TASKS, TaskFilters(scheduled_type="LIFE_CYCLE"))} == triggered


def test_filters_combine() -> None:
    found = select_tasks(TASKS, TaskFilters(last_status="FAIL", task_type="REBOOT"))
    expected = [t for t in TASKS if t.last_status == "FAIL" and t.task_type == "REBOOT" and not t.triggered]
    assert found == expected


def test_task_name_is_a_case_sensitive_substring() -> None:
    name = TASKS[10].task_name
    fragment = name[2:8]
    found = select_tasks(TASKS, TaskFilters(task_name=fragment))
    assert TASKS[10] in found
    assert all(fragment in t.task_name for t in found)
    if fragment.upper() != fragment:
        assert TASKS[10] not in select_tasks(TASKS, TaskFilters(task_name=fragment.upper()))


def test_slice_page() -> None:
    items = list(range(7))
    assert slice_page(items, Page(5, 5)) == [5, 6]
    assert slice_page(items, Page(9, 5)) == []
    assert slice_page(items, Page(0, 0)) == []
