"""The alert lifecycle as one pure function: `decide(previous, observation, rule, ...) -> Decision`.

An alert is one (rule, task) pair, identified by `alert_fingerprint(rule, project, task_id)`. Each cycle the
engine observes the task and asks `decide` what that means, given the alert's previous state:

    previous alert           this cycle's observation             decision
    -----------------------  -----------------------------------  -------------------------------------------
    none / closed            failing, below min_failures          NONE      pending, counting failures
    none / closed / pending  failing, min_failures reached        NEW       posted once
    closed                   failing, the record it closed on     NONE      that execution was handled already
    open                     failing, same execution              NONE      until repeat_interval has passed
                                                                  REPEAT    since the last message (never when
                                                                            acknowledged, or interval 0)
    open                     failing, a later execution           RECURRED  occurrence count + 1
    open                     FAIL <-> SKIP                        CHANGED
    open, never posted       failing, its silence has ended       NEW       announced now
    open / new               anything to send, while silenced     MUTED     recorded, not sent
    open                     succeeded (confirmed)                RESOLVED  announced if notify_resolved
    open                     deleted (confirmed), disabled, not   CLOSED    quietly
                             matched any more, rule removed
    open                     absent from the listing, or an       NONE      needs_confirmation: the engine
                             unconfirmed success                            looks the task up, decides again
    open                     not failing, listing incomplete      NONE      an incomplete cycle closes nothing

A missed run (monitor.overdue) is an alert of its own, with its own fingerprint (`overdue_fingerprint`) and
`last_status` OVERDUE: it follows the same table with OVERDUE for "failing" (fires at once, whatever
min_failures says; a later missed run is RECURRED) and ON_SCHEDULE, which resolves it, for "succeeded": the
task's `next_execution_time` moved on, or an execution started since the missed one.

The occurrence is the execution that failed: the latest execution record's id when the records API answered,
otherwise the pair (last_status, next_execution_time) from the listing, which changes with every execution.
A state remembers both, so a cycle without records does not mistake the same execution for a new one.

Acknowledgements belong to one occurrence: the store keeps them apart from the state (keyed by fingerprint,
episode and occurrence) and fills `AlertState.acknowledged_by` when loading, so an ack that arrives while a
cycle runs is never overwritten by it.

The engine's cycle, in short:

    for task in listing, for route in rules.index.match(ruleset, task, project):
        decide(state, Observation.from_listing(task, project, latest_record=...), route.rule, ...)
    unseen = unseen_alerts(open states, fingerprints decided above, ids of the listed tasks)
    for alert in unseen.still_listed:
        decide(alert, Observation.unmatched(task, project), ...)
    for alert in unseen.resolve_candidates:
        decide(alert, Observation.not_listed(alert.task_id, project), ...); when that needs_confirmation,
        look the task up, then decide(alert, Observation.looked_up(..., exists=..., last_status=...), ...)
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Literal, NamedTuple

from monitor.durations import format_duration
from monitor.rules.matcher import ALERTABLE_STATUSES
from monitor.rules.model import Rule
from monitor.silences import Silence
from monitor.workspace.models import ExecutionRecord, ScheduledTask

__all__ = [
    "OVERDUE_STATUS",
    "AlertState",
    "AlertStatus",
    "Decision",
    "DecisionKind",
    "Observation",
    "Occurrence",
    "TaskCondition",
    "UnseenAlerts",
    "alert_fingerprint",
    "consecutive_failures",
    "decide",
    "overdue_fingerprint",
    "unseen_alerts",
]

#: The `last_status` of a missed-run alert (an AlertState's, a payload's task): never one the API sends.
OVERDUE_STATUS = "OVERDUE"


class DecisionKind(StrEnum):
    NEW = "NEW"
    REPEAT = "REPEAT"
    RECURRED = "RECURRED"
    CHANGED = "CHANGED"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"
    MUTED = "MUTED"
    NONE = "NONE"
    #: Not decided by a cycle: a person acknowledged the alert in Slack (only escalations are told).
    ACKNOWLEDGED = "ACKNOWLEDGED"
    #: Not about an alert: a scheduled report (monitor.reports), queued once per period by the leader.
    REPORT = "REPORT"


class AlertStatus(StrEnum):
    PENDING = "pending"  # failing, fewer consecutive failures than min_failures: nothing posted
    FIRING = "firing"  # failing and alerting (posted, or held back by a silence)
    RESOLVED = "resolved"
    CLOSED = "closed"


class TaskCondition(StrEnum):
    FAILING = "failing"  # listed with FAIL or SKIP, enabled, matched by the rule
    NOT_LISTED = "not_listed"  # absent from this cycle's FAIL/SKIP listing: recovered, deleted, or missed
    SUCCEEDED = "succeeded"  # its latest execution succeeded
    DELETED = "deleted"
    DISABLED = "disabled"
    UNMATCHED = "unmatched"  # listed and failing, but the rule no longer matches it (rules were edited)
    UNRESOLVED = "unresolved"  # looked up: still failing or in an unknown state, so nothing to close
    OVERDUE = "overdue"  # enabled, scheduled, its next_execution_time passed overdue_after ago, no run since
    ON_SCHEDULE = "on_schedule"  # not overdue (any more): its next run is ahead, or a run started since


# The values built per task and per alert (Occurrence, Observation, AlertState, Decision) are NamedTuples,
# not frozen dataclasses: a large cycle builds tens of thousands of each, and a NamedTuple is built, and
# `_replace`d, several times faster. They are just as immutable.

_OPEN = frozenset({AlertStatus.PENDING, AlertStatus.FIRING})
_EDITS_MESSAGE = frozenset({DecisionKind.RECURRED, DecisionKind.CHANGED})
_RAISING = frozenset({TaskCondition.FAILING, TaskCondition.OVERDUE})


# Cached: each cycle asks for the fingerprint of every (rule, task) pair two or three times (to load the
# states, in evaluate, in decide for a new alert), and mostly for the pairs of the cycle before.
@lru_cache(maxsize=1 << 16)
def alert_fingerprint(rule_name: str, project: str, task_id: str) -> str:
    """Stable id of the alert of `rule_name` for one task of `project` (16 hex digits)."""
    # The unit separator keeps the parts apart; rule names cannot contain it (see rules._RULE_NAME).
    identity = f"{rule_name}\x1f{project}\x1f{task_id}"
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


@lru_cache(maxsize=1 << 12)
def overdue_fingerprint(rule_name: str, project: str, task_id: str) -> str:
    """Stable id of the missed-run alert of `rule_name` for one task: apart from its failure alert, so a
    task can be both failing and overdue (and a PagerDuty incident each)."""
    return alert_fingerprint(f"{rule_name}\x1e{OVERDUE_STATUS}", project, task_id)


def consecutive_failures(records: Iterable[ExecutionRecord]) -> int:
    """How many of the latest executions failed or were skipped in a row (records in any order).

    Record statuses are undocumented beyond these: a status other than SUCCESS, FAIL and SKIP (a run still
    going, a value new to us) is not a success, so it does not end the streak, nor is it counted in it."""
    records = records if isinstance(records, list | tuple) else list(records)
    newest_first: Sequence[ExecutionRecord] = records
    # The API lists records newest first: sort only when they are not (a cycle asks this of every failing
    # task, so the check is one C-level comparison of the start times with their own sorted copy).
    if len(records) > 1:
        starts = [record.start_time for record in records]
        if None in starts or starts != sorted(starts, reverse=True):  # type: ignore[type-var]
            newest_first = sorted(records, key=lambda record: record.start_time or "", reverse=True)
    count = 0
    for record in newest_first:
        if record.status == "SUCCESS":
            break
        if record.status in ALERTABLE_STATUSES:
            count += 1
    return count


class Occurrence(NamedTuple):
    """Which execution a failure belongs to.

    `record_id` is the latest execution record's id when the records API answered; without it (forbidden,
    failed) the occurrence is known only by (`last_status`, `next_execution_time`), which both move when the
    task runs again.
    """

    last_status: str
    next_execution_time: str | None = None
    record_id: str | None = None

    @property
    def identified_by(self) -> Literal["record", "listing"]:
        return "record" if self.record_id is not None else "listing"


class Observation(NamedTuple):
    """What this cycle saw of one task of one project. Build it with the class methods, which keep the
    invariant that a FAILING observation, and only that, carries an occurrence."""

    task_id: str
    project: str
    condition: TaskCondition
    task_name: str | None = None
    occurrence: Occurrence | None = None
    #: The condition was seen by looking at the task itself this cycle (get_task, its latest record), not
    #: inferred from a listing. Only a confirmed success resolves and only a confirmed deletion closes.
    confirmed: bool = False
    #: Consecutive failing executions according to the records API; None when unknown (then counted here).
    consecutive_failures: int | None = None

    @classmethod
    def from_listing(
        cls,
        task: ScheduledTask,
        project: str,
        *,
        latest_record: ExecutionRecord | None = None,
        consecutive_failures: int | None = None,
    ) -> Observation:
        """A task as the listing shows it, with its latest execution record when the records API answered
        (None when it was forbidden or failed: the occurrence is then known from the listing alone)."""
        if task.enable is False:
            return cls(task.id, project, TaskCondition.DISABLED, task.task_name)
        if task.last_status in ALERTABLE_STATUSES:
            record_id = latest_record.id if latest_record is not None else None
            occurrence = Occurrence(task.last_status, task.next_execution_time, record_id)
            return cls(
                task.id,
                project,
                TaskCondition.FAILING,
                task.task_name,
                occurrence,
                False,
                consecutive_failures,
            )
        if task.last_status == "SUCCESS":
            return cls(task.id, project, TaskCondition.SUCCEEDED, task.task_name)
        return cls(task.id, project, TaskCondition.UNRESOLVED, task.task_name)

    @classmethod
    def overdue(cls, task: ScheduledTask, project: str) -> Observation:
        """A task that missed the run due at its `next_execution_time` (monitor.overdue.missed_run said so):
        that due time is the occurrence."""
        occurrence = Occurrence(OVERDUE_STATUS, task.next_execution_time)
        return cls(task.id, project, TaskCondition.OVERDUE, task.task_name, occurrence, True)

    @classmethod
    def on_schedule(cls, task: ScheduledTask, project: str) -> Observation:
        """A listed task that is not overdue: confirmed by the listing itself (its own next_execution_time),
        unless it is disabled."""
        if task.enable is False:
            return cls(task.id, project, TaskCondition.DISABLED, task.task_name, confirmed=True)
        return cls(task.id, project, TaskCondition.ON_SCHEDULE, task.task_name, confirmed=True)

    @classmethod
    def not_listed(cls, task_id: str, project: str) -> Observation:
        return cls(task_id, project, TaskCondition.NOT_LISTED)

    @classmethod
    def unmatched(cls, task: ScheduledTask, project: str) -> Observation:
        """The task is listed, but the alert's rule no longer matches it."""
        if task.enable is False:
            return cls(task.id, project, TaskCondition.DISABLED, task.task_name)
        return cls(task.id, project, TaskCondition.UNMATCHED, task.task_name)

    @classmethod
    def looked_up(
        cls, task_id: str, project: str, *, exists: bool, last_status: str | None = None, enabled: bool = True
    ) -> Observation:
        """The result of looking a resolve candidate up: `exists` False after a 404; `last_status` from the
        latest execution record (or a listing filtered to this task)."""
        if not exists:
            return cls(task_id, project, TaskCondition.DELETED, confirmed=True)
        if not enabled:
            return cls(task_id, project, TaskCondition.DISABLED, confirmed=True)
        if last_status == "SUCCESS":
            return cls(task_id, project, TaskCondition.SUCCEEDED, confirmed=True)
        return cls(task_id, project, TaskCondition.UNRESOLVED, confirmed=True)


