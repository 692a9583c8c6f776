"""The bot token's scopes: which ones this configuration needs, what each serves, and what a token lacks.

One table (`BOT_SCOPES`, the README's "bot scope | serves" table) from which `check --online` names every
missing scope with what it serves. A scope is *required* when something the configuration asks for cannot
work without it (a problem, `check` fails) and *degraded* when only a safety net is lost (a warning):

    chat:write                          always required: nothing is posted without it
    commands                            required when the chat app runs (slack.mode socket or http)
    channels:history, groups:history    degraded: the crash reconcile cannot look a lost post up
    channels:read, groups:read          degraded, or required when slack.allowed_channels names `#name`s
    users:read                          required when slack.admins names `@handle`s (else not needed)
    files:write                         degraded when `reports:` are configured: their charts become tables
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from monitor.config import SlackSettings

__all__ = ["BOT_SCOPES", "BotScope", "MissingScope", "missing_scopes", "oauth_scopes"]

RECONCILE = "finding, after a crash mid-post or a lost answer, what was posted (else it may be posted twice)"


@dataclass(frozen=True)
class BotScope:
    scope: str
    serves: str


#: Every bot scope the monitor can use, with what it serves (slack/manifest.yml asks for all but users:read).
BOT_SCOPES: tuple[BotScope, ...] = (
    BotScope("chat:write", "every alert, reminder, edit, thread reply and digest"),
    BotScope("commands", "the /tasks command"),
    BotScope("channels:history", f"{RECONCILE}, in public channels"),
    BotScope("groups:history", f"{RECONCILE}, in private channels"),
    BotScope("channels:read", "public channel names to ids (the crash check; `#name`s in allowed_channels)"),
    BotScope("groups:read", "private channel names to ids (the crash check; `#name`s in allowed_channels)"),
    BotScope("users:read", "`@handle`s in slack.admins to member ids"),
    BotScope("files:write", "the charts of `reports:` (without it, each report carries a text table)"),
)  # fmt: skip


@dataclass(frozen=True)
class MissingScope:
    scope: str
    serves: str
    required: bool  # True: something configured cannot work (a problem); False: degraded (a warning)


def needed_scopes(settings: SlackSettings, *, chat_app: bool, reports: bool = False) -> dict[str, bool]:
    """scope -> required, for this configuration (`chat_app`: the /tasks app runs; `reports`: some are
    configured)."""
    names = any(channel.startswith("#") for channel in settings.allowed_channels)
    needed = {"chat:write": True, "channels:history": False, "groups:history": False}
    needed |= {"channels:read": names, "groups:read": names}
    if chat_app:
        needed["commands"] = True
    if any(admin.startswith("@") for admin in settings.admins):
        needed["users:read"] = True
    if reports:
        needed["files:write"] = False
    return needed


def missing_scopes(
    granted: frozenset[str], settings: SlackSettings, *, chat_app: bool, reports: bool = False
) -> list[MissingScope]:
    """The scopes this configuration needs and the token lacks, in the table's order."""
    needed = needed_scopes(settings, chat_app=chat_app, reports=reports)
    return [
        MissingScope(entry.scope, entry.serves, needed[entry.scope])
        for entry in BOT_SCOPES
        if entry.scope in needed and entry.scope not in granted
    ]


def oauth_scopes(headers: Mapping[str, object] | None) -> frozenset[str] | None:
    """The scopes in an answer's `x-oauth-scopes` header (any Web API answer carries it); None if absent."""
    lowered = {str(key).lower(): value for key, value in (headers or {}).items()}
    value = lowered.get("x-oauth-scopes")
    if isinstance(value, list):
        value = ",".join(str(item) for item in value)
    if not isinstance(value, str):
        return None
    return frozenset(scope.strip() for scope in value.split(",") if scope.strip())
