"""Time intervals as Alertmanager defines them: which instants they contain, when the next window opens and
closes (across DST changes and month ends), and how their text is read."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest

from monitor.timeintervals import (
    MAX_WORK,
    DayRange,
    NamedTimeInterval,
    TimeInterval,
    TimeRange,
    Window,
    next_window,
    parse_days_of_month,
    parse_location,
    parse_months,
    parse_time_range,
    parse_weekdays,
    parse_years,
)
from tests.support.interval_work import counting_looks

BERLIN = ZoneInfo(
    "Europe/Berlin"
)  # CET/CEST: 2026-03-29 01:00 UTC springs forward, 2026-10-25 01:00 UTC back


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def times(start: str, end: str) -> tuple[TimeRange, ...]:
    return (parse_time_range(start, end),)


def days(*texts: str) -> tuple[DayRange, ...]:
    return tuple(parse_days_of_month(text) for text in texts)


def weekdays(*texts: str) -> tuple[DayRange, ...]:
    return tuple(parse_weekdays(text) for text in texts)


NIGHT = TimeInterval(times=times("02:00", "06:00"))
LATE = TimeInterval(times=times("22:00", "24:00"))
WORKDAYS = TimeInterval(weekdays=weekdays("monday:friday"))
LAST_DAY = TimeInterval(days_of_month=days("-1"))
LAST_WEEK = TimeInterval(days_of_month=days("-7:-1"))
DAY_31 = TimeInterval(days_of_month=days("31"))
WHOLE_MONTH_FROM_END = TimeInterval(days_of_month=days("-31:-1"))
WINTER = TimeInterval(months=(parse_months("december"), parse_months("1:2")))
TWO_YEARS = TimeInterval(years=(parse_years("2026:2027"),))
BERLIN_NIGHT = TimeInterval(times=times("02:00", "06:00"), location=BERLIN)
BERLIN_2_TO_3 = TimeInterval(times=times("02:00", "03:00"), location=BERLIN)


@pytest.mark.parametrize(
    ("interval", "moment", "contained"),
    [
        pytest.param(NIGHT, "2026-03-04T01:59", False, id="before start"),
        pytest.param(NIGHT, "2026-03-04T02:00", True, id="start is inclusive"),
        pytest.param(NIGHT, "2026-03-04T05:59:59", True, id="last second"),
        pytest.param(NIGHT, "2026-03-04T06:00", False, id="end is exclusive"),
        pytest.param(LATE, "2026-03-04T23:59", True, id="24:00 ends the day"),
        pytest.param(LATE, "2026-03-05T00:00", False, id="24:00 does not reach into the next day"),
        pytest.param(WORKDAYS, "2026-03-06T23:59", True, id="friday is in monday:friday"),
        pytest.param(WORKDAYS, "2026-03-07T00:00", False, id="saturday is not"),
        pytest.param(WORKDAYS, "2026-03-09T00:00", True, id="monday is"),
        pytest.param(LAST_DAY, "2026-02-28T12:00", True, id="-1 is 28 february in 2026"),
        pytest.param(LAST_DAY, "2028-02-28T12:00", False, id="but not in a leap year"),
        pytest.param(LAST_DAY, "2028-02-29T12:00", True, id="29 february 2028"),
        pytest.param(LAST_DAY, "2026-04-30T12:00", True, id="-1 is 30 april"),
        pytest.param(LAST_DAY, "2026-03-30T12:00", False, id="-1 is not 30 march"),
        pytest.param(LAST_WEEK, "2026-01-25T00:00", True, id="-7:-1 starts on 25 january"),
        pytest.param(LAST_WEEK, "2026-01-24T23:59", False, id="-7:-1 not before"),
        pytest.param(LAST_WEEK, "2026-02-22T00:00", True, id="-7:-1 starts on 22 february"),
        pytest.param(DAY_31, "2026-04-30T12:00", False, id="31 is skipped in april"),
        pytest.param(DAY_31, "2026-05-31T12:00", True, id="31 may"),
        pytest.param(WHOLE_MONTH_FROM_END, "2026-02-01T00:00", True, id="-31 is clamped to the month"),
        pytest.param(WINTER, "2026-12-01T00:00", True, id="december by name"),
        pytest.param(WINTER, "2026-02-28T23:59", True, id="1:2 includes february"),
        pytest.param(WINTER, "2026-03-01T00:00", False, id="march is not winter"),
        pytest.param(TWO_YEARS, "2027-12-31T23:59", True, id="years inclusive"),
        pytest.param(TWO_YEARS, "2028-01-01T00:00", False, id="2028 is out"),
        pytest.param(TimeInterval(), "1999-01-01T00:00", True, id="no field: always"),
        pytest.param(BERLIN_NIGHT, "2026-01-10T01:00", True, id="02:00 berlin is 01:00 utc in winter"),
        pytest.param(BERLIN_NIGHT, "2026-01-10T05:00", False, id="06:00 berlin is 05:00 utc in winter"),
        pytest.param(BERLIN_NIGHT, "2026-07-10T00:00", True, id="02:00 berlin is 00:00 utc in summer"),
        pytest.param(BERLIN_NIGHT, "2026-07-10T04:00", False, id="06:00 berlin is 04:00 utc in summer"),
        pytest.param(BERLIN_2_TO_3, "2026-03-29T00:59", False, id="spring forward: 01:59 CET"),
        pytest.param(
            BERLIN_2_TO_3, "2026-03-29T01:00", False, id="spring forward: 03:00 CEST, 02:xx skipped"
        ),
        pytest.param(BERLIN_2_TO_3, "2026-10-25T00:30", True, id="fall back: 02:30 CEST"),
        pytest.param(BERLIN_2_TO_3, "2026-10-25T01:30", True, id="fall back: 02:30 CET, the second time"),
        pytest.param(BERLIN_2_TO_3, "2026-10-25T02:00", False, id="fall back: 03:00 CET"),
    ],
)
def test_contains(interval: TimeInterval, moment: str, contained: bool) -> None:
    assert interval.contains(utc(moment)) is contained


def test_weekdays_in_the_interval_zone() -> None:
    """Monday 00:30 in Berlin is still sunday in UTC: the weekday is the zone's."""
    monday_berlin = TimeInterval(weekdays=weekdays("monday"), location=BERLIN)
    assert monday_berlin.contains(utc("2026-03-08T23:30"))
    assert not WORKDAYS.contains(utc("2026-03-08T23:30"))