class AlertState(NamedTuple):
    """Everything remembered about one alert between cycles (a row of the store's `alerts` table)."""

    fingerprint: str
    rule_name: str
    project: str
    task_id: str
    task_name: str | None
    status: AlertStatus
    #: 1 the first time this (rule, task) fails; +1 each time it opens again after being closed.
    episode: int
    #: The current occurrence: FAIL or SKIP, and its identity (see Occurrence).
    last_status: str
    record_id: str | None
    next_execution_time: str | None
    #: Failing occurrences in this episode: 1, then +1 for each RECURRED or CHANGED.
    occurrences: int
    consecutive_failures: int
    opened_at: datetime
    updated_at: datetime
    notified_at: datetime | None = None
    #: The occurrence number last posted about (0: nothing posted in this episode yet) and its status.
    notified_occurrence: int = 0
    notified_status: str | None = None
    #: The silence that held back the last message, while it does.
    silenced_by: str | None = None
    closed_at: datetime | None = None
    #: Why the alert is in this state: the reason of the decision that made it.
    reason: str = ""
    #: Who acknowledged the current occurrence; filled in by the store, never written with the state.
    acknowledged_by: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in _OPEN

    @property
    def overdue(self) -> bool:
        """Whether this is a missed-run alert (monitor.overdue) rather than a failure alert."""
        return self.last_status == OVERDUE_STATUS

    @property
    def announced(self) -> bool:
        """Whether a message about this episode is in the channel (to update, or to reply to)."""
        return self.notified_occurrence > 0

    def is_occurrence(self, occurrence: Occurrence) -> bool:
        """Whether `occurrence` is the execution this state is about."""
        if occurrence.record_id is not None and self.record_id is not None:
            return occurrence.record_id == self.record_id
        return (
            occurrence.last_status == self.last_status
            and occurrence.next_execution_time == self.next_execution_time
        )


