"""Fuzzing `/tasks` command texts through `monitor.chatops.commands.parse_command`.

The parser ends in a catch-all that turns any unexpected exception into a polite CommandError, so "never
raises anything else" holds by construction; these tests hold it to more than that.

What it proves (hypothesis; examples per target from the profile, ~2,000 each with HYPOTHESIS_PROFILE=ci):
- any text (every unicode category, control characters, huge texts) and near-valid commands (every
  subcommand in any case, `key=value` arguments with right, wrong and unknown keys, durations that overflow,
  globs and `re:` patterns that do not compile, ids of every shape) give a Command or a CommandError, and
  the catch-all is never what answered (it would hide a bug);
- every refusal is one short line (it is shown to the person who typed the command);
- what is accepted is within bounds: a silence lasts more than 0 and at most MAX_SILENCE (or names a time
  interval instead, never both), its reason at most MAX_REASON characters with nothing a store cannot keep,
  its name pattern compiles and is no catch-all; a report covers 1 to MAX_REPORT_DAYS days (`report
  1000000000d` is refused, not a billion-day query); a retry names exactly one alert id (16 hex digits) or
  task id; and a listing's button text reads back as that listing.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from monitor.chatops.commands import (
    MAX_REPORT_DAYS,
    MAX_SILENCE,
    SUBCOMMANDS,
    Command,
    CommandError,
    Failed,
    ListTasks,
    Report,
    Retry,
    Silence,
    is_catch_all,
    parse_command,
)
from monitor.rules.load import compile_match
from tests.fuzz import examples

CATCH_ALL = "could not read that command"
INTERVAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MAX_REASON = 300

words = st.one_of(
    st.text(min_size=1, max_size=12).filter(lambda w: not any(c.isspace() for c in w)),
    st.sampled_from(
        ["*", "?", "prod-*", "re:(", "re:[a-", "re:prod-.*", "<!channel>", "&amp;", "`x`", "-", "0"]
    ),
    st.uuids().map(str),
    st.text(alphabet="0123456789abcdefABCDEF", min_size=15, max_size=17),
)
durations = st.one_of(
    st.sampled_from(
        ["30m", "2h", "1d", "90d", "91d", "0", "0s", "-1h", "13w", "99999999999999999999d", "1h30m"]
    ),
    st.integers(-5, 10**30).map(str),
    st.builds(
        lambda n, unit: f"{n}{unit}",
        st.integers(0, 10**25),
        st.sampled_from(["w", "d", "h", "m", "s", "x", ""]),
    ),
)
keys = st.sampled_from(["status", "type", "schedule", "name", "page", "STATUS", "Page", "nme", ""])
values = st.one_of(
    st.sampled_from(
        ["FAIL", "skip", "success", "any", "REBOOT", "day", "LIFE_CYCLE", "1", "0", "10001", "-1"]
    ),
    st.integers(-(10**20), 10**20).map(str),
    words,
)
arguments = st.one_of(st.builds(lambda k, v: f"{k}={v}", keys, values), words, durations)
subcommand = st.one_of(
    st.sampled_from([*SUBCOMMANDS, "?"]).flatmap(lambda w: st.sampled_from([w, w.upper(), w.title()])), words
)
near_valid = st.builds(
    lambda sub, args, sep: sep.join([sub, *args]),
    subcommand,
    st.lists(arguments, max_size=6),
    st.sampled_from([" ", "  ", "\t", "\n", "\u3000", " \u00a0 "]),
)
silences = st.builds(
    lambda target, duration, reason: f"silence {target} {duration} {reason}",
    words,
    st.one_of(
        durations, st.sampled_from(["patch-night", "office.hours", "a", "-x", "9pm", "x" * 101]), words
    ),
    st.one_of(
        st.text(max_size=40),
        st.text(max_size=3).map(lambda piece: piece * 200),
        st.sampled_from(["\x00", "\ud800", "<!channel>", "*bold* _it_ ~s~ `c`", "\u202e", "\x1b[2J"]),
    ),
)
reports = st.builds(
    lambda word, args: " ".join([word, *args]),
    st.sampled_from(["report", "REPORT", "Report"]),
    st.lists(
        st.one_of(
            st.integers(-(10**12), 10**12).map(lambda n: f"{n}d"),
            st.integers(-5, 10**12).map(str),
            st.sampled_from(
                ["7d", "30d", "90d", "91d", "0d", "d", "7D", "7dd", "٣d", "1e9d", "7w", "1000000000d"]
            ),
            words,
        ),
        max_size=3,
    ),
)
retries = st.builds(
    lambda word, args: " ".join([word, *args]),
    st.sampled_from(["retry", "RETRY"]),
    st.lists(
        st.one_of(
            st.text(alphabet="0123456789abcdefABCDEF", min_size=15, max_size=17),
            st.uuids().map(str),
            st.sampled_from(["..", ".", "a/b", "x" * 65, "x" * 64, "-a", "a-", "<!channel>", "%2e%2e"]),
            words,
        ),
        max_size=2,
    ),
)
any_text = st.one_of(
    st.text(),
    st.text(max_size=5).map(lambda piece: piece * 1000),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)


def parse(text: str) -> Command | CommandError:
    try:
        return parse_command(text)
    except CommandError as exc:
        return exc


def check(text: str) -> Command | CommandError:
    result = parse(text)
    if isinstance(result, CommandError):
        assert not result.message.startswith(CATCH_ALL), result.message
        assert "\n" not in result.message, result.message
        assert len(result.message) <= 400, result.message
        return result
    if isinstance(result, Silence):
        assert (result.duration is None) != (result.time_interval is None), result
        if result.duration is not None:
            assert timedelta(0) < result.duration <= MAX_SILENCE, result
        else:
            assert INTERVAL_NAME.fullmatch(result.time_interval or ""), result
        assert len(result.reason) <= MAX_REASON
        assert not UNSTORABLE.search(result.reason), result
        assert (result.task_id is None) != (result.name_glob is None), result
        if result.name_glob is not None:
            assert not result.name_glob.startswith("re:")
            assert not is_catch_all(result.name_glob)
            compile_match({"task_name": result.name_glob}, where="silence")
    if isinstance(result, Report):
        assert 1 <= result.days <= MAX_REPORT_DAYS, result
    if isinstance(result, Retry):
        assert (result.alert_id is None) != (result.task_id is None), result
        if result.alert_id is not None:
            assert re.fullmatch("[0-9a-f]{16}", result.alert_id), result
        else:
            assert re.fullmatch("[A-Za-z0-9][A-Za-z0-9_-]{0,63}", result.task_id or ""), result
    if isinstance(result, ListTasks | Failed):
        for page in (1, 2, result.page):
            assert parse(result.text(page)) == replace(result, page=page), result
    return result


@given(any_text)
def test_any_text_is_a_command_or_a_short_refusal(text: str) -> None:
    check(text)


@examples(ci_cap=1200)
@given(near_valid)
def test_near_valid_commands_are_read_or_refused_never_by_the_catch_all(text: str) -> None:
    check(text)


@examples(ci_cap=1200)
@given(silences)
def test_silences_are_bounded_or_refused(text: str) -> None:
    check(text)


@examples(ci_cap=1200)
@given(reports)
def test_report_periods_are_bounded_or_refused(text: str) -> None:
    check(text)


@examples(ci_cap=1200)
@given(retries)
def test_retries_name_one_id_or_are_refused(text: str) -> None:
    check(text)


def test_a_billion_day_report_is_refused() -> None:
    result = parse("report 1000000000d")
    assert isinstance(result, CommandError)
    assert "1 to 90 days" in result.message
