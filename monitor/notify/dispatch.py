"""The dispatcher: reads the outbox, claims each row just before sending it, hands it to the receiver (a
`Notifier`) as a `Notification`, and records where the receiver says it went.

    NEW rows of one channel and group  -> one notification (the receiver may show them as one digest)
    any other row                      -> one notification about its alert, with where the alert's episode
                                          was delivered before (`earlier`), if it was

What a receiver does with a notification is its own business: Slack posts, replies in the thread of the
earlier message and edits it (`monitor.slack`); a receiver without threads would just send. It records each
message as soon as it is out (`record`), with the refs later notifications of the episode get as `earlier`.

Receivers are keyed by their kind. A row goes to the receiver its channel names as `kind:target` (a
`webhook:ops` to the `webhook` receiver), and to the first receiver (Slack, or the console) otherwise.

Retrying lives here and only here: a `RetryableDeliveryError` puts the row back with a backoff (or the
server's Retry-After), a `PermanentDeliveryError` fails it for good and says so loudly. A row is marked sent
with the channel and ts of its message, so later updates and replies find it after a restart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog

from monitor.decide import DecisionKind
from monitor.store.base import RETRY_HORIZON, MessageRef, OutboxRow, Store

__all__ = [
    "MAYBE_DELIVERED",
    "Delivered",
    "DeliveryError",
    "DispatchReport",
    "Dispatcher",
    "Memo",
    "MessageRejectedError",
    "Notification",
    "Notifier",
    "PermanentDeliveryError",
    "Record",
    "RetryableDeliveryError",
    "StoreMemo",
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
class Notification:
    """What the dispatcher asks a receiver to deliver: the news about one alert, or several new alerts of one
    channel and group.

    `earlier` is where this alert's episode was delivered before (None when it never was): a receiver with
    threads replies there, and edits it when the row says `update_message`. `uncertain` names the rows an
    earlier attempt may have delivered (its sender died before recording, or got no answer): a receiver
    that can tell looks whether they arrived before sending them again."""

    kind: DecisionKind
    channel: str
    rows: tuple[OutboxRow, ...]
    earlier: MessageRef | None = None
    uncertain: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Delivered:
    """Rows `row_ids` went out in (or were found in) the message `ts` of `channel`; `refs` are the messages
    that later notifications of their episodes get as `earlier`."""

    row_ids: tuple[int, ...]
    channel: str
    ts: str
    refs: tuple[MessageRef, ...] = ()


#: How a receiver reports each message it delivered (or found delivered already), at once: what it records
#: stays recorded even when a later message of the same notification fails.
Record = Callable[[Delivered], None]


class Memo(Protocol):
    """What a receiver keeps across restarts (in the store's meta table, under the receiver's kind)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...


@dataclass(frozen=True)
class StoreMemo:
    store: Store
    prefix: str

    def get(self, key: str) -> str | None:
        return self.store.get_meta(self.prefix + key)

    def set(self, key: str, value: str) -> None:
        self.store.set_meta(self.prefix + key, value)


class Notifier(Protocol):
    """A receiver: where notifications go (the console, Slack). A kind and its payloads in, where each went
    out (`record`) or a `DeliveryError`."""

    @property
    def kind(self) -> str:
        """Names the receiver (`slack`): its memo keys start with it."""
        ...

    async def deliver(self, notification: Notification, record: Record, memo: Memo) -> None:
        """Deliver `notification`, calling `record` for each message as soon as it is out."""
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
        receivers: Sequence[Notifier] = (),
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
        # Rows this sender tried to claim and has not begun to send: a flush that fails in between (the
        # database gone as the claim commits, or just after) leaves them claimed by us, and nobody would
        # send them before the claim lease ran out. The next flush gives them back first.
        self._unsent_claims: set[int] = set()
        #: The receivers chosen by a channel's `kind:` prefix, beside `notifier` for every other channel.
        self.receivers: dict[str, Notifier] = {}
        for receiver in receivers:
            if receiver.kind in self.receivers or receiver.kind == notifier.kind:
                raise ValueError(f"two receivers of kind {receiver.kind!r}")
            self.receivers[receiver.kind] = receiver

    def receiver(self, channel: str) -> Notifier:
        """The receiver of rows for `channel`: the one its `kind:` prefix names, else `notifier`."""
        kind, sep, _ = channel.partition(":")
        return self.receivers.get(kind, self.notifier) if sep else self.notifier

    async def flush(self) -> DispatchReport:
        """Deliver every row that is due now; rows put back for a retry wait for a later flush."""
        report = DispatchReport()
        self._release_unsent_claims()
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
        self._unsent_claims.update(row.id for row in rows)
        claimed = [row for row in rows if self.store.claim_outbox(row.id, claimer=self.claimer, now=now)]
        taken = {row.id for row in claimed}
        self._unsent_claims.difference_update(row.id for row in rows if row.id not in taken)
        return claimed

    def _release_unsent_claims(self) -> None:
        """Give back the claims a failed flush left unused (see `_unsent_claims`): never sent, so pending."""
        now = self._clock()
        for row_id in sorted(self._unsent_claims):
            if self.store.release_claim(row_id, claimer=self.claimer, now=now):
                log.info("dispatch.claim_released", row_id=row_id)
            self._unsent_claims.discard(row_id)

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
                    await self._attempt(self._notification(claimed, earlier=None), report)
            elif self._claim([row]):
                ref = self.store.message_ref(entry.fingerprint)
                earlier = ref if ref is not None and ref.episode == entry.episode else None
                await self._attempt(self._notification([row], earlier=earlier), report)

    @staticmethod
    def _notification(rows: Sequence[OutboxRow], *, earlier: MessageRef | None) -> Notification:
        return Notification(
            kind=rows[0].entry.kind,
            channel=rows[0].entry.channel,
            rows=tuple(rows),
            earlier=earlier,
            uncertain=frozenset(row.id for row in rows if _may_have_gone_out(row)),
        )

    def _record(self, delivered: Delivered) -> None:
        self.store.mark_sent(
            list(delivered.row_ids),
            channel=delivered.channel,
            ts=delivered.ts,
            now=self._clock(),
            message_refs=list(delivered.refs),
        )

    async def _attempt(self, notification: Notification, report: DispatchReport) -> None:
        rows = notification.rows
        if not notification.channel:
            self._fail(rows, "no channel: set the rule's channel or slack.default_channel", None, report)
            self._unsent_claims.difference_update(row.id for row in rows)
            return
        # From here on the rows may go out: their claims hold until recorded (or the lease runs out).
        self._unsent_claims.difference_update(row.id for row in rows)
        try:
            receiver = self.receiver(notification.channel)
            await receiver.deliver(notification, self._record, StoreMemo(self.store, f"{receiver.kind}."))
        except RetryableDeliveryError as exc:
            delay = self._backoff(rows[0].attempts, exc.retry_after)
            error = MAYBE_DELIVERED + str(exc) if exc.maybe_delivered else str(exc)
            self._fail(rows, error, self._clock() + delay, report)
            return
        except PermanentDeliveryError as exc:
            self._fail(rows, str(exc), None, report, refused=not isinstance(exc, MessageRejectedError))
            return
        report.sent += len(rows)
        report.messages += 1
        report.delivered_channels.add(notification.channel)

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
