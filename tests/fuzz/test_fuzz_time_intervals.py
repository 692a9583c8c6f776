"""Fuzzing maintenance windows (issue 19 item 2; issue 20: every input has a size, a time and a shape limit).

What it proves (hypothesis; examples per target from the profile, see tests/fuzz/__init__.py):
- any set of intervals (up to 60 times ranges each, touching or overlapping; weekday, day-of-month, month
  and year ranges, negative days, impossible dates like the 31st of February; zones with DST, half-hour
  DST and skipped days) gets an answer from `next_window` within a bounded count of looks at its parts
  (counted, never timed: 2 x MAX_WORK + a step), never an exception;
- the answer is right where it is checked cheaply: the window's first instant is inside, the instant before
  it closes is inside, an instant asked about outside a window is outside, and no minute between the
  instant asked about and the window's opening (sampled over three days) is inside;
- any `time_intervals:` section of a rule file (values of every YAML type, huge numbers, hostile text,
  nested lists, wrong shapes) loads to a rule set or to `r.yaml:LINE: problem`s, and what loads gets its
  `check` lines (the next window of each) within the same bound.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import yaml
from hypothesis import given
from hypothesis import strategies as st

from monitor.rules.index import RuleSet
from monitor.rules.load import RuleFileError, load_rules_text
from monitor.timeintervals import (
    MAX_WORK,
    DayRange,
    TimeInterval,
    TimeRange,
    next_window,
    parse_days_of_month,
)
from monitor.windows import check_lines
from tests.fuzz import examples
from tests.support.interval_work import counting_looks

#: Two looks a step (contains, next_boundary) for MAX_WORK looks' worth of steps, and the last step's.
WORK_LIMIT = 2 * MAX_WORK + 1_000
PROBLEM = re.compile(r"^r\.yaml:(\d+): \S.*", re.DOTALL)

ZONES = [
    "UTC",
    "Europe/Berlin",  # DST, the usual kind
    "America/Santiago",  # DST in the southern summer, changes at midnight
    "Australia/Lord_Howe",  # half-hour DST
    "Asia/Kathmandu",  # +05:45
    "Pacific/Apia",  # skipped 2011-12-30 entirely
    "America/St_Johns",  # -03:30 with DST
]

time_ranges = st.tuples(st.integers(0, 1439), st.integers(1, 1440)).map(
    lambda pair: TimeRange(min(pair[0], pair[1] - 1), max(pair[1], pair[0] + 1))
)
touching_minutes = st.integers(0, 1380).map(
    lambda start: tuple(TimeRange(m, m + 1) for m in range(start, 1440))
)


def ordered(low: int, high: int) -> st.SearchStrategy[DayRange]:
    return st.tuples(st.integers(low, high), st.integers(low, high)).map(
        lambda pair: DayRange(min(pair), max(pair))
    )


def day_of_month(text: str) -> DayRange | None:
    try:
        return parse_days_of_month(text)
    except ValueError:
        return None


days_of_month = st.tuples(st.integers(-31, 31).filter(bool), st.integers(-31, 31).filter(bool)).map(
    lambda pair: day_of_month(f"{pair[0]}:{pair[1]}")
)

intervals = st.builds(
    TimeInterval,
    times=st.one_of(st.none(), st.lists(time_ranges, min_size=1, max_size=60).map(tuple), touching_minutes),
    weekdays=st.one_of(st.none(), st.lists(ordered(0, 6), min_size=1, max_size=7).map(tuple)),
    days_of_month=st.one_of(
        st.none(),
        st.lists(days_of_month, min_size=1, max_size=4).map(
            lambda found: tuple(r for r in found if r) or None
        ),
    ),
    months=st.one_of(st.none(), st.lists(ordered(1, 12), min_size=1, max_size=4).map(tuple)),
    years=st.one_of(st.none(), st.lists(ordered(2000, 2060), min_size=1, max_size=3).map(tuple)),
    location=st.sampled_from(ZONES).map(ZoneInfo),
)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.replace(second=0, microsecond=0))


def inside(parts: list[TimeInterval], t: datetime) -> bool:
    return any(part.contains(t) for part in parts)


@examples(300)
@given(parts=st.lists(intervals, min_size=1, max_size=4), t=instants)
def test_the_next_window_is_found_within_bounded_work_and_is_right(
    parts: list[TimeInterval], t: datetime
) -> None:
    with counting_looks(WORK_LIMIT):
        window = next_window(parts, t)
    if window is None or window.opens > t:
        assert not inside(parts, t)
    if window is None:
        return
    if window.unknown:  # the budget ran out before any window: never open, and later than asked
        assert window.opens > t
        assert not window.is_open(window.opens)
        return
    assert window.opens >= t
    assert inside(parts, window.opens)
    if window.closes is not None:
        assert window.closes > window.opens
        assert inside(parts, window.closes - timedelta(microseconds=1))
    # No minute before the opening is inside (sampled over the first three days: the walk skipped nothing).
    minute = t
    while minute < min(window.opens, t + timedelta(days=3)):
        assert not inside(parts, minute), f"{minute} is inside, before the window {window}"
        minute += timedelta(minutes=1)


ALL_ZONES = sorted(zone for zone in available_timezones() if "/" in zone)


@examples(20)
@given(shapes=st.lists(intervals, min_size=1, max_size=3), count=st.integers(20, 300), t=instants)
def test_many_parts_cost_a_bounded_count_of_looks(
    shapes: list[TimeInterval], count: int, t: datetime
) -> None:
    """Hundreds of parts, each in its own zone (no two change at once): the walk stops at the budget."""
    parts = [replace(shapes[i % len(shapes)], location=ZoneInfo(ALL_ZONES[i])) for i in range(count)]
    with counting_looks(WORK_LIMIT):
        window = next_window(parts, t)
    if window is not None and not window.unknown:
        assert inside(parts, window.opens)


# -- the rule file's time_intervals: section -----------------------------------------------------------------

hostile_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "00:00",
            "24:00",
            "24:01",
            "23:59",
            "2:00",
            "monday",
            "Monday:FRIDAY",
            "saturday:sunday",
            "monday:",
            ":",
            "::",
            "1:7",
            "-1",
            "-7:-1",
            "-1:7",
            "31",
            "32",
            "0",
            "february",
            "1:13",
            "2026:2025",
            "9999",
            "10000",
            "Europe/Berlin",
            "Local",
            "../../etc/passwd",
            "Europe",
            "UTC",
            "x" * 5000,
            "\x00",
            "٣",
            "1" * 400,
        ]
    ),
)
FIELD_KEYS = ["times", "weekdays", "days_of_month", "months", "years", "location", "start_time", "end_time"]
values = st.recursive(
    hostile_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.sampled_from(FIELD_KEYS), inner, max_size=4),
    ),
    max_leaves=20,
)
time_range_like = st.fixed_dictionaries(
    {}, optional={"start_time": hostile_scalars, "end_time": hostile_scalars}
)
interval_like = st.fixed_dictionaries(
    {},
    optional={
        "times": st.one_of(values, st.lists(time_range_like, max_size=60)),
        "weekdays": values,
        "days_of_month": values,
        "months": values,
        "years": values,
        "location": hostile_scalars,
    },
)
named_like = st.fixed_dictionaries(
    {"name": st.one_of(st.sampled_from(["patch-night", "a", ""]), hostile_scalars)},
    optional={"time_intervals": st.one_of(values, st.lists(interval_like, max_size=5))},
)


def _rule_file(section: Any) -> str:
    data = {
        "rules": [
            {"name": "r", "match": {"last_status": "FAIL"}, "mute_time_intervals": ["patch-night"]},
        ],
        "time_intervals": section,
    }
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@examples(500)
@given(section=st.one_of(values, st.lists(named_like, max_size=4)), t=instants)
def test_any_time_intervals_section_loads_or_is_located(section: Any, t: datetime) -> None:
    text = _rule_file(section)
    ruleset: RuleSet | None = None
    try:
        ruleset = load_rules_text(text, "r.yaml")
    except RuleFileError as exc:
        problems = exc.problems
    if ruleset is None:
        assert problems
        for problem in problems:
            assert PROBLEM.match(problem), problem
            assert "Traceback" not in problem
        return
    with counting_looks(WORK_LIMIT * max(len(ruleset.time_intervals), 1)):
        lines = check_lines(ruleset, t)
    assert len(lines) == len(ruleset.time_intervals)


def test_a_named_interval_of_valid_items_loads() -> None:
    """The strategy above can reach a valid section (not only refusals)."""
    section = [
        {"name": "patch-night", "time_intervals": [{"times": [{"start_time": "02:00", "end_time": "06:00"}]}]}
    ]
    ruleset = load_rules_text(_rule_file(section), "r.yaml")
    assert [interval.name for interval in ruleset.time_intervals] == ["patch-night"]
