"""Everything a Slack stub holds, and every change to it: channels, messages with their thread replies and
edit history, ephemeral messages, response_url posts, the call log and the fault plan.

The state lives on the server's event loop; tests in the same loop read and change it directly, a
`SlackStubThread` changes it through `call`. Methods raise `SlackError(code)` for what Slack answers with
`{"ok": false, "error": code}`; the web layer (`api`) turns them into answers.

Inspection, as plain data: `messages(channel)` (top-level, oldest first, each with `.replies` and `.edits`),
`snapshot()` (the same for every channel, as dicts), `calls`, `ephemeral`, `responses`, `orphans` (replies
to a thread that does not exist, kept only with `orphan_replies`; by default they answer thread_not_found),
`views` (Home tabs, modals and trigger_ids: `monitor.devtools.slackstub.views`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.devtools.slackstub.faults import FaultPlan
from monitor.devtools.slackstub.files import StubFiles
from monitor.devtools.slackstub.options import SlackStubOptions
from monitor.devtools.slackstub.ratelimit import RateLimiter
from monitor.devtools.slackstub.views import StubViews

__all__ = [
    "MessageVersion",
    "SlackError",
    "StubCall",
    "StubChannel",
    "StubMessage",
    "StubState",
    "format_ts",
]

_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")
_TS = re.compile(r"\d{1,12}\.\d{6}")
#: How often and how long a response_url may be used.
RESPONSE_URL_USES = 5
RESPONSE_URL_SECONDS = 30 * 60
_TS_STEP = 100  # microseconds between two messages when the clock stands still, like Slack's ".000100"


class SlackError(Exception):
    """What Slack answers with HTTP 200 `{"ok": false, "error": code, ...extra}`."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


def _cursor_after(ts: str) -> str:
    return base64.b64encode(f"next_ts:{_ts_micros(ts)}".encode()).decode()


def format_ts(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _ts_micros(ts: str) -> int:
    seconds, _, fraction = ts.partition(".")
    return int(seconds) * 1_000_000 + int(fraction.ljust(6, "0")[:6])


@dataclass
class MessageVersion:
    """An earlier version of an edited message; `replaced_at` is the ts of the edit that replaced it."""

    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any] | None
    replaced_at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "blocks": self.blocks,
            "metadata": self.metadata,
            "replaced_at": self.replaced_at,
        }


@dataclass
class StubMessage:
    channel: str  # id
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any] | None
    user: str
    bot_id: str | None = None
    app_id: str | None = None
    team: str | None = None
    thread_ts: str | None = None  # the parent's ts, for replies
    replies: list[StubMessage] = field(default_factory=list)
    edits: list[MessageVersion] = field(default_factory=list)
    edited_ts: str | None = None
    #: A reply sent with `reply_broadcast`: also shown in the channel (subtype thread_broadcast).
    broadcast: bool = False
    #: Files shared by this message (files.completeUploadExternal), as `files` shows them.
    files: list[dict[str, Any]] = field(default_factory=list)

    def wire(self, *, include_metadata: bool) -> dict[str, Any]:
        """The message as Slack's history and replies methods show it."""
        body: dict[str, Any] = {"type": "message", "user": self.user, "text": self.text, "ts": self.ts}
        if self.broadcast:
            body["subtype"] = "thread_broadcast"
        if self.bot_id is not None:
            body.update(bot_id=self.bot_id, app_id=self.app_id)
        if self.team is not None:
            body["team"] = self.team
        if self.blocks:
            body["blocks"] = self.blocks
        if include_metadata and self.metadata is not None:
            body["metadata"] = self.metadata
        if self.thread_ts is not None:
            body["thread_ts"] = self.thread_ts
        elif self.replies:
            body.update(
                thread_ts=self.ts,
                reply_count=len(self.replies),
                reply_users_count=len({reply.user for reply in self.replies}),
                reply_users=sorted({reply.user for reply in self.replies}),
                latest_reply=self.replies[-1].ts,
            )
        if self.edited_ts is not None:
            body["edited"] = {"user": self.user, "ts": self.edited_ts}
        if self.files:
            body["files"] = self.files
        return body

    def as_dict(self) -> dict[str, Any]:
        """Plain data for assertions: the current version, its earlier versions and its replies."""
        body: dict[str, Any] = {
            "ts": self.ts,
            "text": self.text,
            "blocks": self.blocks,
            "metadata": self.metadata,
            "user": self.user,
            "edits": [edit.as_dict() for edit in self.edits],
        }
        if self.thread_ts is not None:
            body["thread_ts"] = self.thread_ts
        else:
            body["replies"] = [reply.as_dict() for reply in self.replies]
        return body


