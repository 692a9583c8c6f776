"""What every store backend offers (`Store`), and the plain values it trades in.

The store keeps alert state and the outbox, written together so that a crash loses nothing: the engine hands
one cycle's changes to `apply_cycle`, which writes them in ONE transaction; the dispatcher only reads the
outbox. Claiming an outbox row is a conditional UPDATE, so two senders (HA, later) never take the same row.

Calls are synchronous and may come from several threads; each is its own transaction. Errors are the
`monitor.store.errors` tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from monitor.decide import AlertState, DecisionKind
from monitor.history import Sighting, TaskDay
from monitor.silences import Silence

__all__ = [
    "CLAIM_SKEW",
    "RETRY_HORIZON",
    "CycleChanges",
    "MessageRef",
    "OutboxEntry",
    "OutboxRow",
    "OutboxState",
    "Store",
]

#: No retry is scheduled further ahead than RETRY_HORIZON, and a claim is stamped with the claimer's now (give
#: or take CLAIM_SKEW between replicas). A row further ahead was written before the clock stepped back (NTP)
#: and is due at once: otherwise a step back of an hour would hold a queued alert back for an hour.
RETRY_HORIZON = timedelta(minutes=15)
CLAIM_SKEW = timedelta(minutes=1)


class OutboxState(StrEnum):
    PENDING = "pending"  # waiting to be sent (again, after a retryable failure)
    CLAIMED = "claimed"  # a sender took it; back to the pool if its lease runs out unsent
    SENT = "sent"
    FAILED = "failed"  # permanently: retrying would not help


class OutboxEntry(NamedTuple):
    """What to deliver about one alert, as the engine writes it from a Decision. `payload` is JSON-able.
    A NamedTuple, as decide's values: a mass failure's cycle builds tens of thousands (bench/engine.py)."""

    fingerprint: str
    episode: int
    kind: DecisionKind
    channel: str
    payload: Mapping[str, Any]
    created_at: datetime
    #: Rows with the same channel and group key may be sent as one digest message.
    group_key: str = ""
    #: Decision.notify: post (NEW) or reply in the thread. Decision.update_message: edit the posted message.
    notify: bool = True
    update_message: bool = False


@dataclass(frozen=True)
class OutboxRow:
    """An outbox row as stored, with its delivery bookkeeping."""

    id: int
    entry: OutboxEntry
    state: OutboxState
    attempts: int
    next_attempt_at: datetime
    claimed_by: str | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class MessageRef:
    """Where the message of an alert's episode is in Slack, for chat.update and thread replies."""

    fingerprint: str
    episode: int
    channel: str
    ts: str
    #: Whether that message is a digest of several alerts (then it is never edited to show one of them);
    #: None for a ref stored before this was recorded, or learned from the channel's history.
    digest: bool | None = None


@dataclass(frozen=True)
class CycleChanges:
    """Everything one cycle writes: applied all together or not at all."""

    alerts: Sequence[AlertState] = ()
    outbox: Sequence[OutboxEntry] = ()
    meta: Mapping[str, str] = field(default_factory=dict)


class Store(Protocol):
    """Alert state, outbox, message refs, runtime silences, acks and a small key/value table."""

    def close(self) -> None: ...

    def schema_version(self) -> int: ...

    # Alert state.
    def load_alerts(self, fingerprints: Iterable[str]) -> dict[str, AlertState]:
        """Stored states (open or closed) of these alerts, by fingerprint; unknown ones are left out."""
        ...

    def load_open_alerts(self) -> dict[str, AlertState]: ...

    def apply_cycle(self, changes: CycleChanges) -> None:
        """Upsert the alert states, append the outbox entries and set the meta keys, in one transaction."""
        ...

    def acknowledge(self, fingerprint: str, *, by: str, at: datetime) -> bool:
        """Acknowledge the current occurrence of an open alert; False when there is no such open alert."""
        ...

    # Outbox.
    def pending_outbox(self, *, now: datetime, limit: int = 100) -> list[OutboxRow]:
        """Rows due for sending, oldest first: pending ones due by `now` and claims whose lease ran out.
        A row waits while an older row of the same alert for the same receiver is unsent, so each alert's
        messages keep order; a `kind:target` channel (pagerduty:oncall) is its own receiver's and does not
        wait for Slack's rows (nor they for it)."""
        ...

    def claim_outbox(self, row_id: int, *, claimer: str, now: datetime) -> bool:
        """Take a due row for sending; False when it is not due or another sender holds it."""
        ...

    def mark_sent(
        self,
        row_ids: Sequence[int],
        *,
        channel: str,
        ts: str,
        now: datetime,
        message_refs: Sequence[MessageRef] = (),
    ) -> None:
        """Record claimed rows as sent in one message (channel, ts), and the refs that message creates."""
        ...

    def mark_failed(self, row_id: int, *, error: str, now: datetime, retry_at: datetime | None) -> None:
        """Record a failed send: pending again from `retry_at`, or failed for good when it is None."""
        ...

    def release_claim(self, row_id: int, *, claimer: str, now: datetime) -> bool:
        """Give back a claim of `claimer`'s that was never used to send (pending again at once); False when
        the row is not claimed by `claimer` (never claimed, or taken over since)."""
        ...

    def prune_outbox(self, *, before: datetime) -> int:
        """Delete the rows sent (or failed for good) before `before`; how many. Unsent rows always stay."""
        ...

    def message_ref(self, fingerprint: str) -> MessageRef | None: ...

    # Runtime silences (the rule file's live in the RuleSet).
    def add_silence(self, silence: Silence) -> None: ...

    def silences(self) -> list[Silence]:
        """Every stored silence, expired ones included (they no longer mute), oldest first."""
        ...

    def delete_silence(self, silence_id: str) -> bool: ...

    # Small state of the daemon: last poll, cursor positions.
    def claim_action(self, key: str, ttl: timedelta, now: datetime) -> bool:
        """Claim the action `key` (one per alert and record, say) for `ttl`: True for exactly one of any
        number of claimers, in any process, until the claim expires or is released; then the next wins."""
        ...

    def release_action(self, key: str) -> None:
        """End a claim early (the action is over); unknown keys are ignored."""
        ...

    def prune_action_claims(self, *, now: datetime) -> int:
        """Forget expired claims; how many."""
        ...

    # Run history (monitor.history): what reports read.
    def record_runs(self, project: str, sightings: Iterable[Sighting], now: datetime) -> int:
        """Count the runs these sightings show since each task's stored mark into the daily summary, and
        move the marks, in one transaction (a sighting counted once is never counted again); how many runs.
        `sightings` is taken once, as it is written (it may be a generator)."""
        ...

    def task_days(self, first: str, end: str) -> list[TaskDay]:
        """The daily summary's rows of the days `first` (yyyy-mm-dd) up to `end` (excluded), by day."""
        ...

    def task_totals(self, first: str, end: str) -> list[TaskDay]:
        """The summary of the days `first` up to `end` (excluded) per task, each dated `first`."""
        ...

    def prune_history(self, *, before: datetime) -> int:
        """Forget the summary's days before `before` (and marks of tasks not run since, and report firings
        queued before it); how many days."""
        ...

    def report_queued(self, key: str) -> bool:
        """Whether the report firing `key` was queued already."""
        ...

    def queue_report(self, key: str, entry: OutboxEntry) -> bool:
        """Queue the report firing `key` as the outbox row `entry`, unless it was queued before (by this
        replica or another): the two in one transaction, so a firing is posted once. True when queued now."""
        ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...
