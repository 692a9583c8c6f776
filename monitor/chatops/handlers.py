"""The `/tasks` handlers: plain async functions of a parsed `Command`, the `Caller` and injected `Deps`.

They know nothing of bolt: the app (`monitor.chatops.app`) acks, parses, calls `handle`, and sends the
returned `SlackMessage` through `respond`. The Workspace API is reached through `TaskSource` (the
`WorkspaceClient` in production, the simulator behind it in tests), state through the `Store` (its calls are
synchronous, so they run in a worker thread and never stall the event loop the daemon shares), time through
`clock`. Failures of the API or the store become a polite ephemeral answer saying what failed; the error
is logged as `chatops.command_failed`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar

import structlog

from monitor.chatops.access import Access, Caller
from monitor.chatops.commands import (
    MAX_SILENCE,
    Ack,
    Alerts,
    Command,
    Failed,
    Help,
    ListTasks,
    Report,
    Retry,
    Show,
    Silence,
    Silences,
    Status,
    Unsilence,
    command_name,
)
from monitor.chatops.home import HomeData, home_view
from monitor.chatops.limits import PerUserRate
from monitor.chatops.replies import (
    DESKTOPS_SHOWN,
    ProjectPoll,
    StatusView,
    ack_reply,
    alerts_reply,
    error_reply,
    help_reply,
    list_reply,
    refusal_reply,
    show_reply,
    silence_added_reply,
    silences_reply,
    status_reply,
    unsilence_reply,
)
from monitor.chatops.retry import NoRetry, Retrier, prepare_retry, retry_prompt
from monitor.chatops.shared import SharedBuilds
from monitor.chatops.snapshots import Snapshots
from monitor.decide import AlertState, AlertStatus
from monitor.durations import format_duration
from monitor.pagerduty.notifier import queue_acknowledge
from monitor.reports.build import Scope
from monitor.reports.queue import report_payload
from monitor.rules.index import RuleSet
from monitor.rules.load import compile_match
from monitor.silences import Silence as StoredSilence
from monitor.slack.message import SlackMessage
from monitor.slack.report import render_report
from monitor.store import MessageRef, Store, StoreError
from monitor.timeintervals import next_window
from monitor.windows import window_states
from monitor.workspace.actions import ScriptRecord
from monitor.workspace.client import Listing, TaskFilter
from monitor.workspace.errors import NotFoundError, WorkspaceError
from monitor.workspace.models import ExecutionRecord, RecordDetail, ScheduledTask, TaskDetail
from monitor.workspace.redo import why_no_redo

__all__ = [
    "Deps",
    "RuntimeStatus",
    "TaskSource",
    "acknowledge_alert",
    "handle",
    "home_tab",
    "list_filters",
    "silence_alert",
    "status_view",
]

log = structlog.get_logger(__name__)

T = TypeVar("T")


class ArgumentRefusedError(Exception):
    """A command that parsed but names what does not exist or cannot be done (an unknown time interval):
    answered with `message` and counted as invalid, like text that is no command."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotDoneError(Exception):
    """A command that parsed and was allowed but did nothing: it names what is not there (no such silence,
    no open alert, no firing alert to retry) or asks what this daemon does not do (retries off). Answered
    with `reply` and counted as `outcome` (invalid or refused), not as ok."""

    def __init__(self, reply: SlackMessage, outcome: Literal["invalid", "refused"]) -> None:
        super().__init__(reply.text)
        self.reply = reply
        self.outcome = outcome


_FAILING = ("FAIL", "SKIP")
#: `failed`'s listings (triggered tasks need their own): also the Home tab's source of task types.
_FAILING_FILTERS = tuple(
    TaskFilter(last_status=status, scheduled_type=kind)
    for status in _FAILING
    for kind in (None, "LIFE_CYCLE")
)
_RECORDS_SHOWN = 10


