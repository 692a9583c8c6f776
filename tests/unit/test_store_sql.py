"""The SQL shared by every backend and its rows: parameter style, how times and values are stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from monitor.decide import AlertState, AlertStatus
from monitor.store import rows
from monitor.store.rows import alert_from_row, alert_from_values, alert_row, from_db_time, to_db_time
from monitor.store.sql import (
    INSERT_OUTBOX,
    OUTBOX_ROW_FIELDS,
    SELECT_ALERTS,
    UPSERT_ALERT,
    positional,
    pyformat,
)


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("SELECT 1 FROM t WHERE a = :a AND b = :b_2", "SELECT 1 FROM t WHERE a = %(a)s AND b = %(b_2)s"),
        ("SELECT value::int FROM meta WHERE key = :key", "SELECT value::int FROM meta WHERE key = %(key)s"),
        ("SELECT '50%' WHERE x = :x", "SELECT '50%%' WHERE x = %(x)s"),
        ("SELECT '12:30' AS t", "SELECT '12:30' AS t"),
    ],
)
def test_pyformat_turns_named_parameters_into_psycopg_style(statement: str, expected: str) -> None:
    assert pyformat(statement) == expected


def test_times_are_stored_as_fixed_width_utc_text() -> None:
    shanghai = datetime(2026, 3, 1, 16, 0, tzinfo=timezone(timedelta(hours=8)))
    assert to_db_time(shanghai) == "2026-03-01T08:00:00.000000+00:00"
    assert from_db_time(to_db_time(shanghai)) == shanghai


def test_one_instant_in_any_zone_is_stored_as_the_same_text_whichever_comes_first() -> None:
    """to_db_time is cached, and equal aware datetimes are one cache key: the text must not depend on the
    zone of whichever was stored first, nor a naive time slip through after an aware one."""
    to_db_time.cache_clear()
    utc = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    tokyo = utc.astimezone(timezone(timedelta(hours=9)))
    assert [to_db_time(tokyo), to_db_time(utc)] == ["2026-03-01T08:00:00.000000+00:00"] * 2
    with pytest.raises(ValueError, match="naive datetime"):
        to_db_time(utc.replace(tzinfo=None))


def test_stored_times_sort_as_the_instants_do() -> None:
    moments = [
        datetime(2026, 3, 1, tzinfo=UTC) + timedelta(microseconds=step) for step in (0, 1, 10**6, 10**9)
    ]
    assert sorted(map(to_db_time, moments)) == [to_db_time(moment) for moment in moments]


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        to_db_time(datetime(2026, 3, 1))


def test_positional_parameters_for_sqlite_and_psycopg() -> None:
    statement = "UPDATE t SET a = :a, note = '5%' WHERE id = :id AND b = :a"
    assert positional(statement) == (
        "UPDATE t SET a = ?, note = '5%' WHERE id = ? AND b = ?",
        ("a", "id", "a"),
    )
    assert positional(statement, "%s")[0] == "UPDATE t SET a = %s, note = '5%%' WHERE id = %s AND b = %s"


def test_the_alert_row_follows_the_statement() -> None:
    """alert_row builds its tuple in AlertState's field order; the statement must name them in that order."""
    assert positional(UPSERT_ALERT)[1] == AlertState._fields[:-1]
    assert AlertState._fields[-1] == "acknowledged_by", "the ack is never written with the state"


def test_the_alert_query_selects_the_fields_in_order() -> None:
    """alert_from_values reads SELECT_ALERTS's columns by position, as AlertState's fields."""
    columns = SELECT_ALERTS.split("SELECT", 1)[1].split("FROM", 1)[0]
    names = tuple(column.strip().split(".")[-1] for column in columns.split(","))
    assert names == AlertState._fields


def test_an_alert_reads_back_by_name_and_by_position() -> None:
    at = datetime(2026, 1, 31, 8, 0, tzinfo=UTC)
    state = AlertState(
        "f-1", "rule", "p", "t-1", "name", AlertStatus.FIRING, 2, "FAIL", "r-1", "2026-02-01 00:00:00", 3, 4,
        at, at + timedelta(minutes=5), at, 3, "FAIL", None, None, "reason", "U123",
    )  # fmt: skip
    values = (*alert_row(state), state.acknowledged_by)
    assert alert_from_values(values) == state
    assert alert_from_row(dict(zip(AlertState._fields, values, strict=True))) == state
    with pytest.raises(ValueError, match="not a valid AlertStatus"):
        alert_from_values((*values[:5], "bogus", *values[6:]))


def test_the_outbox_row_follows_the_statement() -> None:
    assert positional(INSERT_OUTBOX)[1] == OUTBOX_ROW_FIELDS


@pytest.mark.parametrize(
    "payload",
    [
        {"b": 1, "a": "é <!channel> &amp;", "c": None, "nested": [{"z": True, "y": 2.5}]},
        {"task": {"name": "lone surrogate \ud800 from the API's JSON"}},
    ],
)
def test_a_payload_survives_encoding_and_keys_come_sorted(payload: dict[str, Any]) -> None:
    text = rows.encode_payload(payload)
    text.encode("utf-8")  # storable: valid UTF-8 even for a lone surrogate
    assert json.loads(text) == payload
    assert text == rows.encode_payload(dict(reversed(list(payload.items()))))
