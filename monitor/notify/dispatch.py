"""The dispatcher: reads the outbox, claims each row just before sending it, hands it to a notifier, and
records the outcome.

    NEW rows of one channel and group  -> one post (a digest when there are several)
    rows that edit a message           -> update the message the alert's episode was posted as
    rows that notify otherwise         -> a reply in that message's thread (a fresh post if there is none)

Retrying lives here and only here: a `RetryableDeliveryError` puts the row back with a backoff (or the
server's Retry-After), a `PermanentDeliveryError` fails it for good and says so loudly. A row is marked sent
with the channel and ts of its message, so later updates and replies find it after a restart.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog

from monitor.decide import DecisionKind
from monitor.store.base import RETRY_HORIZON, MessageRef, OutboxRow, Store

__all__ = [
    "DeliveryError",
    "DispatchReport",
    "Dispatcher",
    "MessageRejectedError",
    "Notifier",
    "PermanentDeliveryError",
    "Posted",
    "RetryableDeliveryError",
]

log = structlog.get_logger(__name__)


class DeliveryError(Exception):
    """A notifier could not deliver."""


class RetryableDeliveryError(DeliveryError):
    """Try again later (rate limited, server error, network); `retry_after` in seconds when known.
    `maybe_delivered`: the request may have reached Slack and been acted on (a timeout, a dropped
    connection), so the retry of a post first looks whether the message is there."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, maybe_delivered: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.maybe_delivered = maybe_delivered


class PermanentDeliveryError(DeliveryError):
    """Trying again will not help (unknown channel, not in channel, invalid token): the channel, or every
    channel, refuses us, and selfwatch tells the ops channel (the message names the fix)."""


class MessageRejectedError(PermanentDeliveryError):
    """This one message was refused (too long, invalid blocks, its thread gone) even after the notifier's
    fallbacks: the row fails for good, loudly in the log, but the channel works, so no meta-alert."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


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


class Notifier(Protocol):
    """Where messages go: the console, Slack."""

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
        """The message that already shows this alert's episode, if the destination can tell."""
        ...

    async def find_reply(self, ref: MessageRef, row: OutboxRow) -> Posted | None:
        """The reply already posted for `row` in the thread of `ref`, if the destination can tell."""
        ...


@dataclass
class DispatchReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    messages: int = 0
    errors: list[str] = field(default_factory=list)
    #: Channels that took a message, and channels that refused one for good (the last error), for selfwatch.
    delivered_channels: set[str] = field(default_factory=set)
    refused_channels: dict[str, str] = field(default_factory=dict)


#: Marks a row's last_error when the failed attempt may have been delivered all the same; kept across later
#: failures of the row, so its next post looks in the channel first.
MAYBE_DELIVERED = "maybe delivered: "
#: Store meta key prefix: the channel id Slack answered a post to a channel name with (`#ops` -> `C0123`).
_CHANNEL_ID_KEY = "slack.channel_id:"
#: What `_post_group` answers when every row turned out to be posted already (and is recorded).
_ALREADY_RECORDED = Posted("", "")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _may_have_gone_out(row: OutboxRow) -> bool:
    """Claimed and never recorded (the sender died), or an attempt that may have got through: before
    posting it again, look whether the destination shows it."""
    return row.claimed_by is not None or (row.last_error or "").startswith(MAYBE_DELIVERED)


