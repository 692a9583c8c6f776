"""The Web API methods the stub speaks, each a function of the state and the call's parameters.

    auth.test              who the token is
    chat.postMessage       channel (id or name), text, blocks, metadata, thread_ts, reply_broadcast -> channel
                           id, ts, message
    chat.update            channel (id), ts, text, blocks, metadata -> channel, ts, text, message
    chat.postEphemeral     channel, user, text, blocks -> message_ts
    conversations.history  channel (id), oldest, latest, inclusive, limit, cursor, include_all_metadata
    conversations.replies  channel (id), ts, limit, cursor, include_all_metadata
    conversations.list     types, exclude_archived, limit, cursor -> id, name, is_private, is_member, ...
    users.list             limit, cursor -> members: id, name (the handle), deleted, is_bot, profile
    apps.connections.open  (an app-level xapp- token) -> the Socket Mode websocket url
    views.publish          user_id, view (type home), hash -> view (the Home tab, `views`)
    views.open             trigger_id, view (type modal) -> view
    views.update           view_id or external_id, view, hash -> view
    files.getUploadURLExternal, files.completeUploadExternal   the two Web API steps of an upload (`files`)

Parameters arrive as slack_sdk sends them: a JSON body for chat.* (blocks and metadata as objects), a query
string for GET methods, or a form body where blocks and metadata are JSON strings. Errors are Slack's codes
(see `SlackError`): channel_not_found, not_in_channel, message_not_found, cant_update_message, no_text,
msg_too_long, invalid_blocks, invalid_blocks_format, msg_blocks_too_long, invalid_metadata_format,
invalid_thread_ts, invalid_cursor, thread_not_found, invalid_arguments; for views (`views`): not_enabled,
hash_conflict, view_too_large, invalid_trigger_id, exchanged_trigger_id, expired_trigger_id, not_found.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import Any

from monitor.devtools.slackstub.blockkit import block_kit_problems, text_length
from monitor.devtools.slackstub.scopes import LIST_TYPES
from monitor.devtools.slackstub.state import SlackError, StubState, metadata_or_error
from monitor.devtools.slackstub.views import StubView, ViewRefused

__all__ = ["METHODS", "Method"]

Method = Callable[[StubState, Mapping[str, Any]], dict[str, Any]]

_MAX_TEXT = 40_000
_MAX_HISTORY_LIMIT = 999


def _invalid(message: str) -> SlackError:
    return SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {message}"]})


def _str(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise _invalid(f"{name} must be a string")
    return str(value)


def _need(params: Mapping[str, Any], name: str) -> str:
    value = _str(params, name)
    if value is None:
        raise _invalid(f"missing required field: {name}")
    return value


def _bool(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.lower() in ("1", "true")
    return bool(value)


def _int(params: Mapping[str, Any], name: str, default: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _invalid(f"{name} must be a number") from None


def _json(params: Mapping[str, Any], name: str, error: str) -> Any:
    """A structured parameter: an object in a JSON body, a JSON string in a form body."""
    value = params.get(name)
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise SlackError(error) from None
    return value


def _blocks(state: StubState, params: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    blocks = _json(params, "blocks", "invalid_blocks_format")
    if blocks is None:
        return None
    if not isinstance(blocks, list) or not all(isinstance(block, dict) for block in blocks):
        raise SlackError("invalid_blocks_format")
    if state.options.validate_blocks:
        problems = block_kit_problems(blocks)
        if problems:
            raise SlackError("invalid_blocks", errors=problems)
        if text_length(blocks) > state.options.max_blocks_text:
            raise SlackError("msg_blocks_too_long")
    return blocks


def _content(
    state: StubState, params: Mapping[str, Any], *, update: bool = False
) -> tuple[str | None, list[dict[str, Any]] | None, dict[str, Any] | None]:
    text = _str(params, "text")
    blocks = _blocks(state, params)
    metadata = metadata_or_error(_json(params, "metadata", "invalid_metadata_format"))
    if not update and not text and not blocks:
        raise SlackError("no_text")
    if text is not None and len(text) > _MAX_TEXT:
        raise SlackError("msg_too_long")
    return text, blocks, metadata


def auth_test(state: StubState, params: Mapping[str, Any]) -> dict[str, Any]:
    options = state.options
    return {
        "ok": True,
        "url": "https://stub.slack.com/",
        "team": options.team,
        "user": options.bot_user,
        "team_id": options.team_id,
        "user_id": options.bot_user_id,
        "bot_id": options.bot_id,
        "is_enterprise_install": False,
    }


def chat_post_message(state: StubState, params: Mapping[str, Any]) -> dict[str, Any]:
    channel = _need(params, "channel")
    text, blocks, metadata = _content(state, params)
    message = state.post_message(
        channel,
        text=text or "",
        blocks=blocks,
        metadata=metadata,
        thread_ts=_str(params, "thread_ts"),
        reply_broadcast=_bool(params, "reply_broadcast"),
    )
    return {
        "ok": True,
        "channel": message.channel,
        "ts": message.ts,
        "message": message.wire(include_metadata=True),
    }


def chat_update(state: StubState, params: Mapping[str, Any]) -> dict[str, Any]:
    channel = _need(params, "channel")
    ts = _need(params, "ts")
    text, blocks, metadata = _content(state, params, update=True)
    message = state.update_message(channel, ts, text=text, blocks=blocks, metadata=metadata)
    return {
        "ok": True,
        "channel": message.channel,
        "ts": message.ts,
        "text": message.text,
        "message": message.wire(include_metadata=True),
    }


def chat_post_ephemeral(state: StubState, params: Mapping[str, Any]) -> dict[str, Any]:
    channel = _need(params, "channel")
    user = _need(params, "user")
    text, blocks, _ = _content(state, params)
    return {"ok": True, "message_ts": state.post_ephemeral(channel, user, text=text or "", blocks=blocks)}


def apps_connections_open(state: StubState, params: Mapping[str, Any]) -> dict[str, Any]:
    if not state.socket_url:
        raise SlackError("internal_error")
    return {"ok": True, "url": f"{state.socket_url}?ticket={state.next_ts()}"}


def conversations_history(state: StubState, params: Mapping[str, Any]) -> dict[str, Any]:
    channel = _need(params, "channel")
    limit = _int(params, "limit", 100)
    return state.history(
        channel,
        oldest=_str(params, "oldest"),
        latest=_str(params, "latest"),
        inclusive=_bool(params, "inclusive"),
        limit=min(max(limit, 1), _MAX_HISTORY_LIMIT),
        cursor=_str(params, "cursor"),
        include_metadata=_bool(params, "include_all_metadata"),
    )


def conversations_list(state: StubState, params: Mapping[str, Any]) -> dict[str, Any]:
    """As Slack pages it: `types` (default public_channel; private channels only those the bot is in),
    `exclude_archived`, `limit` (default 100, at most 1000; Slack recommends no more than 200) and the
    opaque `cursor` from the previous page's `response_metadata.next_cursor` ("" on the last page)."""
    kinds = [kind.strip() for kind in str(params.get("types") or "public_channel").split(",")]
    if not all(kind in LIST_TYPES for kind in kinds):
        raise SlackError("invalid_types")
    limit = min(max(_int(params, "limit", 100), 1), 1000)
    start = _list_offset(_str(params, "cursor"))
    listed = [
        channel
        for channel in state.channels.values()
        if ("private_channel" if channel.private else "public_channel") in kinds
        and (channel.member or not channel.private)
        and not (channel.archived and _bool(params, "exclude_archived"))
    ]
    page = listed[start : start + limit]
    more = start + limit < len(listed)
    channels = [
        {
            "id": channel.id,
            "name": channel.name,
            "is_channel": True,
            "is_private": channel.private,
            "is_member": channel.member,
            "is_archived": channel.archived,
        }
        for channel in page
    ]
    cursor = base64.b64encode(f"offset:{start + limit}".encode()).decode() if more else ""
    return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": cursor}}


