"""The client's JSON parsing (`parse_json`): pydantic-core's parser where it can, json.loads for the rest.

Specified as "the same as json.loads": the same value where json.loads parses, the same exception where it
refuses, for the answers the hostile-input tests send and for generated ones.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.workspace.client import parse_json


def outcome(parse: Any, raw: bytes) -> tuple[str, str]:
    """What parsing `raw` gives, comparable: the value's repr (types, -0.0 and nan included) or the error's
    type."""
    try:
        return "value", repr(parse(raw))
    except Exception as exc:  # the kind of failure is what is compared
        return "error", type(exc).__name__


@pytest.mark.parametrize(
    "raw",
    [
        b'{"scheduled_tasks": [{"id": "t1", "task_name": "\\u00e9t\\u00e9"}], "total_count": 1}',
        b'"\\ud800"',  # a lone surrogate escape: json.loads keeps it (the client replaces it later)
        b'"\\udfff\\ud800"',
        b'"\xed\xa0\x80"',  # a surrogate encoded in UTF-8
        b"\xef\xbb\xbf{}",  # a UTF-8 BOM
        '{"a": "\u00e9"}'.encode("utf-16"),
        b"[" * 300 + b"]" * 300,  # deeper than pydantic-core parses
        b"NaN",
        b"-Infinity",
        b"1e999999",
        b"-0.0",
        b"1" * 4301,  # past Python's int digit limit
        b"1" * 4300,
        b'{"a": 1, "a": 2}',
        b'"\\u0000"',
        b'"a\tb"',  # a raw control character
        b'"\xff"',
        b"[1,]",
        b"01",
        b"",
        b"<html>Bad Gateway</html>",
    ],
)
def test_parses_as_json_loads_does(raw: bytes) -> None:
    assert outcome(parse_json, raw) == outcome(json.loads, raw)


def test_refuses_with_the_error_json_loads_raises() -> None:
    with pytest.raises(json.JSONDecodeError):
        parse_json(b'{"a": [}')


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(codec=None, exclude_categories=())),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=5),
    max_leaves=20,
)


@given(json_values, st.booleans())
def test_any_json_text_parses_as_json_loads_parses_it(value: Any, ascii_only: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert outcome(parse_json, raw) == outcome(json.loads, raw)


@given(json_values, st.integers(min_value=0), st.binary(max_size=3))
def test_a_damaged_json_text_parses_or_fails_as_json_loads_does(value: Any, at: int, junk: bytes) -> None:
    raw = json.dumps(value).encode()
    cut = at % (len(raw) + 1)
    damaged = raw[:cut] + junk + raw[cut + 1 :]
    assert outcome(parse_json, damaged) == outcome(json.loads, damaged)


@given(st.binary(max_size=64))
def test_any_bytes_parse_or_fail_as_json_loads_does(raw: bytes) -> None:
    assert outcome(parse_json, raw) == outcome(json.loads, raw)


@given(st.from_regex(r"\A-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,4})?\Z"))
def test_any_json_number_parses_to_the_same_value(number: str) -> None:
    raw = f'{{"n": {number}}}'.encode()
    assert outcome(parse_json, raw) == outcome(json.loads, raw)