class Decision(NamedTuple):
    """What to do about one alert this cycle, and why.

    `new_state` is what to store (None: nothing changed). `notify`: a message goes out (the post for NEW, a
    thread reply otherwise). `update_message`: the posted message must be edited (count, status, resolved,
    closed). `needs_confirmation`: look the task up and decide again before anything is resolved.
    """

    kind: DecisionKind
    reason: str
    new_state: AlertState | None = None
    notify: bool = False
    update_message: bool = False
    needs_confirmation: bool = False


class UnseenAlerts(NamedTuple):
    """Open alerts that no listed task's match produced this cycle."""

    #: Their task is listed, but the rule no longer matches it: `Observation.unmatched(task, project)`.
    still_listed: list[AlertState]
    #: Their task is missing from the listing: maybe recovered, maybe deleted; confirm before resolving.
    resolve_candidates: list[AlertState]


def unseen_alerts(
    open_alerts: Iterable[AlertState], seen_fingerprints: Collection[str], listed_task_ids: Collection[str]
) -> UnseenAlerts:
    unseen = UnseenAlerts([], [])
    for alert in open_alerts:
        if alert.is_open and alert.fingerprint not in seen_fingerprints:
            if alert.task_id in listed_task_ids:
                unseen.still_listed.append(alert)
            else:
                unseen.resolve_candidates.append(alert)
    return unseen


