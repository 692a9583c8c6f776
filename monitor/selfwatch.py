"""Watching itself: one meta-alert when the monitor cannot do its job, and one recovery when it can again.

    check              fires                                                    heals
    workspace          auth rejected (401/403), wrong endpoint                  a complete cycle
                       (APIGW.0101, a 404 not from Workspace): at once;
                       unreachable, 5xx, throttled, garbage, incomplete
                       listing: after `threshold` cycles in a row
    slack:<channel>    Slack refused a delivery to <channel> for good           a delivery to <channel>
                       (channel_not_found, not_in_channel, invalid_auth, ...)

`observe` is the whole decision, a pure function over plain data (tested as a table). `SelfWatch` puts it
at the edges: it reads each check's state from the store's meta table and writes the new state together
with the meta-alert's outbox row in ONE transaction, so a meta-alert survives restarts, is never sent twice
for one episode and is never lost. Meta-alerts go to `slack.ops_channel` (default: `slack.default_channel`);
one about Slack refusing a channel therefore goes elsewhere whenever the ops channel is another one.

An outbox row of a meta-alert carries a payload with `"meta": true` (see `meta_payload`); renderers
(`slack/meta.py`, `notify/text.py`) recognise it with `notify.payload.is_meta`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import structlog

from monitor.decide import DecisionKind
from monitor.store.base import CycleChanges, OutboxEntry, Store
from monitor.workspace.errors import AuthError, ConfigurationError, WorkspaceError

__all__ = [
    "DEFAULT_THRESHOLD",
    "WORKSPACE_CHECK",
    "CheckState",
    "Event",
    "Outcome",
    "SelfWatch",
    "check_title",
    "meta_payload",
    "observe",
    "slack_check",
    "workspace_check",
]

log = structlog.get_logger(__name__)

#: Failing cycles in a row before the Workspace API is reported down (auth rejections report at once).
DEFAULT_THRESHOLD = 3
WORKSPACE_CHECK = "workspace"
_META_KEY_PREFIX = "selfwatch:"
_FINGERPRINT_PREFIX = "meta:"


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "failed"  # may heal by itself: counts towards the threshold
    REJECTED = "rejected"  # will not heal until someone acts: fires at once


class Event(StrEnum):
    FIRING = "FIRING"
    RECOVERED = "RECOVERED"


@dataclass(frozen=True)
class CheckState:
    """What the monitor remembers about one check between cycles and restarts."""

    failures: int = 0  # failed observations in a row
    firing: bool = False
    episode: int = 0  # how many times it has fired; the meta-alert's fingerprint + episode is its identity
    since: str | None = None  # ISO time of the first failure of the current streak
    error: str | None = None  # the latest error

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> CheckState:
        """The stored state; a missing or unreadable value is a fresh check (logged by the caller)."""
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            failures=int(data.get("failures", 0)),
            firing=bool(data.get("firing", False)),
            episode=int(data.get("episode", 0)),
            since=data.get("since"),
            error=data.get("error"),
        )


def observe(
    state: CheckState, outcome: Outcome, *, error: str | None, now: datetime, threshold: int
) -> tuple[CheckState, Event | None]:
    """The check's next state, and the event to announce (at most one FIRING per streak, one RECOVERED)."""
    if outcome is Outcome.OK:
        if state.firing:
            return CheckState(episode=state.episode), Event.RECOVERED
        return (CheckState(episode=state.episode), None) if state.failures else (state, None)
    failures = state.failures + 1
    since = state.since or now.isoformat()
    if state.firing:
        return replace(state, failures=failures, error=error), None
    if outcome is Outcome.REJECTED or failures >= threshold:
        fired = CheckState(failures, True, state.episode + 1, since, error)
        return fired, Event.FIRING
    return CheckState(failures, False, state.episode, since, error), None


def slack_check(channel: str) -> str:
    return f"slack:{channel}"


def workspace_check(project: str | None = None) -> str:
    """The check of the Workspace API; of one project's, when a daemon watches several."""
    return WORKSPACE_CHECK if project is None else f"{WORKSPACE_CHECK}:{project}"


def check_title(check: str) -> str:
    """What a check watches, in words (no user data: a channel name is shown escaped by the renderer)."""
    if check == WORKSPACE_CHECK:
        return "Workspace API"
    if check.startswith(f"{WORKSPACE_CHECK}:"):
        return f"Workspace API of project {check.removeprefix(f'{WORKSPACE_CHECK}:')}"
    if check.startswith("slack:pagerduty:"):  # a `pagerduty:` channel's receiver (monitor.pagerduty)
        return "PagerDuty escalation"
    if check.startswith("slack:"):
        return f"Slack delivery to {check.removeprefix('slack:')}"
    return check


