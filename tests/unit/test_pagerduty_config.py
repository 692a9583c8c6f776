"""The `pagerduty:` config section: validated with file:line, the routing key read from the environment
variable it names and checked for its format (32 characters) before anything is opened."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, load_settings
from monitor.online import pagerduty_findings
from monitor.pagerduty.notifier import PagerDutyNotifier
from monitor.runtime import LoadError, load_all, make_receivers
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


@pytest.mark.parametrize(
    ("env", "mark", "words"),
    [({"PD_ROUTING_KEY": KEY}, "✓", "format only"), ({"PD_ROUTING_KEY": "abc"}, "✗", "is not a routing key")],
)
def test_check_online_checks_the_key_s_format_only(
    tmp_path: Path, env: dict[str, str], mark: str, words: str
) -> None:
    settings, _ = _settings(tmp_path, "pagerduty:\n  routing_key_env: PD_ROUTING_KEY\n")
    [finding] = pagerduty_findings(settings, env)
    assert finding.line.startswith(f"{mark} PagerDuty: ")
    assert words in finding.line
    assert KEY not in finding.line


def test_check_online_says_nothing_of_pagerduty_without_the_section(tmp_path: Path) -> None:
    settings, _ = _settings(tmp_path, "slack:\n  mode: none\n")
    assert pagerduty_findings(settings, {}) == []


def test_a_rule_that_pages_needs_the_section_with_its_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: ops\n    channel: '#ops'\n    pagerduty: true\n")
    config = tmp_path / "config.yaml"
    config.write_text(f"rules: {rules}\n")
    with pytest.raises(LoadError) as caught:
        load_all(config)
    [problem] = caught.value.problems
    assert problem.startswith(
        f"{rules}:2: rule 'ops' sets pagerduty: the config needs pagerduty.routing_key_env"
    )

    config.write_text(f"rules: {rules}\npagerduty:\n  routing_key_env: PD_ROUTING_KEY\n")
    assert load_all(config).ruleset.rules[0].pagerduty


def test_the_shipped_config_skeleton_shows_the_section_and_the_env_file_its_variable(tmp_path: Path) -> None:
    """`init` writes monitor/deploy/config.yaml and env.example: the commented pagerduty section, uncommented,
    is a section that loads, and the env file names the variable it points at."""
    deploy = Path(__file__).parents[2] / "monitor" / "deploy"
    lines = (deploy / "config.yaml").read_text().splitlines()
    start = lines.index("# pagerduty:")
    block = [line.removeprefix("# ") for line in lines[start:] if line.startswith("# ")][:3]
    settings, _ = _settings(tmp_path, "workspace:\n  project_id: abc\n" + "\n".join(block) + "\n")
    variable = settings.pagerduty.routing_key_env
    assert variable is not None
    assert str(settings.pagerduty.events_url) == "https://events.pagerduty.com/v2/enqueue"
    assert f"# {variable}=" in (deploy / "env.example").read_text()