class TaskSource(Protocol):
    """What the handlers need of the Workspace API (`WorkspaceClient` has it all)."""

    async def fetch_many(self, filters: Sequence[TaskFilter]) -> Listing: ...

    async def get_task(self, task_id: str) -> TaskDetail: ...

    async def list_records(self, task_id: str, *, limit: int = 10) -> list[ExecutionRecord]: ...

    async def get_script_record(self, record_id: str) -> ScriptRecord: ...

    async def list_record_details(
        self,
        task_id: str,
        record_id: str,
        *,
        limit: int = 1000,
        enough: Callable[[Sequence[RecordDetail]], bool] | None = None,
    ) -> list[RecordDetail]: ...


@dataclass
class RuntimeStatus:
    """How the daemon is doing, for `/tasks status` (`Deps.status` builds one per question). A Slack error
    left unset is taken from the outbox: the last error of a notification waiting to be retried."""

    last_poll_at: datetime | None = None
    last_poll_seconds: float | None = None
    last_poll_complete: bool | None = None
    last_poll_tasks: int | None = None
    api_error: str | None = None
    slack_error: str | None = None
    #: The replica that polls and sends (HA), and whether it is the one answering.
    leader: str | None = None
    leader_is_me: bool = False
    #: Each watched project's last successful cycle and last error (this replica's `Health`).
    projects: tuple[ProjectPoll, ...] = ()


def _new_silence_id() -> str:
    return "s-" + secrets.token_hex(4)


@dataclass
class Deps:
    """What the handlers work with. Mutable only so that SIGHUP can change `access` in place."""

    tasks: TaskSource
    store: Store
    clock: Callable[[], datetime]
    access: Access = field(default_factory=Access)
    #: Called in a worker thread (it may read the store) for each `/tasks status`.
    status: Callable[[], RuntimeStatus] = RuntimeStatus
    new_silence_id: Callable[[], str] = _new_silence_id
    #: Listings in flight and recent ones, shared by everyone asking (and kept for the page buttons).
    snapshots: Snapshots = field(default_factory=Snapshots)
    #: `/tasks report` builds, one per period in flight and shared for a minute (monitor.chatops.shared).
    reports: SharedBuilds[SlackMessage] = field(default_factory=SharedBuilds)
    #: Commands a minute per person (typed commands and page buttons; alert buttons are not counted).
    rate: PerUserRate = field(default_factory=PerUserRate)
    #: Told of each command and button: (name, outcome), `Metrics.chatops_command`.
    on_command: Callable[[str, str], None] = lambda command, outcome: None
    #: The rules in force (set at start and on each reload): `/tasks silences` shows their time intervals,
    #: `report` counts per rule, the Home tab groups alerts by their severity.
    ruleset: RuleSet | None = None
    #: Retries from Slack (`slack.actions: [retry]`); None: off.
    retry: Retrier | None = None


def list_filters(command: ListTasks) -> list[TaskFilter]:
    """The API listings behind `list`: triggered (LIFE_CYCLE) tasks need a listing of their own."""
    schedules = [command.schedule] if command.schedule else [None, "LIFE_CYCLE"]
    return [
        TaskFilter(
            task_name=command.name,
            task_type=command.task_type,
            scheduled_type=schedule,
            last_status=command.status,
        )
        for schedule in schedules
    ]


def _sorted(tasks: Sequence[ScheduledTask]) -> list[ScheduledTask]:
    return sorted(tasks, key=lambda task: ((task.task_name or "").lower(), task.id))


async def _list(command: ListTasks | Failed, deps: Deps) -> SlackMessage:
    filters = list(_FAILING_FILTERS) if isinstance(command, Failed) else list_filters(command)
    # Page 1 is a typed command: fresh. Later pages come from the buttons: the snapshot page 1 listed.
    listing = await deps.snapshots.listing(
        filters, deps.tasks.fetch_many, now=deps.clock(), reuse=command.page > 1
    )
    return list_reply(command, _sorted(listing.tasks), complete=listing.complete, problems=listing.problems)


