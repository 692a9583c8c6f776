"""Who may change state through Slack: `slack.admins` (member ids) and `slack.allowed_channels` (channel ids).

Reading (`list`, `show`, `alerts`, ...) is open to everyone who can run `/tasks`; silencing, unsilencing and
acknowledging (commands and buttons) need the caller to be an admin or to be in an allowed channel. With both
lists empty nobody may: a fresh install must not let the whole workspace mute alerts.

The decision reads ids only (`user_id`, `channel_id`), never the names in a payload (`user_name`,
`username`, `channel_name`): Slack calls them deprecated, people may rename themselves (and a channel) to
anything, and names are not unique on Enterprise Grid. So `u0admin1` as a *name* is nobody's id, and a
channel *named* `c0deskops1` is not the channel whose id that is. The config holds ids, or names written as
such (`@alice`, `"#desktop-ops"`) that are looked up to ids at start and on reload (`monitor.chatops.names`);
anything else is refused by `monitor.config`, saying which id to use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["CHANNEL_ID", "CHANNEL_NAME", "USER_HANDLE", "USER_ID", "Access", "Caller"]

#: Slack member ids (U..., W... on Enterprise Grid) and conversation ids (C... public, G... private,
#: D... direct): upper-case letters and digits (https://api.slack.com/changelog/2016-08-11-user-id-format-changes).
USER_ID = re.compile(r"[UW][A-Z0-9]+")
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]+")
#: Names in the config, looked up to ids at start and on reload (`monitor.chatops.names`): a member's handle
#: (`users.list`'s `name`) after `@`, a channel's name after `#` (lower case, no spaces, at most 80).
USER_HANDLE = re.compile(r"@[a-z0-9][a-z0-9._-]{0,79}")
CHANNEL_NAME = re.compile(r"#[a-z0-9][a-z0-9_-]{0,79}")


@dataclass(frozen=True)
class Caller:
    """Who ran a command or pressed a button, and where (from Slack's payload). The names are shown to
    people and stored as who did what; they never decide anything."""

    user_id: str
    user_name: str = ""
    channel_id: str = ""
    channel_name: str = ""
    team_domain: str | None = None

    @property
    def shown(self) -> str:
        """How the caller is named in the store and in answers (plain text, escaped where shown)."""
        return self.user_name or self.user_id or "someone"


def _ids(values: Iterable[str], pattern: re.Pattern[str]) -> frozenset[str]:
    return frozenset(value.strip() for value in values if pattern.fullmatch(value.strip()))


@dataclass(frozen=True)
class Access:
    admins: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()

    @classmethod
    def of(cls, admins: Iterable[str], channels: Iterable[str]) -> Access:
        """The ids among `admins` and `channels` (names there are looked up by `monitor.chatops.names`)."""
        return cls(_ids(admins, USER_ID), _ids(channels, CHANNEL_ID))

    def may_change(self, caller: Caller) -> bool:
        """Whether `caller` may silence, unsilence or acknowledge: by member id or channel id only."""
        return bool(
            (caller.user_id and caller.user_id in self.admins)
            or (caller.channel_id and caller.channel_id in self.channels)
        )
