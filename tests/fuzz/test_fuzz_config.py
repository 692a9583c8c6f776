"""Fuzzing the config loader: whatever config.yaml holds, `load_settings` gives settings or ConfigError.

What it proves (hypothesis; examples per target from the profile):
- random text and random YAML documents shaped like a config (the real sections and keys, values of every
  YAML type, unknown keys, durations that overflow, odd URLs and paths) give Settings or a ConfigError whose
  problems all start `config.yaml:LINE:` (or name the file), never another exception.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from monitor.config import ConfigError, Settings, load_settings
from monitor.reports.schedule import MIN_REPORT_GAP, cron_trigger
from tests.fuzz import examples

SECTIONS = {
    "workspace": ["region", "endpoint", "iam_endpoint", "project_id", "auth", "poll_interval", "concurrency",
                  "timeout", "retry_attempts", "outage_cycles", "ca_bundle", "projects"],
    "state": ["url"],
    "slack": ["mode", "default_channel", "api_url", "ops_channel", "admins"],
    "metrics": ["listen"],
}  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(["60s", "0", "-1h", "99999999999999999999d", "cn-north-4", "https://x", "sqlite:///:memory:",
                     "postgresql://", "socket", "http", "none", "#ops", "127.0.0.1:99999", "aksk", "re:("]),
    st.dates(),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), inner, max_size=3),
    ),
    max_leaves=10,
)
sections = st.fixed_dictionaries(
    {},
    optional={
        name: st.one_of(st.fixed_dictionaries({}, optional=dict.fromkeys(keys, values)), values)
        for name, keys in SECTIONS.items()
    }
    | {"rules": values, "unknown": values},
)


@pytest.fixture(scope="module")
def config_path() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder) / "config.yaml"


def load(path: Path, text: str) -> Settings | list[str]:
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        return load_settings(path, env={})
    except ConfigError as exc:
        return exc.problems


def check(path: Path, text: str) -> None:
    result = load(path, text)
    if isinstance(result, list):
        assert result
        for problem in result:
            assert re.match(rf"{re.escape(str(path))}(:\d+)?: \S", problem), problem


@examples(ci_cap=700, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sections)
def test_random_config_documents_are_settings_or_located_problems(config_path: Path, data: Any) -> None:
    check(config_path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


@examples(ci_cap=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=":-[]{}#&*!|>'\"% \t\nabcworkspace_", max_size=80))
def test_random_config_text_is_settings_or_located_problems(config_path: Path, text: str) -> None:
    check(config_path, text)


# -- reports: (issue 19 item 3): cron schedules, zones and scope globs ---------------------------------------

cron_field = st.one_of(
    st.sampled_from(["*", "*/1", "*/10", "*/61", "0", "59", "60", "0-59", "5-1", "1,2,3", "mon", "mon-fri",
                     "sun,sat", "jan", "feb", "29", "30", "31", "L", "last", "?", "1/0", "-1", "", "x"]),
    st.integers(-5, 10**12).map(str),
    st.builds(lambda a, b: f"{a}-{b}", st.integers(0, 70), st.integers(0, 70)),
    st.builds(lambda a, b: f"{a},{b}", st.integers(0, 70), st.integers(0, 70)),
)  # fmt: skip
schedules = st.one_of(
    st.lists(cron_field, min_size=5, max_size=5).map(" ".join),
    st.lists(cron_field, max_size=7).map(" ".join),
    st.text(max_size=30),
)
zones = st.one_of(
    st.sampled_from(["UTC", "Europe/Berlin", "Local", "localtime", "../../etc/passwd", "/etc/localtime",
                     "Europe", "Europe/", "x" * 10_000, "Europe/Berlin\x00", "", "posixrules"]),
    st.text(max_size=20),
)  # fmt: skip
globs = st.one_of(
    st.sampled_from(
        ["prod-*", "*a" * 40 + "b", "[", "[!]", "[" * 500, "*" * 1000, "?" * 300, "[a-" + "z" * 999]
    ),
    st.text(max_size=30),
)
reports = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["weekly", "w2", "x y", ""]),
            "channel": st.sampled_from(["#ops", "ops"]),
            "schedule": schedules,
        },
        optional={
            "zone": zones,
            "days": st.integers(-3, 10**6),
            "scope": st.fixed_dictionaries({}, optional={"tasks": st.lists(globs, max_size=4)}),
        },
    ),
    min_size=1,
    max_size=2,
)


@examples(ci_cap=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    reports,
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
)
def test_any_reports_section_loads_or_is_located(
    config_path: Path, section: list[dict[str, Any]], start: datetime
) -> None:
    """Settings or located problems; an accepted report fires, at most hourly in its own zone (looked at from
    any moment, not only the one the check starts from), and its globs match a long hostile name (fnmatch's
    translation is linear: this only has to end)."""
    result = load(config_path, yaml.safe_dump({"reports": section}, allow_unicode=True))
    if isinstance(result, list):
        for problem in result:
            assert re.match(rf"{re.escape(str(config_path))}(:\d+)?: \S", problem), problem
        return
    for report in result.reports:
        trigger = cron_trigger(report.schedule, report.zone)
        previous = trigger.get_next_fire_time(None, start)
        if previous is None:  # no firing after `start`: only for a date that is rare, not for no date at all
            assert trigger.get_next_fire_time(None, datetime(2000, 1, 1, tzinfo=UTC)) is not None
            continue
        for _ in range(30):
            fire = trigger.get_next_fire_time(previous, previous + timedelta(microseconds=1))
            if fire is None:
                break
            assert fire - previous >= MIN_REPORT_GAP, (report.schedule, report.zone, previous, fire)
            previous = fire
        for glob in report.scope.tasks:
            fnmatchcase("a" * 5000 + "!", glob)
