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
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from monitor.config import ConfigError, Settings, load_settings
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
