"""Which Slack mode runs, and the one line `check` and `run` print when its token is missing (a table)."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.chatops.handlers import Deps
from monitor.chatops.runner import ChatopsService, SlackTokens, app_enabled, configuration_problem
from monitor.config import SlackSettings

BOT, APP, SECRET = "xoxb-1-bot", "xapp-1-app", "signing-secret"


@pytest.mark.parametrize(
    ("slack", "env", "enabled", "problem"),
    [
        ({}, {}, False, None),  # no Slack at all: alerts on the terminal, no app
        ({}, {"SLACK_BOT_TOKEN": BOT, "SLACK_APP_TOKEN": APP}, True, None),
        ({}, {"SLACK_BOT_TOKEN": BOT}, True,
         "slack.mode is socket (the default), but SLACK_APP_TOKEN is not set"),
        ({}, {"SLACK_BOT_TOKEN": BOT, "SLACK_APP_TOKEN": BOT}, True,
         "slack.mode is socket (the default), but SLACK_APP_TOKEN is not an app-level token (xapp-...)"),
        ({"mode": "socket"}, {}, True,
         "slack.mode is socket: set SLACK_BOT_TOKEN (the app's xoxb- bot token)"),
        ({"mode": "socket"}, {"SLACK_BOT_TOKEN": BOT}, True,
         "slack.mode is socket, but SLACK_APP_TOKEN is not set: create one with connections:write"),
        ({"mode": "socket"}, {"SLACK_BOT_TOKEN": BOT, "SLACK_APP_TOKEN": APP}, True, None),
        ({"mode": "http"}, {"SLACK_BOT_TOKEN": BOT}, True,
         "slack.mode is http: set SLACK_SIGNING_SECRET (Basic Information > Signing Secret)"),
        ({"mode": "http"}, {"SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": SECRET}, True, None),
        ({"mode": "none"}, {"SLACK_BOT_TOKEN": BOT}, False, None),
    ],
)  # fmt: skip
def test_modes_and_their_tokens(
    slack: dict[str, Any], env: dict[str, str], enabled: bool, problem: str | None
) -> None:
    """Whether the app runs, and the one line that says what to set when its mode lacks a token (`check`
    lists it among its problems, `run` refuses to start with it: test_chatops_daemon.py runs both once)."""
    settings = SlackSettings.model_validate(slack)
    tokens = SlackTokens.from_env(env)
    assert app_enabled(settings, tokens) is enabled
    said = configuration_problem(settings, tokens)
    if problem is None:
        assert said is None
    else:
        assert said is not None
        assert said.startswith(problem)
        assert said.endswith("or set slack.mode: none for alerts only")
        assert "\n" not in said


def test_tokens_never_show_in_their_repr() -> None:
    tokens = SlackTokens(bot=BOT, app=APP, signing_secret=SECRET)
    assert repr(tokens) == "SlackTokens(set=['bot', 'app', 'signing_secret'])"


def test_there_is_no_service_for_mode_none() -> None:
    deps = Deps(tasks=None, store=None, clock=lambda: None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"slack\.mode is none"):
        ChatopsService(SlackSettings(mode="none"), SlackTokens(bot=BOT), deps)