def users_list(state: StubState, params: Mapping[str, Any]) -> dict[str, Any]:
    """Members as Slack pages them (api.slack.com/methods/users.list: `limit`, at most 1000 though Slack
    recommends 200, and `cursor`); each with `id`, `name` (the handle), `deleted`, `is_bot`."""
    limit = min(max(_int(params, "limit", 100), 1), 1000)
    start = _list_offset(_str(params, "cursor"))
    users = sorted(state.options.users.items())
    page = users[start : start + limit]
    members = [
        {"id": user_id, "team_id": state.options.team_id, "name": name, "deleted": False, "is_bot": False,
         "profile": {"display_name": name, "real_name": name.title()}}
        for user_id, name in page
    ]  # fmt: skip
    more = start + limit < len(users)
    cursor = base64.b64encode(f"offset:{start + limit}".encode()).decode() if more else ""
    return {"ok": True, "members": members, "response_metadata": {"next_cursor": cursor}}


def _list_offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        kind, _, offset = base64.b64decode(cursor, validate=True).decode().partition(":")
        if kind == "offset" and offset.isdigit():
            return int(offset)
    except (ValueError, UnicodeDecodeError):
        pass
    raise SlackError("invalid_cursor")


def conversations_replies(state: StubState, params: Mapping[str, Any]) -> dict[str, Any]:
    channel = _need(params, "channel")
    ts = _need(params, "ts")
    return state.replies(
        channel,
        ts,
        limit=min(max(_int(params, "limit", 1000), 1), 1000),
        cursor=_str(params, "cursor"),
        include_metadata=_bool(params, "include_all_metadata"),
    )