def decide(
    previous: AlertState | None,
    observation: Observation,
    rule: Rule | None,
    *,
    silence: Silence | None,
    now: datetime,
    listing_complete: bool,
) -> Decision:
    """The next step of one alert's lifecycle (see the module docstring for the whole table).

    `previous` is the stored state of this alert (open or closed), None if it never existed; `rule` is None
    when the alert's rule no longer exists; `silence` is the silence muting this alert now, if any;
    `listing_complete` is False when this cycle did not see every page of the listing.
    """
    if previous is not None and previous.task_id != observation.task_id:
        raise ValueError(
            f"alert {previous.fingerprint} is about task {previous.task_id}, not {observation.task_id}"
        )
    current = previous if previous is not None and previous.is_open else None
    if observation.condition in _RAISING and rule is not None:
        return _on_failing(previous, current, observation, rule, silence, now)
    if current is None:
        return Decision(DecisionKind.NONE, f"no open alert; the task is {observation.condition}")
    if not listing_complete:
        return Decision(
            DecisionKind.NONE,
            f"the task is {observation.condition}, but this cycle's listing was incomplete: "
            "an incomplete cycle resolves and closes nothing",
        )
    if rule is None:
        return _close(current, now, f"rule {current.rule_name!r} was removed")
    return _on_not_failing(current, observation, rule, silence, now)