async def _or_problem(call: Awaitable[T], what: str) -> tuple[T | None, str | None]:
    """A part of an answer that may fail (the records API is often forbidden to read-only keys)."""
    try:
        return await call, None
    except NotFoundError:
        raise
    except WorkspaceError as exc:
        log.warning("chatops.part_failed", part=what, error=str(exc))
        return None, f"{what} unavailable: {exc}"


async def _show(command: Show, deps: Deps) -> SlackMessage:
    try:
        task, (records, problem) = await asyncio.gather(
            deps.tasks.get_task(command.task_id),
            _or_problem(deps.tasks.list_records(command.task_id, limit=_RECORDS_SHOWN), "execution records"),
        )
    except NotFoundError:
        return error_reply(f"There is no task with id {command.task_id} (`/tasks list` shows the ids).")
    problems = [problem] if problem else []
    listed = None
    if task.task_name:
        # The detail endpoint has no last_status or enable; the listing by name does.
        found = await deps.tasks.fetch_many([TaskFilter(task_name=task.task_name)])
        listed = next((item for item in found.tasks if item.id == task.id), None)
    # Record and desktop statuses are undocumented beyond SUCCESS/FAIL/SKIP: anything but SUCCESS is not one.
    failed = next((record for record in records or [] if record.status in _FAILING), None)
    desktops: list[RecordDetail] = []
    if failed is not None:
        details, problem = await _or_problem(
            deps.tasks.list_record_details(task.id, failed.id, enough=_enough_shown), "desktops"
        )
        desktops = [detail for detail in details or [] if detail.exec_status != "SUCCESS"]
        problems.extend([problem] if problem else [])
    failed_total = (failed.failed_num or 0) + (failed.skip_num or 0) if failed is not None else 0
    return show_reply(
        task, listed, records or [], desktops, problems=problems, failed_total=failed_total,
        retry_note=_retry_note(task, deps),
    )  # fmt: skip


def _retry_note(task: TaskDetail, deps: Deps) -> str | None:
    """With retries on: how to retry this task's failed desktops, or why it has no retry."""
    if deps.retry is None:
        return None
    why = why_no_redo(task.task_type)
    if why is not None:
        return f"No retry from Slack: {why}."
    return (
        f"🔁 `/tasks retry {task.id}` (or the alert's button) redoes its action on the desktops that failed."
    )


def _enough_shown(details: Sequence[RecordDetail]) -> bool:
    return sum(detail.exec_status != "SUCCESS" for detail in details) > DESKTOPS_SHOWN


async def _alerts(caller: Caller, deps: Deps) -> SlackMessage:
    def read() -> tuple[list[AlertState], dict[str, MessageRef | None]]:
        alerts = [a for a in deps.store.load_open_alerts().values() if a.status is AlertStatus.FIRING]
        return alerts, {alert.fingerprint: deps.store.message_ref(alert.fingerprint) for alert in alerts}

    alerts, refs = await asyncio.to_thread(read)
    return alerts_reply(alerts, refs, team_domain=caller.team_domain)


def _stored_silence(
    command: Silence, caller: Caller, now: datetime, silence_id: str, *, until: datetime | None = None
) -> StoredSilence:
    spec = {"id": command.task_id} if command.task_id else {"task_name": command.name_glob}
    assert until is not None or command.duration is not None  # the parser gives one or the other
    return StoredSilence(
        id=silence_id,
        matcher=compile_match(spec, where="/tasks silence"),
        until=until if until is not None else now + (command.duration or timedelta(0)),
        comment=command.reason,
        created_by=caller.shown,
        created_at=now,
        time_intervals=(command.time_interval,) if command.time_interval else (),
    )