def meta_payload(check: str, state: CheckState, event: Event, *, now: datetime) -> dict[str, Any]:
    """The outbox payload of a meta-alert (FIRING) or its recovery, plain JSON-able data."""
    firing = event is Event.FIRING
    return {
        "version": 1,
        "meta": True,
        "kind": str(DecisionKind.NEW if firing else DecisionKind.RESOLVED),
        "check": check,
        "title": check_title(check),
        "fingerprint": _FINGERPRINT_PREFIX + check,
        "episode": state.episode,
        "alert_status": "firing" if firing else "resolved",
        "error": state.error,
        "failures": state.failures,
        "since": state.since,
        "decided_at": now.isoformat(),
    }


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SelfWatch:
    """Feeds cycle and delivery outcomes to `observe`, and persists what it decides (state + outbox)."""

    def __init__(
        self,
        store: Store,
        *,
        ops_channel: str | None,
        threshold: int = DEFAULT_THRESHOLD,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.store = store
        self.ops_channel = ops_channel
        self.threshold = threshold
        self._clock = clock

    def cycle_succeeded(
        self, *, complete: bool, problems: Iterable[str] = (), check: str = WORKSPACE_CHECK
    ) -> None:
        if complete:
            self.observe(check, Outcome.OK)
        else:
            # A listing that missed pages is the API failing too, just not entirely.
            first = next(iter(problems), "the listing was incomplete")
            self.observe(check, Outcome.FAILED, error=f"incomplete listing: {first}")

    def cycle_failed(self, error: WorkspaceError, *, check: str = WORKSPACE_CHECK) -> None:
        rejected = isinstance(error, AuthError | ConfigurationError)
        outcome = Outcome.REJECTED if rejected else Outcome.FAILED
        self.observe(check, outcome, error=str(error))

    def deliveries(self, delivered: Iterable[str], refused: Mapping[str, str]) -> None:
        """Channels that took a message this flush, and channels that refused one for good (with why)."""
        refused = {channel: error for channel, error in refused.items() if channel}  # "": no channel set
        for channel in sorted(set(delivered) - set(refused)):
            self.observe(slack_check(channel), Outcome.OK)
        for channel, error in sorted(refused.items()):
            self.observe(slack_check(channel), Outcome.REJECTED, error=error)

    def state(self, check: str) -> CheckState:
        text = self.store.get_meta(_META_KEY_PREFIX + check)
        try:
            return CheckState.from_json(text)
        except (ValueError, TypeError, AttributeError):
            log.warning("selfwatch.state_unreadable", check=check)
            return CheckState()

    def observe(self, check: str, outcome: Outcome, *, error: str | None = None) -> Event | None:
        """Decide and persist; StoreError propagates (the caller logs it and carries on)."""
        now = self._clock()
        before = self.state(check)
        after, event = observe(before, outcome, error=error, now=now, threshold=self.threshold)
        if after == before:
            return None
        outbox: list[OutboxEntry] = []
        if event is not None:
            log_event = log.error if event is Event.FIRING else log.warning
            log_event(
                f"selfwatch.{event.lower()}", check=check, error=after.error or before.error,
                episode=after.episode, ops_channel=self.ops_channel,
            )  # fmt: skip
            if self.ops_channel:
                # A recovery tells what was wrong: the state before it.
                payload = meta_payload(check, after if event is Event.FIRING else before, event, now=now)
                outbox.append(self._entry(check, payload, event, now))
            else:
                log.error("selfwatch.no_ops_channel", check=check, fix="set slack.ops_channel")
        self.store.apply_cycle(CycleChanges(outbox=outbox, meta={_META_KEY_PREFIX + check: after.to_json()}))
        return event

    def _entry(self, check: str, payload: dict[str, Any], event: Event, now: datetime) -> OutboxEntry:
        firing = event is Event.FIRING
        return OutboxEntry(
            fingerprint=str(payload["fingerprint"]),
            episode=int(payload["episode"]),
            kind=DecisionKind.NEW if firing else DecisionKind.RESOLVED,
            channel=self.ops_channel or "",
            payload=payload,
            created_at=now,
            # Its own group: a meta-alert is never folded into a digest of task alerts.
            group_key=f"selfwatch={check}",
            notify=True,
            # The recovery edits the meta-alert's message and replies in its thread, like a task's.
            update_message=not firing,
        )