def _on_not_failing(
    current: AlertState, observation: Observation, rule: Rule, silence: Silence | None, now: datetime
) -> Decision:
    condition = observation.condition
    if condition is TaskCondition.DISABLED:
        return _close(current, now, "the task was disabled")
    if condition is TaskCondition.UNMATCHED:
        return _close(current, now, f"rule {rule.name!r} no longer matches the task")
    if condition is TaskCondition.UNRESOLVED:
        return Decision(DecisionKind.NONE, "looked up: the task has not recovered, the alert stays open")
    if condition is TaskCondition.DELETED and observation.confirmed:
        return _close(current, now, "the task was deleted")
    if condition is TaskCondition.SUCCEEDED and observation.confirmed:
        return _resolve(current, rule, silence, now)
    if condition is TaskCondition.ON_SCHEDULE:
        if not current.overdue:
            # Not missing a run says nothing about whether the last one failed.
            return Decision(DecisionKind.NONE, "the task is on schedule; whether it recovered is not known")
        if rule.overdue_after is None:
            return _close(current, now, f"rule {rule.name!r} no longer watches for missed runs")
        return _resolve(current, rule, silence, now)
    return Decision(
        DecisionKind.NONE,
        f"the task is {condition} (unconfirmed): resolve candidate, to be confirmed by looking the task up",
        needs_confirmation=True,
    )


def _on_failing(
    previous: AlertState | None,
    current: AlertState | None,
    observation: Observation,
    rule: Rule,
    silence: Silence | None,
    now: datetime,
) -> Decision:
    occurrence = observation.occurrence
    assert occurrence is not None  # Observation guarantees it for FAILING
    if current is None:
        # A stale listing may show the failed record an alert was closed on; without records there is no
        # telling, and a failure after a confirmed recovery is a new execution anyway.
        if (
            previous is not None
            and occurrence.record_id is not None
            and occurrence.record_id == previous.record_id
        ):
            return Decision(
                DecisionKind.NONE,
                f"this execution was handled already (alert {previous.status} at {previous.closed_at})",
            )
        state, is_new = _opened(previous, observation, occurrence, rule, now), True
    else:
        state, is_new = _advanced(current, observation, occurrence)

    if state.status is AlertStatus.PENDING:
        # A missed run alerts at once: min_failures counts failed executions, and there was none.
        if state.consecutive_failures < rule.min_failures and not state.overdue:
            reason = (
                f"pending: {state.consecutive_failures} consecutive failing execution(s), "
                f"rule {rule.name!r} alerts at {rule.min_failures}"
            )
            return _keep(current, state, now, reason)
        state = state._replace(status=AlertStatus.FIRING)

    kind, reason = _due_message(state, rule, now)
    if kind is None:
        if silence is None and state.silenced_by is not None:
            state = state._replace(silenced_by=None)
        return _keep(current, state, now, reason)
    if silence is not None:
        if state.silenced_by == silence.id and not is_new:
            return _keep(current, state, now, f"still silenced by {_describe(silence)}")
        reason = f"{reason}; held back: silenced by {_describe(silence)}"
        muted = state._replace(silenced_by=silence.id, updated_at=now, reason=reason)
        return Decision(DecisionKind.MUTED, reason, muted)
    if state.silenced_by is not None:
        reason += f" (silence {state.silenced_by} has ended)"
    sent = _notified(state, now, reason)
    # RECURRED and CHANGED also edit the posted message (count, status), when there is one.
    edits = kind in _EDITS_MESSAGE and state.announced
    return Decision(kind, reason, sent, notify=True, update_message=edits)