def _window_for(command: Silence, now: datetime, deps: Deps) -> datetime:
    """When the silence of a time interval ends (its next window's close); `ArgumentRefusedError` saying
    why when no interval has that name or its next window closes too far ahead."""
    name = command.time_interval or ""
    interval = deps.ruleset.time_interval(name) if deps.ruleset is not None else None
    if interval is None:
        known = [each.name for each in deps.ruleset.time_intervals] if deps.ruleset is not None else []
        defined = f"the rule files define {', '.join(known)}" if known else "the rule files define none"
        raise ArgumentRefusedError(
            f"bad duration {name!r}: not a duration (30m, 2h, 1d) nor a time interval ({defined})."
        )
    window = next_window(interval, now)
    if window is None or window.unknown or window.closes is None or window.closes - now > MAX_SILENCE:
        raise ArgumentRefusedError(
            f"time interval {name!r} has no window closing within {format_duration(MAX_SILENCE)}; "
            "for good, name it in the rule file (mute_time_intervals, or a silence's time_intervals)."
        )
    return window.closes


async def _silence(command: Silence, caller: Caller, deps: Deps) -> SlackMessage:
    now = deps.clock()
    until = await asyncio.to_thread(_window_for, command, now, deps) if command.time_interval else None
    silence = _stored_silence(command, caller, now, deps.new_silence_id(), until=until)
    await asyncio.to_thread(deps.store.add_silence, silence)
    log.info("chatops.silenced", silence=silence.id, target=command.target, by=caller.user_id,
             seconds=(silence.until - now).total_seconds(), time_interval=command.time_interval)  # fmt: skip
    return silence_added_reply(silence, now)


async def home_tab(deps: Deps, *, workspace_url: str | None, notice: str | None = None) -> dict[str, Any]:
    """The Home tab as it is now (`monitor.chatops.home`): firing alerts and where their messages are, the
    active silences and the daemon's status, read when someone opens the tab."""

    def read() -> tuple[list[AlertState], dict[str, MessageRef | None], list[StoredSilence]]:
        alerts = [a for a in deps.store.load_open_alerts().values() if a.status is AlertStatus.FIRING]
        refs = {alert.fingerprint: deps.store.message_ref(alert.fingerprint) for alert in alerts}
        return alerts, refs, deps.store.silences()

    (alerts, refs, silences), status, task_types = await asyncio.gather(
        asyncio.to_thread(read), status_view(deps), _failing_types(deps)
    )
    data = HomeData(
        alerts=alerts,
        refs=refs,
        severities={rule.name: rule.severity for rule in deps.ruleset.rules} if deps.ruleset else {},
        silences=silences,
        status=status,
        workspace_url=workspace_url,
        notice=notice,
        retry=deps.retry is not None,
        task_types=task_types,
    )
    return home_view(data, deps.clock())


async def _failing_types(deps: Deps) -> dict[str, str]:
    """With retries on: task id -> type of the failing tasks, which decides which alerts on the Home tab get
    a Retry button (as their messages do). `/tasks failed`'s listing, shared with it (`Snapshots`: one in
    flight for everyone, reused for 10 s); none when retries are off or the API fails (no Retry buttons)."""
    if deps.retry is None:
        return {}
    try:
        listing = await deps.snapshots.listing(
            _FAILING_FILTERS, deps.tasks.fetch_many, now=deps.clock(), reuse=False
        )
    except WorkspaceError as exc:
        log.warning("chatops.home_types_unavailable", error=str(exc)[:300])
        return {}
    return {task.id: task.task_type for task in listing.tasks if task.task_type}


