"""Delivering into a chat with threads and editable messages (Slack, and the console that mirrors it): what
a `Notification` becomes there.

    new alerts (one, or a group)   -> one post (a digest when there are several)
    news about a posted episode    -> a reply in its message's thread, and that message edited when the row
                                      says `update_message`
    news about an episode never posted (muted at first, say) -> a post

Before sending a row again that an earlier attempt may have delivered (`Notification.uncertain`), it asks the
chat whether it is there (`find_posted`, `find_reply`), and records what it finds instead of sending twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from monitor.decide import DecisionKind
from monitor.notify.dispatch import Delivered, Notification, Record
from monitor.store.base import MessageRef, OutboxRow

__all__ = ["Chat", "Posted", "deliver_in_threads"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Posted:
    """Where a message went. A digest split over several messages says which alert is in which: `parts`
    maps fingerprints to the ts of their part (missing ones are in the message `ts`)."""

    channel: str
    ts: str
    parts: Mapping[str, str] = field(default_factory=dict)
    #: A digest of several alerts (never edited to show one of them); recorded with each alert's ref.
    digest: bool = False

    def ts_of(self, fingerprint: str) -> str:
        return self.parts.get(fingerprint, self.ts)


class Chat(Protocol):
    """Messages in channels, with threads and edits."""

    async def post(self, channel: str, rows: Sequence[OutboxRow]) -> Posted:
        """Post one message about `rows` (one alert, or a digest of several)."""
        ...

    async def reply(self, ref: MessageRef, row: OutboxRow) -> Posted:
        """Reply in the thread of the alert's message."""
        ...

    async def update(self, ref: MessageRef, row: OutboxRow) -> None:
        """Edit the alert's message to show its new state."""
        ...

    async def find_posted(self, channel: str, fingerprint: str, episode: int) -> Posted | None:
        """The message that already shows this alert's episode, if the chat can tell."""
        ...

    async def find_reply(self, ref: MessageRef, row: OutboxRow) -> Posted | None:
        """The reply already posted for `row` in the thread of `ref`, if the chat can tell."""
        ...


async def deliver_in_threads(chat: Chat, notification: Notification, record: Record) -> None:
    rows = notification.rows
    if notification.kind is DecisionKind.NEW and all(row.entry.notify for row in rows):
        await _post(chat, notification, record)
        return
    (row,) = rows
    entry, ref = row.entry, notification.earlier
    if entry.update_message and ref is not None:
        await chat.update(ref, row)
    if not entry.notify:
        where = ref or MessageRef(entry.fingerprint, entry.episode, entry.channel, "")
        record(Delivered((row.id,), where.channel, where.ts))
        return
    if ref is None:  # no message to reply to (the first message of an episode whose NEW was muted, say)
        await _post(chat, notification, record)
        return
    found = await chat.find_reply(ref, row) if row.id in notification.uncertain else None
    if found is not None:
        log.info("notify.already_replied", fingerprint=entry.fingerprint, ts=found.ts)
        record(Delivered((row.id,), found.channel, found.ts))
        return
    posted = await chat.reply(ref, row)
    record(Delivered((row.id,), posted.channel, posted.ts))


async def _post(chat: Chat, notification: Notification, record: Record) -> None:
    """One post about the rows the chat does not show yet; those it shows are recorded where they are."""
    remaining = []
    for row in notification.rows:
        entry = row.entry
        found = None
        if row.id in notification.uncertain:
            found = await chat.find_posted(notification.channel, entry.fingerprint, entry.episode)
        if found is None:
            remaining.append(row)
            continue
        log.info("notify.already_posted", fingerprint=entry.fingerprint, ts=found.ts)
        ref = MessageRef(entry.fingerprint, entry.episode, found.channel, found.ts, found.digest)
        record(Delivered((row.id,), found.channel, found.ts, (ref,)))
    if not remaining:
        return
    posted = await chat.post(notification.channel, remaining)
    refs = tuple(
        MessageRef(
            row.entry.fingerprint,
            row.entry.episode,
            posted.channel,
            posted.ts_of(row.entry.fingerprint),
            posted.digest,
        )
        for row in remaining
    )
    record(Delivered(tuple(row.id for row in remaining), posted.channel, posted.ts, refs))
