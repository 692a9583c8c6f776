"""Names in `slack.admins` (`@alice`) and `slack.allowed_channels` (`"#desktop-ops"`) looked up to ids.

Access is decided by ids only (`monitor.chatops.access`). A name in the config is looked up once, at start
and on every reload: handles with `users.list` (the `users:read` scope, which the manifest does not ask for:
ids need no scope), channel names with `conversations.list` (public and private channels, archived ones left
out; `channels:read` and `groups:read`, which the app has), both paged 200 at a time with Slack's cursor.
A handle shared by several members (Enterprise Grid) or unknown, and a channel name nobody has, grant
nothing: each is a problem, logged as `chatops.access_name_unresolved`. Someone renaming themselves to an
admin's handle later gains nothing until the next reload, and the lookup then finds two members and refuses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from monitor.chatops.access import CHANNEL_NAME, USER_HANDLE

__all__ = ["PAGE", "Resolved", "resolve_names"]

PAGE = 200
_MAX_PAGES = 500  # 100,000 members or channels: beyond that, the rest is not looked at


@dataclass(frozen=True)
class Resolved:
    users: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    problems: list[str] = field(default_factory=list)


async def _pages(client: AsyncWebClient, method: str, key: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(_MAX_PAGES):
        page = {**params, "limit": PAGE} | ({"cursor": cursor} if cursor else {})
        answer = await client.api_call(method, http_verb="GET", params=page)
        items += [item for item in answer.get(key) or [] if isinstance(item, dict)]
        cursor = (answer.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor:
            break
    return items


def _why(exc: SlackApiError, method: str) -> str:
    error = exc.response.get("error")
    if error == "missing_scope":
        return f"{method} answered missing_scope: add the {exc.response.get('needed')} scope to the app"
    return f"{method} failed: {error}"


def _match(wanted: Iterable[str], found: dict[str, list[str]], what: str) -> tuple[frozenset[str], list[str]]:
    ids: set[str] = set()
    problems = []
    for name in wanted:
        matches = found.get(name[1:], [])
        if len(matches) == 1:
            ids.add(matches[0])
        elif matches:
            problems.append(f"{name} names {len(matches)} {what}s ({', '.join(sorted(matches))}): use the id")
        else:
            problems.append(f"no {what} is named {name}: it grants nothing (use the id)")
    return frozenset(ids), problems


async def resolve_names(client: AsyncWebClient, admins: Sequence[str], channels: Sequence[str]) -> Resolved:
    """The ids of the `@handle` entries of `admins` and the `#name` entries of `channels` (ids are left to
    `Access.of`), and what could not be looked up. Slack's network errors are raised (to try again later)."""
    handles = [name for name in admins if USER_HANDLE.fullmatch(name)]
    names = [name for name in channels if CHANNEL_NAME.fullmatch(name)]
    users: frozenset[str] = frozenset()
    rooms: frozenset[str] = frozenset()
    problems: list[str] = []
    if handles:
        try:
            members = await _pages(client, "users.list", "members")
        except SlackApiError as exc:
            problems.append(f"{', '.join(handles)} not looked up: {_why(exc, 'users.list')}")
        else:
            by_handle: dict[str, list[str]] = defaultdict(list)
            for member in members:
                if not member.get("deleted") and isinstance(member.get("name"), str):
                    by_handle[member["name"]].append(str(member.get("id")))
            users, missing = _match(handles, by_handle, "member")
            problems += missing
    if names:
        try:
            listed = await _pages(
                client, "conversations.list", "channels",
                types="public_channel,private_channel", exclude_archived="true",
            )  # fmt: skip
        except SlackApiError as exc:
            problems.append(f"{', '.join(names)} not looked up: {_why(exc, 'conversations.list')}")
        else:
            by_name: dict[str, list[str]] = defaultdict(list)
            for channel in listed:
                if isinstance(channel.get("name"), str):
                    by_name[channel["name"]].append(str(channel.get("id")))
            rooms, missing = _match(names, by_name, "channel")
            problems += missing
    return Resolved(users, rooms, problems)
