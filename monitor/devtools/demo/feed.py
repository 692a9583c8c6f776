"""What arrives at the Slack stand-in, as a feed for the demo's terminal: new top-level messages, thread
replies, edits, and the ephemeral answers to slash commands (response_url posts and chat.postEphemeral).

    feed = StubFeed(stub.state)
    for event in feed.new_events():      # each thing once, in the order Slack would show it
        console.print(render_event(event))

`blocks_lines` is the compact rendering of Block Kit used for it: the text of headers, sections, fields and
context elements, one line each, without the buttons.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from rich.console import Group, RenderableType
from rich.text import Text

from monitor.devtools.slackstub import StubState
from monitor.notify.text import terminal_safe

__all__ = ["SlackEvent", "StubFeed", "blocks_lines", "readable", "render_event"]

EventKind = Literal["post", "reply", "edit", "answer"]
_MAX_LINES = 6
_MAX_ANSWER_LINES = 14
_MAX_LINE = 150
_STYLE: dict[str, tuple[str, str]] = {
    "post": ("→", "bold cyan"),
    "reply": ("↳", "cyan"),
    "edit": ("✎", "yellow"),
    "answer": ("⇠", "magenta"),
}


@dataclass(frozen=True)
class SlackEvent:
    kind: EventKind
    #: "#name" of the channel; for an answer, where it was sent from (a response_url id or a channel).
    where: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    #: The message's ts (post, edit), its parent's (reply); empty for answers.
    ts: str = ""
    thread_ts: str = ""


class StubFeed:
    """Remembers what it has shown; `new_events` returns the rest."""

    def __init__(self, state: StubState) -> None:
        self.state = state
        self._posts: set[tuple[str, str]] = set()
        self._edits: dict[tuple[str, str], int] = {}
        self._answers = 0
        self._ephemeral = 0

    def new_events(self) -> list[SlackEvent]:
        dated: list[tuple[str, SlackEvent]] = []
        for channel in list(self.state.channels.values()):
            where = f"#{channel.name}"
            for message in list(channel.messages):
                key = (channel.id, message.ts)
                if key not in self._posts:
                    self._posts.add(key)
                    # Shown as it was first posted: later versions follow as edits.
                    first = message.edits[0] if message.edits else message
                    dated.append(
                        (message.ts, SlackEvent("post", where, first.text, first.blocks, message.ts))
                    )
                    self._edits.setdefault(key, 0)
                shown = self._edits[key]
                if len(message.edits) > shown:
                    self._edits[key] = len(message.edits)
                    edited = message.edited_ts or message.ts
                    dated.append(
                        (edited, SlackEvent("edit", where, message.text, message.blocks, message.ts))
                    )
                for reply in list(message.replies):
                    reply_key = (channel.id, reply.ts)
                    if reply_key not in self._posts:
                        self._posts.add(reply_key)
                        event = SlackEvent("reply", where, reply.text, reply.blocks, reply.ts, message.ts)
                        dated.append((reply.ts, event))
        events = [event for _, event in sorted(dated, key=lambda pair: pair[0])]
        responses = list(self.state.responses)
        for response in responses[self._answers :]:
            body = response.get("body")
            content = body if isinstance(body, dict) else {"text": str(body)}
            events.append(_answer(f"response_url {response.get('id', '?')}", content))
        self._answers = len(responses)
        ephemeral = list(self.state.ephemeral)
        for posted in ephemeral[self._ephemeral :]:
            place = self.state.channels.get(str(posted.get("channel")))
            events.append(_answer(f"#{place.name}" if place else "?", posted))
        self._ephemeral = len(ephemeral)
        return events


def _answer(where: str, content: dict[str, Any]) -> SlackEvent:
    blocks = content.get("blocks")
    return SlackEvent(
        "answer",
        where,
        str(content.get("text") or ""),
        [block for block in blocks if isinstance(block, dict)] if isinstance(blocks, list) else [],
    )


_DATE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
_LABELLED = re.compile(r"<(?:[^|<>]*)\|([^<>]*)>")
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}


def readable(mrkdwn: str) -> str:
    """mrkdwn as a person reads it in Slack: dates and links by their labels, escapes undone."""
    text = _LABELLED.sub(r"\1", _DATE.sub(r"\1", mrkdwn))
    return re.sub("&(lt|gt|amp);", lambda m: _ENTITIES[m.group(0)], text)


def _texts(block: dict[str, Any]) -> Iterable[str]:
    kind = block.get("type")
    text = block.get("text")
    if kind in ("header", "section") and isinstance(text, dict):
        yield str(text.get("text", ""))
    if kind == "section":
        for item in block.get("fields") or []:
            if isinstance(item, dict):
                yield str(item.get("text", ""))
    if kind == "context":
        parts = [str(e.get("text", "")) for e in block.get("elements") or [] if isinstance(e, dict)]
        yield "  ".join(part for part in parts if part)
    if kind == "rich_text":
        yield "(rich text)"


def blocks_lines(blocks: list[dict[str, Any]], *, limit: int = _MAX_LINES) -> list[str]:
    """The visible text of `blocks`, one line each (long ones cut), at most `limit` lines."""
    lines = [
        readable(line.strip())
        for block in blocks
        for text in _texts(block)
        for line in text.splitlines()
        if line.strip()
    ]
    cut = [line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 1] + "…" for line in lines]
    if len(cut) > limit:
        cut = [*cut[: limit - 1], f"… {len(cut) - limit + 1} more lines"]
    return cut


def _headline(event: SlackEvent) -> str:
    if event.kind == "post":
        return f"{event.where}  new message {event.ts}"
    if event.kind == "reply":
        return f"{event.where}  reply in the thread of {event.thread_ts}"
    if event.kind == "edit":
        return f"{event.where}  message {event.ts} edited"
    return f"/tasks answer, only the caller sees it ({event.where})"


def render_event(event: SlackEvent) -> RenderableType:
    arrow, style = _STYLE[event.kind]
    # Text(...), never markup, and terminal_safe: message texts carry task names, which are user data.
    parts: list[RenderableType] = [Text(f"{arrow} {_headline(event)}", style=style)]
    # An answer's text repeats its blocks; a message's is the notification line, worth seeing apart.
    if event.text and (event.kind != "answer" or not event.blocks):
        parts.append(Text(terminal_safe(f"  text: {readable(event.text)[:_MAX_LINE]}"), style="dim"))
    limit = _MAX_ANSWER_LINES if event.kind == "answer" else _MAX_LINES
    parts.extend(Text(terminal_safe(f"  │ {line}")) for line in blocks_lines(event.blocks, limit=limit))
    return Group(*parts)