class Dispatcher:
    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        *,
        claimer: str,
        clock: Callable[[], datetime] = _utc_now,
        backoff_base: timedelta = timedelta(seconds=15),
        backoff_max: timedelta = timedelta(minutes=10),
        batch: int = 500,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.claimer = claimer
        self._clock = clock
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._batch = batch
        self._channel_ids: dict[str, str] = {}

    async def flush(self) -> DispatchReport:
        """Deliver every row that is due now; rows put back for a retry wait for a later flush."""
        report = DispatchReport()
        handled: set[int] = set()
        while True:
            now = self._clock()
            rows = [
                row for row in self.store.pending_outbox(now=now, limit=self._batch) if row.id not in handled
            ]
            if not rows:
                return report
            handled.update(row.id for row in rows)
            await self._deliver(rows, report)

    def _claim(self, rows: Sequence[OutboxRow]) -> list[OutboxRow]:
        """Claim rows just before sending them, never a whole batch up front: a sender stopped (SIGTERM,
        a crash) in the middle of a paced backlog leaves at most the message in flight claimed, and the
        rest is sent by the next start at once instead of after the claim lease. Rows another sender took
        meanwhile are left to it."""
        now = self._clock()
        return [row for row in rows if self.store.claim_outbox(row.id, claimer=self.claimer, now=now)]

    async def _deliver(self, rows: Sequence[OutboxRow], report: DispatchReport) -> None:
        posted_groups: set[tuple[str, str]] = set()
        for row in rows:
            entry = row.entry
            if entry.notify and entry.kind is DecisionKind.NEW:
                key = (entry.channel, entry.group_key)
                if key in posted_groups:
                    continue
                posted_groups.add(key)
                group = [
                    other
                    for other in rows
                    if other.entry.notify
                    and other.entry.kind is DecisionKind.NEW
                    and (other.entry.channel, other.entry.group_key) == key
                ]
                claimed = self._claim(group)
                if claimed:
                    await self._attempt(claimed, report, self._post_group)
            elif self._claim([row]):
                await self._attempt([row], report, self._post_single)

    async def _post_group(self, rows: Sequence[OutboxRow]) -> tuple[Posted, list[MessageRef]]:
        rows = await self._not_yet_posted(rows)
        if not rows:
            return _ALREADY_RECORDED, []
        posted = await self.notifier.post(rows[0].entry.channel, rows)
        refs = [
            MessageRef(
                row.entry.fingerprint,
                row.entry.episode,
                posted.channel,
                posted.ts_of(row.entry.fingerprint),
                posted.digest,
            )
            for row in rows
        ]
        return posted, refs

    async def _not_yet_posted(self, rows: Sequence[OutboxRow]) -> list[OutboxRow]:
        """Rows a previous sender claimed and never recorded may have been posted before it died: those the
        destination already shows are recorded as sent with that message instead of being posted again."""
        remaining = []
        for row in rows:
            entry = row.entry
            found = None
            if _may_have_gone_out(row):
                channel = self._channel_id(entry.channel)
                found = await self.notifier.find_posted(channel, entry.fingerprint, entry.episode)
            if found is None:
                remaining.append(row)
                continue
            log.info("notify.already_posted", fingerprint=entry.fingerprint, ts=found.ts)
            ref = MessageRef(entry.fingerprint, entry.episode, found.channel, found.ts, found.digest)
            now = self._clock()
            self.store.mark_sent([row.id], channel=found.channel, ts=found.ts, now=now, message_refs=[ref])
        return remaining

    async def _post_single(self, rows: Sequence[OutboxRow]) -> tuple[Posted, list[MessageRef]]:
        (row,) = rows
        entry = row.entry
        ref = self.store.message_ref(entry.fingerprint)
        if ref is not None and ref.episode != entry.episode:
            ref = None
        if entry.update_message and ref is not None:
            await self.notifier.update(ref, row)
        if not entry.notify:
            where = ref or MessageRef(entry.fingerprint, entry.episode, entry.channel, "")
            return Posted(where.channel, where.ts), []
        if ref is not None:
            found = await self.notifier.find_reply(ref, row) if _may_have_gone_out(row) else None
            if found is not None:
                log.info("notify.already_replied", fingerprint=entry.fingerprint, ts=found.ts)
                return found, []
            return await self.notifier.reply(ref, row), []
        # No message to reply to (first message of an episode whose NEW was never posted, e.g. muted).
        return await self._post_group(rows)

    async def _attempt(
        self,
        rows: Sequence[OutboxRow],
        report: DispatchReport,
        send: Callable[[Sequence[OutboxRow]], Awaitable[tuple[Posted, list[MessageRef]]]],
    ) -> None:
        ids = [row.id for row in rows]
        if not rows[0].entry.channel:
            self._fail(rows, "no channel: set the rule's channel or slack.default_channel", None, report)
            return
        try:
            posted, refs = await send(rows)
        except RetryableDeliveryError as exc:
            delay = self._backoff(rows[0].attempts, exc.retry_after)
            error = MAYBE_DELIVERED + str(exc) if exc.maybe_delivered else str(exc)
            self._fail(rows, error, self._clock() + delay, report)
            return
        except PermanentDeliveryError as exc:
            self._fail(rows, str(exc), None, report, refused=not isinstance(exc, MessageRejectedError))
            return
        if posted is not _ALREADY_RECORDED:
            # A group's refs name the rows it posted; rows found already posted were recorded on the way.
            covered = {ref.fingerprint for ref in refs}
            ids = [row.id for row in rows if not covered or row.entry.fingerprint in covered]
            self.store.mark_sent(
                ids, channel=posted.channel, ts=posted.ts, now=self._clock(), message_refs=refs
            )
            self._remember_channel(rows[0].entry.channel, posted.channel)
        report.sent += len(rows)
        report.messages += 1
        report.delivered_channels.add(rows[0].entry.channel)

    def _channel_id(self, channel: str) -> str:
        """The id Slack answered an earlier post to `channel` with, remembered across restarts: after a crash
        the history check needs it (Slack's history takes ids only). The name when none is known yet."""
        if channel not in self._channel_ids:
            known = self.store.get_meta(_CHANNEL_ID_KEY + channel)
            if known:
                self._channel_ids[channel] = known
        return self._channel_ids.get(channel, channel)

    def _remember_channel(self, channel: str, channel_id: str) -> None:
        if channel_id and channel_id != channel and self._channel_ids.get(channel) != channel_id:
            self.store.set_meta(_CHANNEL_ID_KEY + channel, channel_id)
            self._channel_ids[channel] = channel_id

    def _backoff(self, attempts: int, retry_after: float | None) -> timedelta:
        if retry_after is not None:
            # Clamped before timedelta: a notifier's "inf" or 1e300 must not raise OverflowError mid-flush.
            finite = retry_after if math.isfinite(retry_after) else RETRY_HORIZON.total_seconds()
            delay = timedelta(seconds=min(max(finite, 0.0), RETRY_HORIZON.total_seconds()))
        else:
            delay = min(self._backoff_base * (2 ** min(attempts, 16)), self._backoff_max)
        # Never past the store's horizon: a row scheduled further ahead would be taken as due at once.
        return min(delay, RETRY_HORIZON)

    def _fail(
        self,
        rows: Sequence[OutboxRow],
        error: str,
        retry_at: datetime | None,
        report: DispatchReport,
        *,
        refused: bool = True,
    ) -> None:
        now = self._clock()
        for row in rows:
            sticky = retry_at is not None and (row.last_error or "").startswith(MAYBE_DELIVERED)
            if sticky and not error.startswith(MAYBE_DELIVERED):
                error = MAYBE_DELIVERED + error
            self.store.mark_failed(row.id, error=error, now=now, retry_at=retry_at)
        if retry_at is None:
            report.failed += len(rows)
            report.errors.append(error)
            if refused:
                report.refused_channels[rows[0].entry.channel] = error
            log.error("notify.delivery_failed", error=error, rows=len(rows), channel=rows[0].entry.channel)
        else:
            report.retrying += len(rows)
            log.warning(
                "notify.delivery_retrying", error=error, rows=len(rows), retry_at=retry_at.isoformat()
            )