def _notified(state: AlertState, now: datetime, reason: str) -> AlertState:
    """`state` as posted about now: `_replace(updated_at=now, notified_at=now, notified_occurrence=
    occurrences, notified_status=last_status, silenced_by=None, reason=reason)`, built by position (every
    message a mass failure sends goes through here; `_replace` costs a dict of all 21 fields)."""
    return AlertState(
        *state[:13],  # fingerprint .. opened_at
        now,  # updated_at
        now,  # notified_at
        state.occurrences,  # notified_occurrence
        state.last_status,  # notified_status
        None,  # silenced_by
        state.closed_at,
        reason,
        state.acknowledged_by,
    )


def _opened(
    previous: AlertState | None, observation: Observation, occurrence: Occurrence, rule: Rule, now: datetime
) -> AlertState:
    failures = _failures(observation, counted=1)
    identify = overdue_fingerprint if occurrence.last_status == OVERDUE_STATUS else alert_fingerprint
    # By position, in AlertState's field order (keywords cost more, and a mass failure opens thousands).
    return AlertState(
        identify(rule.name, observation.project, observation.task_id),  # fingerprint
        rule.name,  # rule_name
        observation.project,  # project
        observation.task_id,  # task_id
        observation.task_name,  # task_name
        AlertStatus.FIRING if failures >= rule.min_failures else AlertStatus.PENDING,  # status
        previous.episode + 1 if previous is not None else 1,  # episode
        occurrence.last_status,  # last_status
        occurrence.record_id,  # record_id
        occurrence.next_execution_time,  # next_execution_time
        1,  # occurrences
        failures,  # consecutive_failures
        now,  # opened_at
        now,  # updated_at
    )


def _advanced(
    current: AlertState, observation: Observation, occurrence: Occurrence
) -> tuple[AlertState, bool]:
    """The open alert moved to `occurrence`, and whether that is a later execution than the one it was on."""
    is_new = occurrence.last_status != current.last_status or not current.is_occurrence(occurrence)
    if is_new:
        state = current._replace(
            task_name=observation.task_name or current.task_name,
            last_status=occurrence.last_status,
            record_id=occurrence.record_id,
            next_execution_time=occurrence.next_execution_time,
            occurrences=current.occurrences + 1,
            consecutive_failures=_failures(observation, counted=current.consecutive_failures + 1),
            acknowledged_by=None,
        )
        return state, True
    # The same execution; keep the record id learned earlier when this cycle had no records.
    same = (
        observation.task_name or current.task_name,
        occurrence.record_id or current.record_id,
        occurrence.next_execution_time,
        _failures(observation, counted=current.consecutive_failures),
    )
    if same == (
        current.task_name,
        current.record_id,
        current.next_execution_time,
        current.consecutive_failures,
    ):
        return current, False
    task_name, record_id, next_execution_time, failures = same
    state = current._replace(
        task_name=task_name,
        record_id=record_id,
        next_execution_time=next_execution_time,
        consecutive_failures=failures,
    )
    return state, False


def _failures(observation: Observation, *, counted: int) -> int:
    """Consecutive failing executions: the records API's count when it answered, else our own count."""
    if observation.consecutive_failures is None:
        return counted
    # The listing says this task is failing, whatever an older page of records says.
    return max(1, observation.consecutive_failures)