def _view_param(params: Mapping[str, Any]) -> dict[str, Any]:
    view = _json(params, "view", "invalid_arguments")
    if not isinstance(view, dict):
        raise _invalid("missing required field: view")
    return view


def _view_answer(state: StubState, view: StubView) -> dict[str, Any]:
    options = state.options
    return {
        "ok": True,
        "view": view.wire(team_id=options.team_id, app_id=options.app_id, bot_id=options.bot_id),
    }


def _views_call(state: StubState, call: Callable[[], StubView]) -> dict[str, Any]:
    try:
        return _view_answer(state, call())
    except ViewRefused as refused:
        raise SlackError(refused.error, **refused.extra) from None


def views_publish(state: StubState, params: Mapping[str, Any]) -> dict[str, Any]:
    """The Home tab of `user_id` (api.slack.com/methods/views.publish): replaced whole each time."""
    user = _need(params, "user_id")
    view = _view_param(params)
    return _views_call(state, lambda: state.views.publish(user, view, _str(params, "hash")))


def views_open(state: StubState, params: Mapping[str, Any]) -> dict[str, Any]:
    """A modal for the user a trigger_id was issued to (api.slack.com/methods/views.open)."""
    trigger_id = _need(params, "trigger_id")
    view = _view_param(params)
    return _views_call(state, lambda: state.views.open(trigger_id, view))


def views_update(state: StubState, params: Mapping[str, Any]) -> dict[str, Any]:
    """A view replaced by its view_id or external_id (api.slack.com/methods/views.update)."""
    view_id, external_id = _str(params, "view_id"), _str(params, "external_id")
    if view_id is None and external_id is None:
        raise _invalid("missing required field: view_id or external_id")
    view = _view_param(params)
    return _views_call(
        state,
        lambda: state.views.update(
            view, view_id=view_id, external_id=external_id, expected_hash=_str(params, "hash")
        ),
    )


def files_get_upload_url_external(state: StubState, params: Mapping[str, Any]) -> dict[str, Any]:
    """An upload URL and file id (docs.slack.dev/reference/methods/files.getUploadURLExternal)."""
    filename = _need(params, "filename")
    length = _int(params, "length", 0)
    if length <= 0:
        raise SlackError("missing_argument")
    if state.options.file_uploads_disabled:
        raise SlackError("file_uploads_disabled")
    upload = state.files.start(filename, length)
    return {"ok": True, "upload_url": f"{state.upload_url}/{upload.id}", "file_id": upload.id}


def files_complete_upload_external(state: StubState, params: Mapping[str, Any]) -> dict[str, Any]:
    """Finish uploads; with channel_id, share them there in one message (initial_comment, else blocks)
    (docs.slack.dev/reference/methods/files.completeUploadExternal)."""
    wanted = _json(params, "files", "invalid_arguments")
    if not isinstance(wanted, list) or not wanted or not all(isinstance(f, dict) for f in wanted):
        raise _invalid("files must be a non-empty array of {id, title}")
    done = []
    for item in wanted:
        upload = state.files.uploaded(str(item.get("id") or ""))
        if upload is None:
            raise SlackError("file_not_found")
        upload.title = str(item["title"]) if item.get("title") else upload.title
        done.append(upload)
    channel = _str(params, "channel_id")
    if channel is not None:
        comment = _str(params, "initial_comment")
        blocks = None if comment is not None else _blocks(state, params)
        message = state.post_message(
            channel, text=comment or "", blocks=blocks, thread_ts=_str(params, "thread_ts")
        )
        message.files = [upload.wire() for upload in done]
        for upload in done:
            upload.shared_in, upload.ts = message.channel, message.ts
    return {"ok": True, "files": [upload.wire() for upload in done]}


METHODS: dict[str, Method] = {
    "apps.connections.open": apps_connections_open,
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.postEphemeral": chat_post_ephemeral,
    "conversations.history": conversations_history,
    "conversations.list": conversations_list,
    "conversations.replies": conversations_replies,
    "users.list": users_list,
    "views.open": views_open,
    "views.publish": views_publish,
    "views.update": views_update,
    "files.getUploadURLExternal": files_get_upload_url_external,
    "files.completeUploadExternal": files_complete_upload_external,
}
