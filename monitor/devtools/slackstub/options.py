"""`SlackStubOptions`: what a Slack stub is started with, and its default (public, fake) identity."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_APP_TOKEN",
    "DEFAULT_CHANNELS",
    "DEFAULT_SCOPES",
    "DEFAULT_TOKEN",
    "DEFAULT_USERS",
    "SlackStubOptions",
]

DEFAULT_TOKEN = "xoxb-stub-0000-0000-token"  # noqa: S105 - a public, fake credential
#: The app-level token Socket Mode opens connections with (`apps.connections.open`).
DEFAULT_APP_TOKEN = "xapp-1-A0STUBAPP1-0000-stub-token"  # noqa: S105 - a public, fake credential
#: Channel names (without "#") and their ids.
DEFAULT_CHANNELS = {"desktop-ops": "C0DESKOPS01", "general": "C0GENERAL01"}
#: Workspace members (`users.list`): user id -> handle (the `name` field).
DEFAULT_USERS = {"U0DEMOALICE": "alice", "U0DEMOBOB1": "bob"}
#: The bot token's scopes: those slack/manifest.yml asks for (a unit test keeps the two equal).
DEFAULT_SCOPES = frozenset(
    {
        "commands",
        "chat:write",
        "channels:history",
        "groups:history",
        "channels:read",
        "groups:read",
        "files:write",
    }
)


@dataclass
class SlackStubOptions:
    host: str = "127.0.0.1"
    port: int = 0  # 0 picks a free port; read the real one from `base_url`
    tokens: frozenset[str] = frozenset({DEFAULT_TOKEN})
    #: Scopes granted to the bot tokens: a method needing another answers `missing_scope` with `needed`
    #: and `provided`, as Slack does (see `monitor/devtools/slackstub/scopes.py`).
    scopes: frozenset[str] = DEFAULT_SCOPES
    #: App-level tokens: accepted by `apps.connections.open` only, as on Slack.
    app_tokens: frozenset[str] = frozenset({DEFAULT_APP_TOKEN})
    channels: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CHANNELS))
    #: Members listed by `users.list` (needs `users:read`, which the manifest does not ask for): id -> handle.
    users: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_USERS))
    #: True: posting to a channel the stub does not know answers `channel_not_found`, as Slack does.
    #: False: the channel is created on first post (handy for demos with arbitrary rule channels).
    strict_channels: bool = False
    #: Channel names or ids the bot is not a member of: posts there answer `not_in_channel`.
    not_in_channel: frozenset[str] = frozenset()
    #: Slack's per-method tiers and 1 message/s/channel (`ratelimit.py`); on, as on Slack. Tests that post
    #: faster than Slack allows on purpose turn it off.
    rate_limits: bool = True
    #: A reply to a message that is not there (deleted, or never was): False answers `thread_not_found`,
    #: as Slack does ("the parent message no longer exists", slackapi/bolt-js#2307); True accepts it and
    #: keeps it in `orphans`, shown nowhere.
    orphan_replies: bool = False
    #: The workspace's admins turned file uploads off: files.getUploadURLExternal answers
    #: `file_uploads_disabled` (one of the method's documented errors).
    file_uploads_disabled: bool = False
    #: Check blocks with slack_sdk's models and Block Kit limits (`invalid_blocks`, `msg_blocks_too_long`).
    validate_blocks: bool = True
    #: Slack's undocumented cap on all the text in one message's blocks (slackapi/bolt-js#2509).
    max_blocks_text: int = 12_000
    #: Seconds since the epoch for new message ts; ts stay strictly increasing even if it stands still.
    clock: Callable[[], float] = time.time
    team_id: str = "T0STUBTEAM"
    team: str = "Stub Workspace"
    bot_user_id: str = "U0STUBBOT1"
    bot_user: str = "workspace-monitor"
    bot_id: str = "B0STUBBOT1"
    app_id: str = "A0STUBAPP1"