@dataclass
class StubChannel:
    id: str
    name: str
    member: bool = True
    private: bool = False
    archived: bool = False
    messages: list[StubMessage] = field(default_factory=list)  # top level, oldest first


@dataclass
class StubCall:
    """One call of the Web API (or of a response_url), for assertions like "posted exactly twice"."""

    method: str
    params: dict[str, Any]
    status: int
    error: str | None = None  # the Slack error code, or the injected fault's kind

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "params": self.params, "status": self.status, "error": self.error}


class StubState:
    def __init__(self, options: SlackStubOptions | None = None) -> None:
        self.options = options or SlackStubOptions()
        self.faults = FaultPlan()
        self.rate = RateLimiter(lambda: self.options.clock())
        self.channels: dict[str, StubChannel] = {}
        self._by_name: dict[str, str] = {}
        self._messages: dict[tuple[str, str], StubMessage] = {}
        self.ephemeral: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        #: response_url id -> (when it was issued, how many times it was used).
        self._response_urls: dict[str, tuple[float, int]] = {}
        self.orphans: list[StubMessage] = []
        self.calls: list[StubCall] = []
        self.down = False
        #: The websocket URL `apps.connections.open` hands out (set by the runner once it listens).
        self.socket_url = ""
        #: Where files.getUploadURLExternal sends uploads (set by the runner once it listens), and the files.
        self.upload_url = ""
        self.files = StubFiles()
        #: Home tabs, modals and trigger_ids (`views`).
        self.views = StubViews(lambda: self.options.clock())
        self._last_micros = 0
        self._next_id = 1
        for name, channel_id in self.options.channels.items():
            self.add_channel(name, channel_id)

    # Channels.
    def add_channel(
        self,
        name: str,
        channel_id: str | None = None,
        *,
        member: bool = True,
        private: bool = False,
        archived: bool = False,
    ) -> StubChannel:
        name = name.lstrip("#")
        if channel_id is None:
            channel_id = f"C{self._next_id:010d}"
            self._next_id += 1
        excluded = self.options.not_in_channel
        channel = StubChannel(
            channel_id,
            name,
            member and name not in excluded and channel_id not in excluded,
            private=private,
            archived=archived,
        )
        self.channels[channel_id] = channel
        self._by_name[name] = channel_id
        return channel

    def set_member(self, channel: str, member: bool) -> None:
        self.channel(channel).member = member

    def channel(self, ref: str) -> StubChannel:
        """A known channel by id, name or #name (for tests; the API is stricter, see `_for_post`)."""
        channel_id = self._by_name.get(ref.lstrip("#"), ref)
        if channel_id not in self.channels:
            raise KeyError(f"no channel {ref!r}")
        return self.channels[channel_id]

    def _for_post(self, ref: str) -> StubChannel:
        """chat.postMessage takes an id or a name; unknown ones are created unless channels are strict."""
        if not ref:
            raise SlackError("channel_not_found")
        channel_id = ref if ref in self.channels else self._by_name.get(ref.lstrip("#"))
        if channel_id is None:
            if self.options.strict_channels:
                raise SlackError("channel_not_found")
            if _CHANNEL_ID.fullmatch(ref):
                return self.add_channel(ref.lower(), ref)
            return self.add_channel(ref)
        return self.channels[channel_id]

    def _by_id(self, ref: str) -> StubChannel:
        """Methods other than posting want the id Slack answered the post with, as Slack does."""
        channel = self.channels.get(ref)
        if channel is None:
            raise SlackError("channel_not_found")
        return channel

    # Messages.
    def next_ts(self) -> str:
        now = int(self.options.clock() * 1_000_000)
        self._last_micros = max(now, self._last_micros + _TS_STEP)
        return format_ts(self._last_micros)

    def _new_message(
        self, channel: StubChannel, text: str, blocks: list[dict[str, Any]], metadata: dict[str, Any] | None
    ) -> StubMessage:
        options = self.options
        return StubMessage(
            channel=channel.id,
            ts=self.next_ts(),
            text=text,
            blocks=blocks,
            metadata=metadata,
            user=options.bot_user_id,
            bot_id=options.bot_id,
            app_id=options.app_id,
            team=options.team_id,
        )

    def post_message(
        self,
        channel_ref: str,
        *,
        text: str = "",
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
    ) -> StubMessage:
        """A message, or with `thread_ts` a reply in that thread; a reply with `reply_broadcast` ("also send
        to channel", api.slack.com/methods/chat.postMessage) is in the channel's history too, as a message
        of subtype `thread_broadcast` that keeps its `thread_ts` (an unthreaded message ignores the flag)."""
        channel = self._for_post(channel_ref)
        if channel.archived:
            raise SlackError("is_archived")
        if not channel.member:
            raise SlackError("not_in_channel")
        if thread_ts is not None and not _TS.fullmatch(thread_ts):
            raise SlackError("invalid_thread_ts")
        message = self._new_message(channel, text, list(blocks or []), metadata)
        if thread_ts is None:
            channel.messages.append(message)
        else:
            parent = self._messages.get((channel.id, thread_ts))
            if parent is not None and parent.thread_ts is not None:  # a reply's ts: same thread
                parent = self._messages.get((channel.id, parent.thread_ts))
            if parent is None:
                if not self.options.orphan_replies:
                    raise SlackError("thread_not_found")
                # Accepted and shown nowhere (`orphan_replies`); kept for tests to find.
                message.thread_ts = thread_ts
                self.orphans.append(message)
                return message
            message.thread_ts = parent.ts
            parent.replies.append(message)
            if reply_broadcast:
                message.broadcast = True
                channel.messages.append(message)
        self._messages[(channel.id, message.ts)] = message
        return message

    def delete_message(self, channel: str, ts: str) -> None:
        """Someone deleted a top-level message (tests): edits answer message_not_found, replies to it
        thread_not_found (the stand-in keeps no tombstone, as Slack does for a message without replies)."""
        target = self.channel(channel)
        message = self._messages.pop((target.id, ts))
        target.messages.remove(message)

    def add_user_message(self, channel: str, text: str, *, user: str = "U0SOMEONE1") -> StubMessage:
        """A message by a person (tests: the bot may not edit it, history shows it)."""
        target = self.channel(channel)
        message = StubMessage(
            channel=target.id, ts=self.next_ts(), text=text, blocks=[], metadata=None, user=user
        )
        target.messages.append(message)
        self._messages[(target.id, message.ts)] = message
        return message

    def update_message(
        self,
        channel_id: str,
        ts: str,
        *,
        text: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> StubMessage:
        """chat.update: what is not given is kept (text, blocks, metadata), as Slack keeps them."""
        channel = self._by_id(channel_id)
        message = self._messages.get((channel.id, ts))
        if message is None:
            raise SlackError("message_not_found")
        if message.bot_id != self.options.bot_id:
            raise SlackError("cant_update_message")
        edit_ts = self.next_ts()
        message.edits.append(MessageVersion(message.text, message.blocks, message.metadata, edit_ts))
        if text is not None:
            message.text = text
        if blocks is not None:
            message.blocks = list(blocks)
        if metadata is not None:
            message.metadata = metadata
        message.edited_ts = edit_ts
        return message

    def history(
        self,
        channel_id: str,
        *,
        oldest: str | None = None,
        latest: str | None = None,
        inclusive: bool = False,
        limit: int = 100,
        cursor: str | None = None,
        include_metadata: bool = False,
    ) -> dict[str, Any]:
        """conversations.history: top-level messages newest first, `oldest`/`latest` exclusive unless
        `inclusive`, `limit` a page (at most 999), `cursor` from the previous page's next_cursor."""
        channel = self._by_id(channel_id)
        if not channel.member:
            raise SlackError("not_in_channel")
        low = _ts_micros(oldest) if oldest else None
        high = _ts_micros(latest) if latest else None
        if cursor:
            high, inclusive_high = self._cursor(cursor), False
        else:
            inclusive_high = inclusive
        selected = []
        for message in reversed(channel.messages):
            at = _ts_micros(message.ts)
            if high is not None and (at > high or (at == high and not inclusive_high)):
                continue
            if low is not None and (at < low or (at == low and not inclusive)):
                continue
            selected.append(message)
        page, more = selected[:limit], len(selected) > limit
        return {
            "ok": True,
            "messages": [message.wire(include_metadata=include_metadata) for message in page],
            "has_more": more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": _cursor_after(page[-1].ts) if more else ""},
        }

    @staticmethod
    def _cursor(cursor: str) -> int:
        """The position a cursor stands for: base64 of "next_ts:<micros>", like Slack's own cursors."""
        try:
            text = base64.b64decode(cursor, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise SlackError("invalid_cursor") from None
        prefix, _, micros = text.partition(":")
        if prefix != "next_ts" or not micros.isdigit():
            raise SlackError("invalid_cursor")
        return int(micros)

    def replies(
        self,
        channel_id: str,
        ts: str,
        *,
        limit: int = 1000,
        cursor: str | None = None,
        include_metadata: bool = False,
    ) -> dict[str, Any]:
        """conversations.replies: the parent, then its replies oldest first."""
        channel = self._by_id(channel_id)
        message = self._messages.get((channel.id, ts))
        if message is None:
            raise SlackError("thread_not_found")
        parent = self._messages[(channel.id, message.thread_ts)] if message.thread_ts else message
        thread = [parent, *parent.replies]
        start = 0
        if cursor:
            after = self._cursor(cursor)
            start = next((i for i, m in enumerate(thread) if _ts_micros(m.ts) > after), len(thread))
        page = thread[start : start + limit]
        more = start + limit < len(thread)
        return {
            "ok": True,
            "messages": [m.wire(include_metadata=include_metadata) for m in page],
            "has_more": more,
            "response_metadata": {"next_cursor": _cursor_after(page[-1].ts) if more else ""},
        }

    def post_ephemeral(
        self, channel_ref: str, user: str, *, text: str = "", blocks: list[dict[str, Any]] | None = None
    ) -> str:
        channel = self._for_post(channel_ref)
        if channel.archived:
            raise SlackError("is_archived")
        if not channel.member:
            raise SlackError("not_in_channel")
        if not user:
            raise SlackError("user_not_found")
        ts = self.next_ts()
        self.ephemeral.append(
            {"channel": channel.id, "user": user, "text": text, "blocks": blocks or [], "ts": ts}
        )
        return ts

    def issue_response_url(self, response_id: str) -> None:
        """A response_url handed out now (with a slash command or an action): its 30 minutes start."""
        self._response_urls.setdefault(response_id, (self.options.clock(), 0))

    def use_response_url(self, response_id: str) -> str | None:
        """Count one use; the error Slack answers when the url is spent or expired, else None. "You can use
        a response_url five times within 30 minutes" (api.slack.com/interactivity/handling#message_responses);
        what Slack answers beyond that is not documented: 404 with `used_url` / `expired_url` here."""
        issued, uses = self._response_urls.get(response_id, (self.options.clock(), 0))
        self._response_urls[response_id] = (issued, uses + 1)
        if self.options.clock() - issued > RESPONSE_URL_SECONDS:
            return "expired_url"
        if uses >= RESPONSE_URL_USES:
            return "used_url"
        return None

    def record_response(self, response_id: str, body: Any) -> None:
        self.responses.append({"id": response_id, "body": body})

    # Inspection.
    def messages(self, channel: str) -> list[StubMessage]:
        """Top-level messages of a channel (id, name or #name), oldest first."""
        return list(self.channel(channel).messages)

    def message(self, channel: str, ts: str) -> StubMessage:
        found = self._messages.get((self.channel(channel).id, ts))
        if found is None:
            raise KeyError(f"no message {ts} in {channel}")
        return found

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every channel that has messages, by name: its messages as plain data."""
        return {
            channel.name: [message.as_dict() for message in channel.messages]
            for channel in self.channels.values()
            if channel.messages
        }

    def count(self, method: str, *, ok: bool | None = None) -> int:
        """How many calls of `method` were made (only successful ones with ok=True, failed with ok=False)."""
        return sum(
            1
            for call in self.calls
            if call.method == method and (ok is None or (call.status == 200 and call.error is None) is ok)
        )

    def reset(self) -> None:
        """Forget messages, calls, responses and faults; channels stay."""
        for channel in self.channels.values():
            channel.messages.clear()
        self._messages.clear()
        self.ephemeral.clear()
        self.responses.clear()
        self._response_urls.clear()
        self.rate.clear()
        self.orphans.clear()
        self.calls.clear()
        self.faults.clear()
        self.views.reset()


def metadata_or_error(value: object) -> dict[str, Any] | None:
    """Message metadata as Slack accepts it: `{"event_type": str, "event_payload": object}`."""
    if value is None:
        return None
    if (
        not isinstance(value, Mapping)
        or not isinstance(value.get("event_type"), str)
        or not isinstance(value.get("event_payload"), Mapping)
    ):
        raise SlackError("invalid_metadata_format")
    return {"event_type": value["event_type"], "event_payload": dict(value["event_payload"])}