SATURDAY_NIGHT_BERLIN = TimeInterval(
    times=times("02:00", "06:00"), weekdays=weekdays("saturday"), location=BERLIN
)
SUNDAY_1_TO_4_BERLIN = TimeInterval(
    times=times("01:00", "04:00"), weekdays=weekdays("sunday"), location=BERLIN
)
DST_NIGHT_ONLY = TimeInterval(
    times=times("02:00", "03:00"),
    days_of_month=days("29"),
    months=(parse_months("march"),),
    years=(parse_years("2026"),),
    location=BERLIN,
)


@pytest.mark.parametrize(
    ("intervals", "asked", "opens", "closes"),
    [
        pytest.param(
            [SATURDAY_NIGHT_BERLIN], "2026-03-25T12:00", "2026-03-28T01:00", "2026-03-28T05:00",
            id="next saturday",
        ),
        pytest.param(
            [SATURDAY_NIGHT_BERLIN], "2026-03-28T05:00", "2026-04-04T00:00", "2026-04-04T04:00",
            id="the one after, in summer time",
        ),
        pytest.param(
            [SATURDAY_NIGHT_BERLIN], "2026-03-28T03:00", "2026-03-28T03:00", "2026-03-28T05:00",
            id="open now: from now until it closes",
        ),
        pytest.param(
            [SUNDAY_1_TO_4_BERLIN], "2026-03-28T12:00", "2026-03-29T00:00", "2026-03-29T02:00",
            id="spring forward: 01:00-04:00 lasts two hours",
        ),
        pytest.param(
            [SUNDAY_1_TO_4_BERLIN], "2026-10-24T12:00", "2026-10-24T23:00", "2026-10-25T03:00",
            id="fall back: 01:00-04:00 lasts four hours",
        ),
        pytest.param(
            [TimeInterval(times=times("22:00", "24:00"), days_of_month=days("-1"))],
            "2026-02-10T00:00", "2026-02-28T22:00", "2026-03-01T00:00", id="the last evening of february",
        ),
        pytest.param(
            [TimeInterval(times=times("22:00", "24:00"), days_of_month=days("-1"))],
            "2028-02-10T00:00", "2028-02-29T22:00", "2028-03-01T00:00", id="in a leap year",
        ),
        pytest.param(
            [TimeInterval(weekdays=weekdays("saturday", "sunday"))],
            "2026-03-04T12:00", "2026-03-07T00:00", "2026-03-09T00:00", id="a weekend is one window",
        ),
        pytest.param(
            [LATE, TimeInterval(times=times("00:00", "02:00"))],
            "2026-03-04T12:00", "2026-03-04T22:00", "2026-03-05T02:00", id="two intervals across midnight",
        ),
        pytest.param(
            [
                TimeInterval(times=times("22:00", "24:00"), location=BERLIN),
                TimeInterval(times=times("23:00", "23:30")),
            ],
            "2026-01-10T12:00", "2026-01-10T21:00", "2026-01-10T23:30", id="intervals in two zones",
        ),
        pytest.param(
            [TimeInterval(years=(parse_years("2030"),))],
            "2026-03-04T12:00", "2030-01-01T00:00", "2031-01-01T00:00", id="years ahead",
        ),
        pytest.param(
            [TimeInterval(days_of_month=days("31"), months=(parse_months("1:4"),))],
            "2026-02-01T00:00", "2026-03-31T00:00", "2026-04-01T00:00", id="31 skips february",
        ),
    ],
)  # fmt: skip
def test_next_window(intervals: list[TimeInterval], asked: str, opens: str, closes: str) -> None:
    assert next_window(intervals, utc(asked)) == Window(utc(opens), utc(closes))