def _due_message(state: AlertState, rule: Rule, now: datetime) -> tuple[DecisionKind | None, str]:
    """The message a firing alert is owed now, if any, and why (or why not)."""
    if state.overdue:
        return _due_overdue_message(state, rule, now)
    if not state.announced:
        after = f" after {state.consecutive_failures} consecutive failures" if rule.min_failures > 1 else ""
        return DecisionKind.NEW, f"new failure{after}: {_what(state)}"
    if state.occurrences > state.notified_occurrence:
        if state.last_status != state.notified_status:
            change = f"{state.notified_status} -> {state.last_status}"
            return DecisionKind.CHANGED, f"changed {change}: {_what(state)}"
        return DecisionKind.RECURRED, f"failed again (occurrence {state.occurrences}): {_what(state)}"
    if state.acknowledged_by is not None:
        return None, f"acknowledged by {state.acknowledged_by}: no reminders for this occurrence"
    if not rule.repeat_interval:
        return None, f"still failing; rule {rule.name!r} sends no reminders (repeat_interval 0)"
    assert state.notified_at is not None  # announced
    waited = now - state.notified_at
    if waited < rule.repeat_interval:
        return None, f"still failing; next reminder in {format_duration(rule.repeat_interval - waited)}"
    return (
        DecisionKind.REPEAT,
        f"still failing {format_duration(waited)} after the last message: {_what(state)}",
    )


def _due_overdue_message(state: AlertState, rule: Rule, now: datetime) -> tuple[DecisionKind | None, str]:
    """`_due_message` of a missed-run alert, in its own words."""
    missed = f"task {state.task_name or state.task_id} missed its run due {state.next_execution_time}"
    limit = f" (overdue_after {format_duration(rule.overdue_after)})" if rule.overdue_after else ""
    if not state.announced:
        return DecisionKind.NEW, f"overdue: {missed}{limit}, no execution since"
    if state.occurrences > state.notified_occurrence:
        return DecisionKind.RECURRED, f"overdue again (missed run {state.occurrences}): {missed}"
    if state.acknowledged_by is not None:
        return None, f"acknowledged by {state.acknowledged_by}: no reminders for this missed run"
    if not rule.repeat_interval:
        return None, f"still overdue; rule {rule.name!r} sends no reminders (repeat_interval 0)"
    assert state.notified_at is not None  # announced
    waited = now - state.notified_at
    if waited < rule.repeat_interval:
        return None, f"still overdue; next reminder in {format_duration(rule.repeat_interval - waited)}"
    return DecisionKind.REPEAT, f"still overdue {format_duration(waited)} after the last message: {missed}"


def _what(state: AlertState) -> str:
    return f"task {state.task_name or state.task_id} last_status {state.last_status}"


def _keep(current: AlertState | None, state: AlertState, now: datetime, reason: str) -> Decision:
    """NONE: nothing to send. The state is stored only when more than its reason changed, so that a steady
    failure costs no write per cycle."""
    if state is current:
        return Decision(DecisionKind.NONE, reason)
    if (
        current is not None
        and state._replace(updated_at=current.updated_at, reason=current.reason) == current
    ):
        return Decision(DecisionKind.NONE, reason)
    return Decision(DecisionKind.NONE, reason, state._replace(updated_at=now, reason=reason))


def _resolve(current: AlertState, rule: Rule, silence: Silence | None, now: datetime) -> Decision:
    if current.overdue:
        recovered = (
            f"on schedule again: task {current.task_name or current.task_id} ran or its next run moved on"
        )
    else:
        recovered = f"recovered: task {current.task_name or current.task_id} succeeded"
    if not current.announced:
        reason, announce = f"{recovered} before anything was posted", False
    elif silence is not None:
        reason, announce = f"{recovered} (not announced: silenced by {_describe(silence)})", False
    elif not rule.notify_resolved:
        reason, announce = f"{recovered} (rule {rule.name!r} does not announce recoveries)", False
    else:
        reason, announce = recovered, True
    resolved = current._replace(
        status=AlertStatus.RESOLVED, closed_at=now, updated_at=now, silenced_by=None, reason=reason
    )
    return Decision(
        DecisionKind.RESOLVED, reason, resolved, notify=announce, update_message=current.announced
    )


def _close(current: AlertState, now: datetime, reason: str) -> Decision:
    closed = current._replace(
        status=AlertStatus.CLOSED, closed_at=now, updated_at=now, silenced_by=None, reason=reason
    )
    return Decision(DecisionKind.CLOSED, reason, closed, update_message=current.announced)


def _describe(silence: Silence) -> str:
    return f"{silence.id} until {silence.until.isoformat()} ({silence.comment})"
