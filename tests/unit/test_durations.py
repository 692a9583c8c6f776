"""Durations in rule files: what `parse_duration` accepts and refuses; `format_duration` reads back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("30s", timedelta(seconds=30), id="seconds"),
        pytest.param("15m", timedelta(minutes=15), id="minutes"),
        pytest.param("4h", timedelta(hours=4), id="hours"),
        pytest.param("1d", timedelta(days=1), id="days"),
        pytest.param("2w", timedelta(weeks=2), id="weeks"),
        pytest.param("1h30m", timedelta(hours=1, minutes=30), id="compound"),
        pytest.param("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4), id="every unit"),
        pytest.param(" 4h ", timedelta(hours=4), id="surrounding spaces"),
        pytest.param("0", timedelta(0), id="zero text"),
        pytest.param(0, timedelta(0), id="zero number"),
        pytest.param("0s", timedelta(0), id="zero with unit"),
    ],
)
def test_accepted(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(30, "has no unit: write 30s, 30m, 30h or 30d", id="bare number"),
        pytest.param("30", "has no unit", id="bare number as text"),
        pytest.param("", "is not a duration", id="empty"),
        pytest.param("soon", "is not a duration", id="word"),
        pytest.param("-5m", "is not a duration", id="negative"),
        pytest.param("1.5h", "is not a duration", id="fraction"),
        pytest.param("30m1h", "is not a duration", id="units out of order"),
        pytest.param("1h1h", "is not a duration", id="unit twice"),
        pytest.param("4H", "is not a duration", id="capital unit"),
        pytest.param(True, "expected a duration", id="boolean"),
        pytest.param(None, "expected a duration", id="nothing"),
        pytest.param(4.5, "expected a duration", id="float"),
    ],
)
def test_refused_with_a_message(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=8), "1w1d"),
        (timedelta(seconds=-5), "0"),
    ],
)
def test_format(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@given(st.integers(min_value=0, max_value=10 * 365 * 86_400))
def test_format_reads_back(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize("text", ["99999999999999999999d", "999999999999w", "36501d"])
def test_a_duration_too_long_for_a_datetime_is_refused(text: str) -> None:
    """Found by fuzzing: these raised OverflowError (a traceback from `check`), and a merely huge one would
    overflow `now + repeat_interval` later, in the middle of a cycle."""
    with pytest.raises(ValueError, match="too long"):
        parse_duration(text)


def test_a_century_is_the_longest_duration() -> None:
    assert parse_duration("36500d") == timedelta(days=36_500)