@pytest.mark.parametrize(
    "intervals",
    [
        pytest.param([DST_NIGHT_ONLY], id="02:00-03:00 on the night it does not exist"),
        pytest.param([TimeInterval(years=(parse_years("2020:2025"),))], id="in the past"),
        pytest.param(
            [TimeInterval(days_of_month=days("30:31"), months=(parse_months("february"),))], id="30 feb"
        ),
    ],
)
def test_no_next_window(intervals: list[TimeInterval]) -> None:
    assert next_window(intervals, utc("2026-03-01T00:00")) is None


def test_a_window_that_never_closes() -> None:
    assert next_window([TimeInterval()], utc("2026-03-01T00:00")) == Window(utc("2026-03-01T00:00"), None)


def test_a_named_interval_is_open_when_any_of_its_intervals_is() -> None:
    patch = NamedTimeInterval("patch", (NIGHT, LATE))
    assert patch.contains(utc("2026-03-04T03:00"))
    assert patch.contains(utc("2026-03-04T23:00"))
    assert not patch.contains(utc("2026-03-04T12:00"))
    assert next_window(patch, utc("2026-03-04T12:00")) == Window(
        utc("2026-03-04T22:00"), utc("2026-03-05T00:00")
    )


def test_a_window_is_found_fast_even_years_ahead() -> None:
    """Dates that cannot match are jumped over by year and month, not walked day by day: many asks of a
    far window take no noticeable time (the engine asks once a cycle per interval)."""
    far = TimeInterval(times=times("02:00", "03:00"), days_of_month=days("-1"), years=(parse_years("2035"),))
    for _ in range(200):
        window = next_window([far], utc("2026-03-01T00:00"))
    assert window == Window(utc("2035-01-31T02:00"), utc("2035-01-31T03:00"))


def test_next_window_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_window([NIGHT], datetime(2026, 3, 1))


@pytest.mark.parametrize(
    ("parse", "text", "expected"),
    [
        (parse_weekdays, "monday:friday", DayRange(1, 5)),
        (parse_weekdays, "Sunday", DayRange(0, 0)),
        (parse_months, "december", DayRange(12, 12)),
        (parse_months, "1:3", DayRange(1, 3)),
        (parse_months, "may:August", DayRange(5, 8)),
        (parse_years, "2026:2030", DayRange(2026, 2030)),
        (parse_days_of_month, "-7:-1", DayRange(-7, -1)),
        (parse_days_of_month, "1:-1", DayRange(1, -1)),
        (parse_days_of_month, "15", DayRange(15, 15)),
    ],
)
def test_ranges_are_read(parse: object, text: str, expected: DayRange) -> None:
    assert parse(text) == expected  # type: ignore[operator]


