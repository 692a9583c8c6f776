"""Who may change state through Slack: `slack.admins` (user ids or names) and `slack.allowed_channels`.

Reading (`list`, `show`, `alerts`, ...) is open to everyone who can run `/tasks`; silencing, unsilencing and
acknowledging (commands and buttons) need the caller to be an admin or to be in an allowed channel. With both
lists empty nobody may: a fresh install must not let the whole workspace mute alerts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Access", "Caller"]


@dataclass(frozen=True)
class Caller:
    """Who ran a command or pressed a button, and where (from Slack's payload)."""

    user_id: str
    user_name: str = ""
    channel_id: str = ""
    channel_name: str = ""
    team_domain: str | None = None

    @property
    def shown(self) -> str:
        """How the caller is named in the store and in answers (plain text, escaped where shown)."""
        return self.user_name or self.user_id or "someone"


def _normalised(names: Iterable[str]) -> frozenset[str]:
    return frozenset(name.strip().lstrip("#@").lower() for name in names if name.strip())


@dataclass(frozen=True)
class Access:
    admins: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()

    @classmethod
    def of(cls, admins: Iterable[str], channels: Iterable[str]) -> Access:
        return cls(_normalised(admins), _normalised(channels))

    def may_change(self, caller: Caller) -> bool:
        people = {caller.user_id.lower(), caller.user_name.lower()} - {""}
        places = {caller.channel_id.lower(), caller.channel_name.lower()} - {""}
        return bool(people & self.admins or places & self.channels)