async def status_view(deps: Deps) -> StatusView:
    """What `/tasks status` and the Home tab show of the daemon: its status and the outbox's backlog."""
    now = deps.clock()
    status, waiting = await asyncio.to_thread(
        lambda: (deps.status(), deps.store.pending_outbox(now=now, limit=100_000))
    )
    retried = next((row.last_error for row in reversed(waiting) if row.last_error), None)
    view = StatusView(
        last_poll_at=status.last_poll_at,
        last_poll_seconds=status.last_poll_seconds,
        last_poll_complete=status.last_poll_complete,
        last_poll_tasks=status.last_poll_tasks,
        api_error=status.api_error,
        slack_error=status.slack_error or retried,
        outbox_backlog=len(waiting),
        leader=status.leader,
        leader_is_me=status.leader_is_me,
        projects=status.projects,
    )
    return view


async def _status(deps: Deps) -> SlackMessage:
    return status_reply(await status_view(deps), deps.clock())


_CHANGES = {
    Silence: "silence alerts",
    Unsilence: "end silences",
    Ack: "acknowledge alerts",
    Retry: "retry failed desktops",
}


async def _retry(command: Retry, deps: Deps) -> SlackMessage:
    """`retry`: the plan and the button with its confirm (pressing it is what starts the retry)."""
    if deps.retry is None:
        off = error_reply(
            "Retries from Slack are off: `slack.actions: [retry]` in the config turns them on (the IAM "
            "user then needs the write actions the README's *Fixing from Slack* names)."
        )
        raise NotDoneError(off, "refused")
    fingerprint = command.alert_id
    if fingerprint is None:
        open_alerts = await asyncio.to_thread(deps.store.load_open_alerts)
        firing = sorted(
            a.fingerprint for a in open_alerts.values()
            if a.task_id == command.task_id and a.status is AlertStatus.FIRING
        )  # fmt: skip
        if not firing:
            none = error_reply(
                f"No alert is firing for task {command.task_id}: a retry redoes a firing alert's failed "
                f"run (`/tasks show {command.task_id}` shows its runs)."
            )
            raise NotDoneError(none, "invalid")
        fingerprint = firing[0]
    planned = await prepare_retry(fingerprint, deps.store, deps.retry)
    if isinstance(planned, NoRetry):
        raise NotDoneError(planned.reply, planned.outcome)
    return retry_prompt(planned)


async def _dispatch(command: Command, caller: Caller, deps: Deps) -> SlackMessage:
    match command:
        case Help(topic=topic, note=note):
            return help_reply(topic, note)
        case ListTasks() | Failed():
            return await _list(command, deps)
        case Show():
            return await _show(command, deps)
        case Alerts():
            return await _alerts(caller, deps)
        case Silence():
            return await _silence(command, caller, deps)
        case Silences():
            now = deps.clock()
            # A calendar walk (up to MAX_WORK looks an interval): off the event loop, as store reads are.
            windows = await asyncio.to_thread(window_states, deps.ruleset, now) if deps.ruleset else []
            return silences_reply(await asyncio.to_thread(deps.store.silences), now, windows)
        case Unsilence(silence_id=silence_id):
            removed = await asyncio.to_thread(deps.store.delete_silence, silence_id)
            log.info("chatops.unsilenced", silence=silence_id, removed=removed, by=caller.user_id)
            if not removed:
                raise NotDoneError(unsilence_reply(silence_id, removed), "invalid")
            return unsilence_reply(silence_id, removed)
        case Ack(alert_id=alert_id):
            done, reply = await acknowledge_alert(alert_id, caller, deps)
            if not done:
                raise NotDoneError(reply, "invalid")
            return reply
        case Retry():
            return await _retry(command, deps)
        case Status():
            return await _status(deps)
        case Report(days=days):
            return await _report(days, deps)
    return help_reply()  # pragma: no cover - the match covers every Command


async def _report(days: int, deps: Deps) -> SlackMessage:
    """`report [Nd]`: the scheduled reports' numbers for the last `days` days (today so far included, UTC
    days), with the chart's numbers as a table: an ephemeral answer cannot carry an upload."""
    now = deps.clock()
    end = now.astimezone(UTC).date() + timedelta(days=1)

    async def build() -> SlackMessage:
        payload = await asyncio.to_thread(
            report_payload, deps.store, deps.ruleset, name=f"last {days} days", end=end, days=days,
            scope=Scope(),
        )  # fmt: skip
        return render_report(payload, table=True)

    # Seconds of CPU over a big history: a crowd asking at once (or one person, ten times a minute) costs
    # one build per period, not one each.
    return await deps.reports.get((days, end), build, now=now)


