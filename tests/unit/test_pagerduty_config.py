"""The `pagerduty:` config section: validated with file:line, the routing key read from the environment
variable it names and checked for its format (32 characters) before anything is opened."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, load_settings
from monitor.pagerduty.notifier import PagerDutyNotifier
from monitor.runtime import make_receivers
from monitor.workspace.errors import ConfigurationError

KEY = "0123456789abcdef0123456789ABCDEF"


def _settings(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_settings(path, env={}), path


def test_no_section_means_no_receiver(tmp_path: Path) -> None:
    settings, _ = _settings(tmp_path, "slack:\n  mode: none\n")
    assert make_receivers(settings, {}) == []


def test_the_section_builds_the_receiver_at_its_url(tmp_path: Path) -> None:
    settings, _ = _settings(
        tmp_path,
        "pagerduty:\n  routing_key_env: PD_ROUTING_KEY\n  events_url: http://127.0.0.1:9/v2/enqueue\n",
    )
    [receiver] = make_receivers(settings, {"PD_ROUTING_KEY": KEY})
    assert isinstance(receiver, PagerDutyNotifier)
    assert (receiver.kind, receiver.events_url) == ("pagerduty", "http://127.0.0.1:9/v2/enqueue")


@pytest.mark.parametrize(("value", "problem"), [(None, "is not set"), ("abc", "is not a routing key")])
def test_a_missing_or_malformed_key_is_refused_without_showing_it(
    tmp_path: Path, value: str | None, problem: str
) -> None:
    settings, _ = _settings(tmp_path, "pagerduty:\n  routing_key_env: PD_ROUTING_KEY\n")
    env = {} if value is None else {"PD_ROUTING_KEY": value}
    with pytest.raises(
        ConfigurationError, match=f"PD_ROUTING_KEY \\(pagerduty.routing_key_env\\) {problem}"
    ) as caught:
        make_receivers(settings, env)
    assert "abc" not in str(caught.value)


def test_bad_settings_are_reported_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("pagerduty:\n  routing_key_env: not a name\n  events_url: ftp://x\n  key: secret\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    problems = caught.value.problems
    assert any(p.startswith(f"{path}:2: pagerduty.routing_key_env:") for p in problems)
    assert any(p.startswith(f"{path}:3: pagerduty.events_url:") for p in problems)
    assert f"{path}:4: pagerduty.key: unknown setting" in problems
