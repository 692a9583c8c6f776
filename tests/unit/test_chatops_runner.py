"""Which Slack mode runs, and the one line `check` and `run` print when its token is missing (a table)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


@pytest.mark.parametrize(("actions", "retries"), [((), False), (("retry",), True)])
async def test_retries_reach_the_app_only_when_the_config_asks(
    tmp_path: Any, actions: tuple[str, ...], retries: bool
) -> None:
    """`slack.actions: [retry]` gives the app a Retrier (writing with the app's own client); without it the
    app can only read, so a read-only IAM user keeps working."""
    from monitor.chatops.runner import chatops_for_daemon
    from monitor.config import Credentials, Settings
    from monitor.metrics import Health
    from monitor.store import SQLiteStore

    settings = Settings.model_validate(
        {
            "workspace": {"endpoint": "http://127.0.0.1:9", "project_id": "p" * 32},
            "slack": {"mode": "http", "actions": list(actions)},
        }
    )
    store = SQLiteStore.open(tmp_path / "state.db")
    env = {"SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": SECRET}
    now = datetime(2026, 11, 29, tzinfo=UTC)
    health = Health(poll_interval=timedelta(minutes=1), started_at=now)
    credentials = Credentials(access_key="ak", secret_key="sk")
    app = chatops_for_daemon(settings, credentials, store, health, clock=lambda: now, env=env)
    try:
        assert app is not None
        assert (app.deps.retry is not None) is retries
        if app.deps.retry is not None:
            assert app.deps.retry.client is app.client
            assert app.deps.retry.project == "p" * 32  # alerts of one project are named by its id
    finally:
        if app is not None:
            await app.client.aclose()
        store.close()
