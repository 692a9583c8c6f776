"""What the daemon half of `make demo` is started with: which Slack (the stand-in unless all three real-Slack
variables are set), the environment the child gets, and a config and rules the product itself accepts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.devtools.demo.setup import (
    PAGERDUTY_KEY,
    PAGERDUTY_KEY_ENV,
    POLL_INTERVAL,
    REPEAT_INTERVAL,
    STUB_CHANNEL,
    SlackTarget,
    choose_slack,
    daemon_environment,
    demo_config,
    demo_rules,
)
from monitor.devtools.sim import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from monitor.devtools.slackstub import DEFAULT_APP_TOKEN, DEFAULT_TOKEN
from monitor.rules.load import load_rules_text
from monitor.runtime import make_pagerduty

BOT, APP = "xoxb-real-bot-token-1", "xapp-1-real-app-token"
TOKENS = {"SLACK_BOT_TOKEN": BOT, "SLACK_APP_TOKEN": APP}
REAL = {"SLACK_BOT_TOKEN": BOT, "SLACK_APP_TOKEN": APP, "DEMO_SLACK_CHANNEL": "#wm-demo"}


@pytest.mark.parametrize(
    ("env", "real", "channel", "note_says"),
    [
        ({}, False, STUB_CHANNEL, "set SLACK_BOT_TOKEN, SLACK_APP_TOKEN and DEMO_SLACK_CHANNEL"),
        (REAL, True, "#wm-demo", "real Slack: alerts go to #wm-demo"),
        ({**REAL, "DEMO_SLACK_CHANNEL": "wm-demo"}, True, "#wm-demo", "#wm-demo"),
        ({**REAL, "DEMO_SLACK_CHANNEL": " C0123ABCD "}, True, "C0123ABCD", "alerts go to C0123ABCD"),
        (TOKENS, False, STUB_CHANNEL, "also needs DEMO_SLACK_CHANNEL"),
        ({"SLACK_BOT_TOKEN": BOT}, False, STUB_CHANNEL, "needs SLACK_APP_TOKEN and DEMO_SLACK_CHANNEL"),
        ({**REAL, "SLACK_APP_TOKEN": "  "}, False, STUB_CHANNEL, "also needs SLACK_APP_TOKEN"),
        ({"DEMO_SLACK_CHANNEL": "#wm-demo"}, False, STUB_CHANNEL, "SLACK_BOT_TOKEN and SLACK_APP_TOKEN"),
    ],
)  # fmt: skip
def test_which_slack_the_demo_talks_to(env: dict[str, str], real: bool, channel: str, note_says: str) -> None:
    target = choose_slack(env)
    assert (target.real, target.channel) == (real, channel)
    assert note_says in target.note


def test_real_slack_uses_the_given_tokens_and_never_shows_them() -> None:
    target = choose_slack(REAL)
    assert (target.bot_token, target.app_token) == (BOT, APP)
    assert BOT not in repr(target) + target.note
    assert APP not in repr(target) + target.note


def test_the_stand_in_uses_its_own_public_tokens() -> None:
    target = choose_slack({"SLACK_BOT_TOKEN": BOT})
    assert (target.bot_token, target.app_token) == (DEFAULT_TOKEN, DEFAULT_APP_TOKEN)


def test_the_child_gets_the_simulators_keys_and_nothing_else_of_the_parent() -> None:
    """A developer's own Workspace credentials or overrides would point the demo's daemon elsewhere."""
    parent = {
        "PATH": "/usr/bin",
        "PYTHONPATH": "/src",
        "HUAWEICLOUD_SDK_AK": "MY-REAL-AK",
        "HUAWEICLOUD_SDK_SK": "my-real-sk",
        "HUAWEICLOUD_SDK_PROJECT_ID": "mine",
        "WORKSPACE_ENDPOINT": "https://workspace.example",
        "SLACK_SIGNING_SECRET": "shh",
    }
    env = daemon_environment(choose_slack(REAL), parent)
    assert env == {
        "PATH": "/usr/bin",
        "PYTHONPATH": "/src",
        "HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY,
        "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY,
        "SLACK_BOT_TOKEN": BOT,
        "SLACK_APP_TOKEN": APP,
        PAGERDUTY_KEY_ENV: PAGERDUTY_KEY,
    }


def _load(tmp_path: Path, target: SlackTarget, api_url: str | None) -> tuple[str, str]:
    config = demo_config(
        target,
        sim_url="http://127.0.0.1:8900",
        state_dir=tmp_path,
        api_url=api_url,
        pagerduty_url="http://127.0.0.1:8901/v2/enqueue",
    )
    return config, demo_rules(target.channel)


def test_the_stand_in_config_is_one_the_daemon_accepts(tmp_path: Path) -> None:
    config, rules = _load(tmp_path, choose_slack({}), "http://127.0.0.1:9999/api/")
    (tmp_path / "config.yaml").write_text(config)
    settings = load_settings(tmp_path / "config.yaml", env={})
    assert settings.workspace.endpoint == "http://127.0.0.1:8900"
    assert settings.workspace.poll_interval == timedelta(seconds=POLL_INTERVAL)
    assert settings.state.url == f"sqlite:///{tmp_path / 'state.db'}"
    assert (settings.slack.mode, settings.slack.api_url) == ("socket", "http://127.0.0.1:9999/api/")
    assert settings.slack.admins == ("U0DEMOALICE",)
    ruleset = load_rules_text(rules, "rules.yaml")
    assert [(rule.name, rule.channel) for rule in ruleset.rules] == [
        ("desktop-ops", STUB_CHANNEL),
        ("everything-else", STUB_CHANNEL),
    ]
    assert ruleset.rules[0].repeat_interval == timedelta(seconds=REPEAT_INTERVAL)
    assert [rule.name for rule in ruleset.rules if rule.pagerduty] == ["desktop-ops"]


def test_the_demo_pages_the_pagerduty_stand_in_with_a_key_the_daemon_accepts(tmp_path: Path) -> None:
    """The daemon reads the stand-in's URL from the config and the (fake) key from its environment; the key
    has the format `check --online` and the receiver demand."""
    config, _ = _load(tmp_path, choose_slack({}), None)
    (tmp_path / "config.yaml").write_text(config)
    settings = load_settings(tmp_path / "config.yaml", env={})
    assert settings.pagerduty.routing_key_env == PAGERDUTY_KEY_ENV
    assert str(settings.pagerduty.events_url) == "http://127.0.0.1:8901/v2/enqueue"
    receiver = make_pagerduty(settings, daemon_environment(choose_slack({}), {}))
    assert receiver.events_url == settings.pagerduty.events_url


@pytest.mark.parametrize("channel", ["#wm-demo", "C0123ABCD"])
def test_the_real_slack_config_talks_to_slack_com_from_the_chosen_channel(
    tmp_path: Path, channel: str
) -> None:
    config, rules = _load(tmp_path, choose_slack({**REAL, "DEMO_SLACK_CHANNEL": channel}), None)
    (tmp_path / "config.yaml").write_text(config)
    settings = load_settings(tmp_path / "config.yaml", env={})
    assert settings.slack.api_url == "https://slack.com/api/"
    assert (settings.slack.default_channel, settings.slack.allowed_channels) == (channel, (channel,))
    assert settings.slack.admins == ()
    assert {rule.channel for rule in load_rules_text(rules, "rules.yaml").rules} == {channel}
    assert BOT not in config + rules