async def handle(command: Command, caller: Caller, deps: Deps) -> SlackMessage:
    """The answer to `command` from `caller`; API and store failures are answered, not raised. Each
    command's outcome is told to `deps.on_command`."""
    name = command_name(command)
    what = _CHANGES.get(type(command))
    if what is not None and not deps.access.may_change(caller):
        log.info(
            "chatops.refused", user=caller.user_id, channel=caller.channel_id, command=type(command).__name__
        )
        deps.on_command(name, "refused")
        return refusal_reply(what)
    try:
        reply = await _dispatch(command, caller, deps)
    except ArgumentRefusedError as exc:
        log.info("chatops.argument_refused", command=type(command).__name__, user=caller.user_id)
        deps.on_command(name, "invalid")
        return error_reply(exc.message)
    except NotDoneError as exc:
        deps.on_command(name, exc.outcome)
        return exc.reply
    except WorkspaceError as exc:
        log.warning("chatops.command_failed", command=type(command).__name__, error=str(exc))
        deps.on_command(name, "api_error")
        return error_reply(f"The Workspace API failed: {exc}. Try again in a minute.")
    except StoreError as exc:
        log.error("chatops.command_failed", command=type(command).__name__, error=str(exc))
        deps.on_command(name, "store_error")
        return error_reply(f"The state store failed: {exc}.")
    deps.on_command(name, "ok")
    return reply


async def acknowledge_alert(alert_id: str, caller: Caller, deps: Deps) -> tuple[bool, SlackMessage]:
    """`ack <alert>` and the Acknowledge button (access is checked by the caller): whether it was
    acknowledged, and the answer."""
    done = await asyncio.to_thread(deps.store.acknowledge, alert_id, by=caller.shown, at=deps.clock())
    if done:  # an escalated alert's incident is acknowledged in PagerDuty too
        ruleset = deps.ruleset

        def pages(rule_name: str) -> bool:
            rule = ruleset.rule(rule_name) if ruleset is not None else None
            return rule is not None and rule.pagerduty

        await asyncio.to_thread(queue_acknowledge, deps.store, alert_id, deps.clock(), pages=pages)
    log.info("chatops.acknowledged", alert=alert_id, done=done, by=caller.user_id)
    return done, ack_reply(alert_id, done, by=caller.shown)


async def silence_alert(
    alert_id: str, duration: timedelta, caller: Caller, deps: Deps, *, reason: str | None = None
) -> tuple[bool, SlackMessage]:
    """The Silence menu (and the old Silence 1h button): mutes this alert's rule for its task, with the
    custom modal's `reason` as its comment. Whether it did, and the answer."""
    states = await asyncio.to_thread(deps.store.load_alerts, [alert_id])
    state = states.get(alert_id)
    if state is None or not state.is_open:
        return False, error_reply(f"Alert {alert_id} is no longer open; nothing to silence.")
    now = deps.clock()
    silence = StoredSilence(
        id=deps.new_silence_id(),
        matcher=compile_match({"id": state.task_id}, where="silence button"),
        until=now + duration,
        comment=reason or f"from the alert message ({state.rule_name})",
        created_by=caller.shown,
        created_at=now,
        rules=frozenset({state.rule_name}),
    )
    await asyncio.to_thread(deps.store.add_silence, silence)
    log.info("chatops.silenced", silence=silence.id, alert=alert_id, by=caller.user_id,
             seconds=duration.total_seconds())  # fmt: skip
    return True, silence_added_reply(silence, now)
