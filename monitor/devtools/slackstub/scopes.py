"""Which OAuth scope each Web API method of the stub needs, from the method's documentation page
(api.slack.com/methods/<method>, "Required scopes", bot token):

    chat.postMessage, chat.update, chat.postEphemeral    chat:write
    conversations.history, conversations.replies         channels:history (public), groups:history (private)
    conversations.list                                   channels:read for public_channel, groups:read for
                                                         private_channel, mpim:read, im:read
    users.list                                           users:read
    files.getUploadURLExternal, files.completeUploadExternal   files:write
    auth.test, apps.connections.open                     none (the app token's connections:write aside)
    views.publish, views.open, views.update              none ("No scope required"; the Home tab is turned
                                                         on in the app's settings instead: `not_enabled`)

A call without one answers as Slack does: `{"ok": false, "error": "missing_scope", "needed": "chat:write",
"provided": "commands,channels:read"}` (`provided` is one comma-separated string).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.devtools.slackstub.state import SlackError, StubState

__all__ = ["LIST_TYPES", "check_scopes", "needed_scopes"]

_CHAT = ("chat.postMessage", "chat.update", "chat.postEphemeral")
_HISTORY = ("conversations.history", "conversations.replies")
#: conversations.list's `types`, each with the scope it needs.
LIST_TYPES = {
    "public_channel": "channels:read",
    "private_channel": "groups:read",
    "mpim": "mpim:read",
    "im": "im:read",
}


def needed_scopes(state: StubState, method: str, params: Mapping[str, Any]) -> list[str]:
    if method in _CHAT:
        return ["chat:write"]
    if method in _HISTORY:
        channel = state.channels.get(str(params.get("channel") or ""))
        return ["groups:history" if channel is not None and channel.private else "channels:history"]
    if method == "users.list":
        return ["users:read"]
    if method in ("files.getUploadURLExternal", "files.completeUploadExternal"):
        return ["files:write"]
    if method == "conversations.list":
        types = str(params.get("types") or "public_channel").split(",")
        return [LIST_TYPES[kind.strip()] for kind in types if kind.strip() in LIST_TYPES]
    return []


def check_scopes(state: StubState, method: str, params: Mapping[str, Any]) -> None:
    """Raise `missing_scope` naming the first scope the call needs and the token lacks."""
    granted = state.options.scopes
    for scope in needed_scopes(state, method, params):
        if scope not in granted:
            raise SlackError("missing_scope", needed=scope, provided=",".join(sorted(granted)))