@pytest.mark.parametrize(
    ("parse", "text", "problem"),
    [
        (parse_weekdays, "saturday:sunday", "the end weekday comes before the start (a range cannot wrap"),
        (parse_weekdays, "mon", "'mon' is not a weekday"),
        (parse_weekdays, "monday:tuesday:friday", "is not a weekday or a range of them"),
        (parse_months, "13", "'13' is not a month"),
        (parse_months, "march:january", "the end month comes before the start"),
        (parse_years, "2027:2026", "the end year comes before the start"),
        (parse_years, "twenty", "is not a year"),
        (parse_days_of_month, "0", "is not a day of the month"),
        (parse_days_of_month, "32", "is not a day of the month"),
        (parse_days_of_month, "-1:5", "must end there too"),
        (parse_days_of_month, "-1:-7", "the end day comes before the start day"),
        (parse_days_of_month, "20:10", "the end day comes before the start day"),
        (parse_location, "Mars/Olympus", "is not a time zone"),
        (parse_location, "../../etc/passwd", "is not a time zone"),
        (parse_location, "Local", "depends on the server's zone"),
        (parse_location, "Europe", "'Europe' is not a time zone"),  # a directory of the zone database
        (parse_location, "z" * 5000, "zzz...' is not a time zone"),  # too long for a file name; shortened
        (parse_location, "europe/berlin", "is not a time zone"),
    ],
)
def test_bad_text_is_refused_with_a_reason(parse: object, text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        parse(text)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("start", "end", "problem"),
    [
        ("22:00", "02:00", "cannot cross midnight"),
        ("02:00", "02:00", "is not before"),
        ("2:00", "03:00", "not a time of day"),
        ("24:01", "24:00", "not a time of day"),
        ("23:60", "24:00", "not a time of day"),
    ],
)
def test_bad_times_are_refused(start: str, end: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_time_range(start, end)


def test_24_00_is_the_end_of_the_day() -> None:
    assert parse_time_range("00:00", "24:00") == TimeRange(0, 1440)


# --- cost: next_window's work is bounded, however the interval is written ---------------------------------

#: Looks at a part (contains + next_boundary) a walk may take: two per step, MAX_WORK steps' worth of parts,
#: and the last step's.
WORK_LIMIT = 2 * MAX_WORK + 1_000


def test_touching_one_minute_ranges_are_crossed_a_day_at_a_time() -> None:
    """1,440 one-minute ranges covering the day are one range: the window (open for ever) is walked a day at a
    time to the horizon, not a minute at a time (5 million steps: hours of a frozen event loop)."""
    every_minute = TimeInterval(times=tuple(TimeRange(m, m + 1) for m in range(1440)))
    with counting_looks(3 * 3700) as count:
        window = next_window([every_minute], utc("2026-03-01T10:30:00"))
    assert window == Window(utc("2026-03-01T10:30:00"), None)
    assert count.looks <= 3 * 3700


def test_overlapping_ranges_close_where_their_union_ends() -> None:
    overlapping = TimeInterval(times=(TimeRange(60, 180), TimeRange(120, 240), TimeRange(240, 300)))
    assert next_window([overlapping], utc("2026-03-01T00:00:00")) == Window(
        utc("2026-03-01T01:00:00"), utc("2026-03-01T05:00:00")
    )


def test_parts_that_keep_each_other_open_are_walked_by_the_longest() -> None:
    """A window kept open by parts in turn (00:00-12:00 and 06:00-24:00 every day) closes never; the walk
    jumps to the latest change of the parts open at each step."""
    morning, rest = TimeInterval(times=times("00:00", "12:00")), TimeInterval(times=times("06:00", "24:00"))
    with counting_looks(WORK_LIMIT) as count:
        window = next_window([morning, rest], utc("2026-03-01T00:00:00"))
    assert window == Window(utc("2026-03-01T00:00:00"), None)
    assert count.looks <= 4 * 2 * 3700


ZONES = sorted(zone for zone in available_timezones() if "/" in zone)[:200]


def test_two_hundred_zones_that_never_open_stop_at_the_budget() -> None:
    """The 31st of 30-day months, in 200 zones: never open. The walk stops after MAX_WORK looks at a part
    (a second or so of CPU; 8 s and rising with the zones before) and says no window opens before the
    instant it reached (an empty, unknown window there), not that none ever does."""
    never = [
        TimeInterval(
            months=tuple(map(parse_months, ("4", "6", "9", "11"))),
            days_of_month=days("31"),
            location=ZoneInfo(zone),
        )
        for zone in ZONES
    ]
    with counting_looks(WORK_LIMIT) as count:
        window = next_window(never, utc("2026-03-01T00:00:00"))
    assert count.looks <= WORK_LIMIT
    assert window is not None
    assert window.unknown
    assert window.opens > utc("2026-04-01T00:00:00")
    assert not window.is_open(window.opens)


def test_a_window_open_past_the_budget_is_open_at_least_until_where_the_walk_stopped() -> None:
    """Open all day in 200 zones: the walk stops at the budget and gives a window open until that instant,
    which is still inside it (the engine looks again from there: nothing is muted longer than it is open)."""
    always = [TimeInterval(times=times("00:00", "24:00"), location=ZoneInfo(zone)) for zone in ZONES]
    start = utc("2026-03-01T00:00:00")
    with counting_looks(WORK_LIMIT):
        window = next_window(always, start)
    assert window is not None
    assert window.opens == start
    assert window.closes is not None
    assert window.closes > start + timedelta(days=30)
    assert any(part.contains(window.closes) for part in always)


def test_the_budget_can_be_given() -> None:
    never = [TimeInterval(months=(parse_months("2"),), days_of_month=days("30"))]
    window = next_window(never, utc("2026-03-01T00:00:00"), budget=10)
    assert window is not None
    assert window.unknown
    assert next_window(never, utc("2026-03-01T00:00:00")) is None, "with the default budget: truly none"
