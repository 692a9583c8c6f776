"""slack/manifest.yml creates the app the code expects: the same slash command, Socket Mode and
interactivity on, the Home tab with its event, and the bot scopes every Web API method we call needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from monitor.chatops.app import COMMAND
from monitor.chatops.commands import SUBCOMMANDS

MANIFEST = Path(__file__).parents[2] / "slack" / "manifest.yml"


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return data


def test_the_slash_command_is_the_one_the_app_listens_to() -> None:
    [command] = manifest()["features"]["slash_commands"]
    assert command["command"] == COMMAND
    assert command["should_escape"] is False  # the app reads channel and user ids, not <#C..> markup


def test_the_usage_hint_names_every_subcommand_and_the_silence_forms() -> None:
    """What Slack shows while /tasks is typed: every word the parser takes, a silence's duration or time
    interval, within the 1,000 characters Slack's manifest schema allows (slackapi/manifest-schema,
    schemas/manifest.schema.1.0.0.json: features.slash_commands[].usage_hint maxLength 1000)."""
    [command] = manifest()["features"]["slash_commands"]
    hint = command["usage_hint"]
    words = {part.split()[0] for part in hint.split(" | ")}
    assert words == set(SUBCOMMANDS)
    assert "silence <task|glob> <2h|time-interval>" in hint
    assert "retry <task_id|alert_id>" in hint
    assert len(hint) <= 1000


def test_socket_mode_and_interactivity_are_on() -> None:
    settings = manifest()["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True


def test_the_home_tab_is_on_and_its_event_subscribed() -> None:
    """views.publish answers `not_enabled` without the Home tab; the app publishes on `app_home_opened`.
    Neither needs a scope (api.slack.com/methods/views.publish, api.slack.com/events/app_home_opened)."""
    data = manifest()
    assert data["features"]["app_home"]["home_tab_enabled"] is True
    assert data["features"]["app_home"]["messages_tab_enabled"] is False
    assert data["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]


def test_the_bot_has_the_scopes_of_every_method_we_call() -> None:
    needed = {
        "commands",  # /tasks
        "chat:write",  # chat.postMessage, chat.update
        "channels:history",  # conversations.history (crash reconciliation)
        "groups:history",
        "channels:read",  # conversations.list (channel ids)
        "groups:read",
        "files:write",  # files.getUploadURLExternal, files.completeUploadExternal (report charts)
    }
    assert set(manifest()["oauth_config"]["scopes"]["bot"]) == needed
