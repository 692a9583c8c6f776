"""One poll cycle: fetch -> match -> decide -> persist state and outbox together.

    listing   = every FAIL and SKIP task (all pages; complete or not)
    records   = latest executions of the tasks that changed since the last cycle (skipped when forbidden)
    decisions = decide() for each (rule, task) match, then for each open alert the listing did not produce:
                rule no longer matching -> CLOSED; task gone from the listing -> looked up (get_task, latest
                execution) and RESOLVED or CLOSED only when that confirms it
    persist   = new alert states + outbox rows + meta, in one store transaction

Every `overdue_every` cycles (when some rule has `overdue_after`, missed-run alerts are still open, or
`reports:` read the run history), every task is listed too, beside the failing ones (LIFE_CYCLE ones in a
listing of their own, as the API lists them only when asked for). The missed-run alerts are decided from that
listing (monitor.overdue), which leaves the triggered tasks out; between those cycles they are left as they
are (the failing listing cannot tell whether a task ran). Every task it lists is counted into the run history
(monitor.history): it is the only listing that shows the runs of tasks that do not fail. A triggered task has
no next_execution_time to move on, so only its records show its runs: with reports, those cycles look up the
records of a few of them (MAX_HISTORY_LOOKUPS, in turn, within what the cycle left of MAX_RECORD_LOOKUPS).

The pure part (`evaluate`, `outbox_entries`) works on plain data and is what the engine benchmark measures;
`Engine.run_cycle` adds the I/O around it. Nothing is sent here: the dispatcher reads the outbox.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

import structlog

from monitor.decide import (
    AlertState,
    Decision,
    DecisionKind,
    Observation,
    alert_fingerprint,
    consecutive_failures,
    decide,
    overdue_fingerprint,
    unseen_alerts,
)
from monitor.gc_pause import collector_paused, collector_running
from monitor.history import sightings_of
from monitor.notify.lookups import MAX_MESSAGE_LOOKUPS, MAX_SCRIPT_OUTPUTS, Wanted, plan_lookups, plan_outputs
from monitor.notify.payload import MAX_FAILED_DESKTOPS, MAX_HISTORY, TaskSummary, build_payload, task_summary
from monitor.overdue import OverdueRoutes, evaluate_overdue, late_tasks
from monitor.rules.index import RuleSet
from monitor.rules.index import match as match_rules
from monitor.rules.matcher import TaskSignature
from monitor.rules.model import MatchedRoute, Rule
from monitor.silences import Silence, is_muted
from monitor.store.base import CycleChanges, OutboxEntry, Store
from monitor.store.errors import StoreError
from monitor.windows import WindowCache, effective_silences
from monitor.workspace.actions import ScriptRecord
from monitor.workspace.client import Listing, TaskFilter, WorkspaceClient
from monitor.workspace.errors import (
    AuthError,
    ConfigurationError,
    NotFoundError,
    TransportError,
    WorkspaceError,
)
from monitor.workspace.models import ExecutionRecord, RecordDetail, ScheduledTask, TaskDetail

__all__ = [
    "PAGERDUTY_CHANNEL",
    "CycleReport",
    "DecisionNote",
    "Engine",
    "Evaluation",
    "TaskRecords",
    "evaluate",
    "load_states",
    "outbox_entries",
    "records_order",
]

log = structlog.get_logger(__name__)

#: Kinds whose message shows the failed desktops of the latest execution (worth one more API call each).
_SHOWS_DESKTOPS = frozenset({DecisionKind.NEW, DecisionKind.RECURRED, DecisionKind.CHANGED})
#: At most this many lookups for messages (desktops, script records and outputs) in one cycle: a mass
#: failure must not turn into 20,000 calls (`monitor.notify.lookups`).
MAX_DETAIL_LOOKUPS = MAX_MESSAGE_LOOKUPS
#: Where the alerts of rules with `pagerduty: true` also go (the `pagerduty` receiver, monitor.pagerduty):
#: NEW when it notifies (a silenced alert pages nobody), RESOLVED and CLOSED always; the rest of an open
#: alert's news (REPEAT, RECURRED, CHANGED) is the incident PagerDuty already pages for.
PAGERDUTY_CHANNEL = "pagerduty:oncall"
_PAGES = frozenset({DecisionKind.NEW})
_UNPAGES = frozenset({DecisionKind.RESOLVED, DecisionKind.CLOSED})
#: Tasks whose execution records one cycle fetches (one request each); beyond, the listing decides alone.
MAX_RECORD_LOOKUPS = 500
#: Late tasks whose latest execution an overdue cycle looks up (one request each), those without an open
#: missed-run alert first; beyond, the listing decides alone (its next_execution_time did not move on).
MAX_OVERDUE_LOOKUPS = 100
#: Every how many cycles all tasks are listed for missed runs (`workspace.overdue_every`).
DEFAULT_OVERDUE_EVERY = 5
#: Triggered (LIFE_CYCLE) tasks whose records a listing of every task looks up for the run history when
#: reports read it, in turn; never more than the cycle left of MAX_RECORD_LOOKUPS.
MAX_HISTORY_LOOKUPS = 50


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TaskRecords:
    """What the records API said about one task this cycle (newest first)."""

    records: tuple[ExecutionRecord, ...]

    @property
    def latest(self) -> ExecutionRecord | None:
        return self.records[0] if self.records else None


class Decided(NamedTuple):
    """One decision with what it was about (a NamedTuple, as decide's values: a cycle builds thousands)."""

    decision: Decision
    state: AlertState  # the state after the decision (or the unchanged one)
    rule: Rule | None
    task: ScheduledTask | None
    group_key: tuple[tuple[str, str], ...] = ()


class _Decisions(NamedTuple):
    """What a cycle decided, and what its writes and report need of the deciding."""

    evaluation: Evaluation
    records: dict[str, TaskRecords]  # the execution records the cycle fetched, by task id
    entries: list[OutboxEntry]
    lookups_left: int  # of MAX_RECORD_LOOKUPS
    overdue_checked: bool  # whether the missed runs were decided


@dataclass
class Evaluation:
    """The decisions of one cycle, and the open alerts whose recovery must be confirmed by a lookup."""

    decided: list[Decided] = field(default_factory=list)
    to_confirm: list[AlertState] = field(default_factory=list)


def _silence_target(state: AlertState) -> ScheduledTask:
    return ScheduledTask(id=state.task_id, task_name=state.task_name)


def evaluate(
    tasks: Sequence[ScheduledTask],
    *,
    ruleset: RuleSet,
    project: str,
    states: Mapping[str, AlertState],
    open_alerts: Iterable[AlertState],
    silences: Sequence[Silence],
    records: Mapping[str, TaskRecords],
    complete: bool,
    now: datetime,
    routes: Mapping[str, Sequence[MatchedRoute]] | None = None,
) -> Evaluation:
    """Decide every alert this listing touches. `states` holds the stored state of each matched alert;
    `routes` the rules matching each task, when the caller has matched already."""
    result = Evaluation()
    seen: set[str] = set()
    listed: dict[str, ScheduledTask] = {}
    # The same answers as `is_muted(silences, ...)` for every (rule, task), asked of fewer silences: those
    # active now, then per task those matching it (most tasks: none), then per rule. Which silences a task
    # can match at all depends on its signature, of which a fleet has few: that part is looked up once.
    active = [silence for silence in silences if silence.is_active(now)]
    by_signature: dict[tuple[object, ...], list[Silence]] = {}
    for task in tasks:
        listed[task.id] = task
        task_routes = routes[task.id] if routes is not None else match_rules(ruleset, task, project)
        if not task_routes:
            continue
        muting = None
        if active:
            signature = TaskSignature.of(task, project)
            possible = by_signature.get(signature)
            if possible is None:
                possible = by_signature[signature] = [s for s in active if s.matcher.accepts(signature)]
            if possible:
                muting = [silence for silence in possible if silence.matcher.matches_details(task, project)]
        known = records.get(task.id)
        observation = Observation.from_listing(
            task,
            project,
            latest_record=known.latest if known else None,
            consecutive_failures=consecutive_failures(known.records) if known else None,
        )
        for route in task_routes:
            rule = route.rule
            fingerprint = alert_fingerprint(rule.name, project, task.id)
            seen.add(fingerprint)
            previous = states.get(fingerprint)
            silence = is_muted(muting, task, rule.name, now, project=project) if muting else None
            decision = decide(
                previous, observation, rule, silence=silence, now=now, listing_complete=complete
            )
            state = decision.new_state or previous
            if state is not None:
                result.decided.append(Decided(decision, state, rule, task, route.group_key))

    unseen = unseen_alerts(open_alerts, seen, listed.keys())
    for alert in unseen.still_listed:
        _decide_unseen(result, alert, Observation.unmatched(listed[alert.task_id], project), ruleset,
                       silences, complete, now)  # fmt: skip
    for alert in unseen.resolve_candidates:
        decision = _decide_unseen(
            result, alert, Observation.not_listed(alert.task_id, project), ruleset, silences, complete, now
        )
        if decision.needs_confirmation:
            result.to_confirm.append(alert)
    return result


def _decide_unseen(
    result: Evaluation,
    alert: AlertState,
    observation: Observation,
    ruleset: RuleSet,
    silences: Sequence[Silence],
    complete: bool,
    now: datetime,
) -> Decision:
    rule = ruleset.rule(alert.rule_name)
    silence = is_muted(silences, _silence_target(alert), alert.rule_name, now, project=alert.project)
    decision = decide(alert, observation, rule, silence=silence, now=now, listing_complete=complete)
    if decision.new_state is not None:
        result.decided.append(Decided(decision, decision.new_state, rule, None))
    return decision


def load_states(
    store: Store, fingerprints: Sequence[str], *, project: str | None = None
) -> tuple[dict[str, AlertState], dict[str, AlertState]]:
    """The stored states of these alerts, and every open alert (of `project`, when given: the alerts of
    the other projects a daemon watches are theirs to decide), by fingerprint. The open alerts are read
    first and only the other states looked up: in a steady cycle most matched alerts are open ones."""
    open_alerts = store.load_open_alerts()
    if project is not None:
        open_alerts = {fp: alert for fp, alert in open_alerts.items() if alert.project == project}
    states = {fp: open_alerts[fp] for fp in fingerprints if fp in open_alerts}
    states.update(store.load_alerts(fp for fp in fingerprints if fp not in open_alerts))
    return states, open_alerts


def _missed_runs_open(before: Mapping[str, AlertState], decided: Iterable[Decided]) -> bool:
    """Whether missed-run alerts stay open after this cycle's decisions."""
    still_open = {fingerprint for fingerprint, alert in before.items() if alert.overdue}
    for item in decided:
        if item.state.overdue:
            if item.state.is_open:
                still_open.add(item.state.fingerprint)
            else:
                still_open.discard(item.state.fingerprint)
    return bool(still_open)


def outbox_entries(
    decided: Iterable[Decided],
    *,
    default_channel: str | None,
    records: Mapping[str, TaskRecords],
    desktops: Mapping[str, Sequence[RecordDetail]],
    now: datetime,
    scripts: Mapping[str, Sequence[ScriptRecord]] | None = None,
) -> list[OutboxEntry]:
    """An outbox row for every decision that posts, replies or edits a message."""
    entries = []
    # A listed task's summary is the same in the payload of each of its alerts: built once.
    summaries: dict[tuple[str, bool], TaskSummary] = {}
    # A digest's group key as text: the same few values for thousands of alerts.
    group_keys: dict[tuple[tuple[str, str], ...], str] = {}
    for item in decided:
        decision = item.decision
        if not (decision.notify or decision.update_message):
            continue
        state = item.state
        known = records.get(state.task_id)
        summary = None
        if item.task is not None:
            summary_key = (item.task.id, state.overdue)
            summary = summaries.get(summary_key)
            if summary is None:
                summary = summaries[summary_key] = task_summary(state, item.task)
        payload = build_payload(
            decision,
            state,
            item.rule,
            task=item.task,
            now=now,
            records=known.records if known else (),
            failed_desktops=desktops.get(state.task_id, ()),
            script_records=scripts.get(state.task_id, ()) if scripts else (),
            summary=summary,
        )
        channel = (item.rule.channel if item.rule else None) or default_channel or ""
        group_key = group_keys.get(item.group_key)  # without group_by: (), whose text is ""
        if group_key is None:
            group_key = group_keys[item.group_key] = "&".join(f"{n}={v}" for n, v in item.group_key)
        entries.append(
            OutboxEntry(
                state.fingerprint,
                state.episode,
                decision.kind,
                channel,
                payload,
                now,  # created_at
                group_key,
                decision.notify,
                decision.update_message,
            )
        )
        if item.rule is not None and item.rule.pagerduty and _escalates(decision):
            entries.append(entries[-1]._replace(channel=PAGERDUTY_CHANNEL, notify=True, update_message=False))
    return entries


def _escalates(decision: Decision) -> bool:
    return (decision.kind in _PAGES and decision.notify) or decision.kind in _UNPAGES


@dataclass(frozen=True)
class DecisionNote:
    """A decision worth telling a person about (everything but a quiet NONE)."""

    kind: DecisionKind
    reason: str
    rule: str
    task_id: str
    task_name: str | None
    notify: bool


@dataclass
class CycleReport:
    started_at: datetime
    finished_at: datetime
    complete: bool
    tasks: int
    requests: int
    decisions: list[DecisionNote]
    outbox: list[OutboxEntry]
    problems: list[str]
    records_forbidden: bool = False


class Engine:
    """Runs poll cycles for one project against one store."""

    def __init__(
        self,
        *,
        client: WorkspaceClient,
        store: Store,
        ruleset: RuleSet,
        project: str,
        default_channel: str | None,
        clock: Callable[[], datetime] = utc_now,
        cycle_deadline: float | None = None,
        overdue_every: int = DEFAULT_OVERDUE_EVERY,
        history_listing: bool = False,
    ) -> None:
        self.client = client
        #: Every how many cycles all tasks are listed for missed runs and the run history (1: every cycle).
        self.overdue_every = max(1, overdue_every)
        #: Whether all tasks are listed every `overdue_every` cycles for the run history even without a rule
        #: with `overdue_after` (`reports:` read it: success rates need the runs of tasks that never fail).
        self.history_listing = history_listing
        # Where the next listing of every task starts its records lookups among the tasks without a next
        # execution time (see MAX_HISTORY_LOOKUPS).
        self._history_turn = 0
        # Cycles left before the next listing of all tasks: 0 lists now (the first cycle does). A failed
        # listing of all tasks leaves it at 0, so the next cycle tries again.
        self._overdue_countdown = 0
        self._overdue_routes: OverdueRoutes | None = None
        # Whether the last cycle found open missed-run alerts of this project: they are decided from the
        # listing of every task, which goes on (every `overdue_every` cycles) after the last rule with
        # `overdue_after` is removed, until they are closed.
        self._overdue_open = False
        #: The most one cycle may take (seconds); past it the cycle fails as an API failure would.
        self.cycle_deadline = cycle_deadline
        self.store = store
        self.ruleset = ruleset
        self.project = project
        self.default_channel = default_channel
        self._clock = clock
        # Once the records API says 401/403 it is not asked again until restart: the fallback (occurrences
        # told apart by last_status/next_execution_time) is what the operator has chosen by not granting it.
        self.records_forbidden = False
        # Where the next cycle's records lookups start among the tasks with alerts (see records_order).
        self._records_turn = 0
        # When each maintenance window closes or opens, worked out once, not every cycle.
        self._windows = WindowCache()

    async def run_cycle(self, *, persist: bool = True) -> CycleReport:
        """Poll, decide and (unless `persist` is False, for --dry-run) write state and outbox."""
        started = self._clock()
        deadline = asyncio.timeout(self.cycle_deadline)
        listing_wanted = self.history_listing or bool(self.overdue_routes) or self._overdue_open
        listing_turn = listing_wanted and self._overdue_countdown <= 0
        if not listing_turn:
            self._overdue_countdown -= 1
        try:
            async with deadline:
                everything: Listing | None = None
                if listing_turn:
                    # Side by side: the two listings share the client's concurrency bound and throttle.
                    listing, everything = await asyncio.gather(
                        self.client.fetch_failing(), self._list_everything()
                    )
                else:
                    listing = await self.client.fetch_failing()
                # See monitor/gc_pause.py for why the collector is paused, and why it runs during the lookups.
                with collector_paused():
                    # Persisting is synchronous: the deadline can end the cycle before it, never inside it.
                    report = await self._evaluate_listing(
                        listing, started, persist=persist, everything=everything
                    )
                if everything is not None:
                    self._overdue_countdown = self.overdue_every - 1
                return report
        except TimeoutError:
            if not deadline.expired():
                raise
            raise TransportError(
                f"the cycle did not finish within {self.cycle_deadline:g} s: the Workspace API answers too "
                "slowly",
                hint="check the API's health and workspace.timeout",
            ) from None

    @property
    def overdue_routes(self) -> OverdueRoutes:
        """The rules watching for missed runs (worked out again when the rule set is replaced)."""
        routes = self._overdue_routes
        if routes is None or routes.ruleset is not self.ruleset:
            routes = self._overdue_routes = OverdueRoutes(self.ruleset)
        return routes

    async def _list_everything(self) -> Listing | None:
        """Every task, LIFE_CYCLE ones included (the API lists them only when asked for: a listing of their
        own, side by side), paged as the failing listing is; None when it failed (missed runs and the run
        history wait for the next cycle)."""
        try:
            return await self.client.fetch_many([TaskFilter(), TaskFilter(scheduled_type="LIFE_CYCLE")])
        except WorkspaceError as exc:
            log.warning("cycle.overdue_listing_failed", project=self.project, error=str(exc))
            return None

    async def _evaluate_listing(
        self, listing: Listing, started: datetime, *, persist: bool, everything: Listing | None = None
    ) -> CycleReport:
        now = self._clock()
        tasks = listing.tasks
        # Decided in a call of its own: what only deciding needs (each task's matches and fingerprints, the
        # stored states, the lookups' answers) is gone before the writes, whose rows would otherwise add to it
        # (a mass failure's peak RSS, bench/findings.md).
        evaluation, records, entries, lookups_left, overdue_checked = await self._decide(
            listing, now, persist=persist, everything=everything
        )
        history_records: dict[str, TaskRecords] = {}
        if persist and everything is not None and self.history_listing:
            budget = min(MAX_HISTORY_LOOKUPS, lookups_left)
            with collector_running():  # up to MAX_HISTORY_LOOKUPS records lookups, before the cycle's write
                history_records = await self._records(
                    self._history_lookups(everything.tasks, records, budget)
                )
        if persist:
            self.store.apply_cycle(
                CycleChanges(
                    alerts=[item.state for item in evaluation.decided if item.decision.new_state is not None],
                    outbox=entries,
                    meta={
                        "last_cycle_at": now.isoformat(),
                        "last_cycle_complete": "yes" if listing.complete else "no",
                        "last_cycle_tasks": str(len(tasks)),
                        **(
                            {"last_overdue_check_at": now.isoformat()}
                            if overdue_checked and everything is not None and everything.complete
                            else {}
                        ),
                    },
                )
            )
            every_task = everything.tasks if everything is not None else ()
            self._record_runs(
                itertools.chain(tasks, every_task), evaluation.decided, {**history_records, **records}, now
            )
        notes = [
            DecisionNote(
                item.decision.kind,
                item.decision.reason,
                item.state.rule_name,
                item.state.task_id,
                item.state.task_name,
                item.decision.notify,
            )
            for item in evaluation.decided
            if item.decision.kind is not DecisionKind.NONE
        ]
        report = CycleReport(
            started_at=started,
            finished_at=self._clock(),
            complete=listing.complete,
            tasks=len(tasks),
            requests=listing.requests + (everything.requests if everything is not None else 0),
            decisions=notes,
            outbox=entries,
            problems=list(listing.problems),
            records_forbidden=self.records_forbidden,
        )
        log.info(
            "cycle.done",
            project=self.project,
            tasks=report.tasks,
            complete=report.complete,
            decisions=len(notes),
            outbox=len(entries),
            seconds=round((report.finished_at - started).total_seconds(), 3),
        )
        return report

    async def _decide(
        self, listing: Listing, now: datetime, *, persist: bool, everything: Listing | None
    ) -> _Decisions:
        """The listing's decisions (and, with the listing of every task, the missed runs'), their outbox
        entries, and the records the cycle fetched."""
        tasks = listing.tasks
        # Maintenance windows become silences holding at `now` (monitor/windows.py).
        silences = effective_silences(
            self.ruleset, [*self.ruleset.silences, *self.store.silences()], now, cache=self._windows
        )

        routes = {task.id: match_rules(self.ruleset, task, self.project) for task in tasks}
        fingerprints = {
            task_id: [alert_fingerprint(route.rule.name, self.project, task_id) for route in task_routes]
            for task_id, task_routes in routes.items()
        }
        states, all_open = load_states(
            self.store, [fp for fps in fingerprints.values() for fp in fps], project=self.project
        )
        # Missed-run alerts are decided from the listing of all tasks only (see _evaluate_overdue).
        open_alerts = {fp: alert for fp, alert in all_open.items() if not alert.overdue}
        missed_runs_open = len(open_alerts) < len(all_open)
        changed = [task for task in tasks if _changed(task, [states.get(fp) for fp in fingerprints[task.id]])]
        fresh = {task.id for task in changed if all(states.get(fp) is None for fp in fingerprints[task.id])}
        wanted = records_order(changed, fresh, turn=self._records_turn, limit=MAX_RECORD_LOOKUPS)
        self._records_turn += max(0, MAX_RECORD_LOOKUPS - len(fresh))
        with collector_running():  # one request per task looked up: up to MAX_RECORD_LOOKUPS
            records = await self._records(wanted, skipped=len(changed) - len(wanted))

        evaluation = evaluate(
            tasks,
            ruleset=self.ruleset,
            project=self.project,
            states=states,
            open_alerts=open_alerts.values(),
            silences=silences,
            records=records,
            complete=listing.complete,
            now=now,
            routes=routes,
        )
        with collector_running():  # one lookup per alert whose task left the listing: as many at a recovery
            confirmed, confirm_records = await self._confirm(evaluation.to_confirm, silences, now)
        evaluation.decided.extend(confirmed)
        records = {**records, **confirm_records}
        overdue_checked = everything is not None and (bool(self.overdue_routes) or missed_runs_open)
        if everything is not None and overdue_checked:
            with collector_running():  # up to MAX_OVERDUE_LOOKUPS records lookups, and the deleted tasks'
                overdue, overdue_records = await self._evaluate_overdue(everything, all_open, silences, now)
            evaluation.decided.extend(overdue)
            records = {**overdue_records, **records}
        if persist:
            self._overdue_open = _missed_runs_open(all_open, evaluation.decided)
        desktops, scripts = await self._message_details(evaluation.decided, records)
        entries = outbox_entries(
            evaluation.decided,
            default_channel=self.default_channel,
            records=records,
            desktops=desktops,
            scripts=scripts,
            now=now,
        )
        return _Decisions(evaluation, records, entries, MAX_RECORD_LOOKUPS - len(wanted), overdue_checked)

    def _history_lookups(
        self, every_task: Sequence[ScheduledTask], records: Mapping[str, TaskRecords], budget: int
    ) -> list[ScheduledTask]:
        """The tasks whose records a listing of every task looks up for the run history: the enabled triggered
        ones (LIFE_CYCLE: no next_execution_time, so the listing cannot show their runs; a one-off task ran
        once and is not looked up again) whose records this cycle did not fetch already, at most `budget`,
        from where the last listing stopped (wrapping around)."""
        blind = [
            task
            for task in every_task
            if task.scheduled_type == "LIFE_CYCLE" and task.enable is not False and task.id not in records
        ]
        if budget <= 0 or not blind:
            return []
        start = self._history_turn % len(blind)
        self._history_turn = start + budget
        return (blind[start:] + blind[:start])[:budget]

    def _record_runs(
        self,
        listed: Iterable[ScheduledTask],
        decided: Sequence[Decided],
        records: Mapping[str, TaskRecords],
        now: datetime,
    ) -> None:
        """Count the runs the listings (the failing one, and every task every `overdue_every` cycles, whose
        successes only it shows) and the tasks looked up show into the run history (monitor.history), with
        the records this cycle fetched; each task once, as listed first. After the cycle's own write: a
        failure here loses no alert, and the runs are counted by a later cycle (the marks did not move)."""
        looked_up = (item.task for item in decided if item.task is not None)
        try:
            counted = self.store.record_runs(
                self.project,
                # Made as the store writes them: a sighting per task, which all at once would add to the
                # cycle's peak (bench/findings.md).
                sightings_of(
                    _first_of_each(itertools.chain(listed, looked_up)),
                    {task_id: found.records for task_id, found in records.items()},
                ),
                now,
            )
        except StoreError as exc:
            log.warning("cycle.history_failed", project=self.project, error=str(exc))
            return
        if counted:
            log.debug("cycle.runs_counted", project=self.project, runs=counted)

    async def _evaluate_overdue(
        self,
        everything: Listing,
        open_alerts: Mapping[str, AlertState],
        silences: Sequence[Silence],
        now: datetime,
    ) -> tuple[list[Decided], dict[str, TaskRecords]]:
        """The missed-run alerts' decisions from the listing of all tasks, and the records looked up."""
        routes = self.overdue_routes
        late = late_tasks(everything.tasks, routes, now=now)
        fingerprints = [
            overdue_fingerprint(route.rule.name, self.project, task.id)
            for task in late
            for route in routes.match(task, self.project)
        ]
        states = {fp: open_alerts[fp] for fp in fingerprints if fp in open_alerts}
        states.update(self.store.load_alerts(fp for fp in fingerprints if fp not in open_alerts))
        alerted = {state.task_id for state in states.values() if state.is_open}
        # New candidates first: an alert about to be raised is worth the lookup most.
        wanted = sorted(late, key=lambda task: task.id in alerted)[:MAX_OVERDUE_LOOKUPS]
        if len(late) > len(wanted):
            log.warning(
                "cycle.overdue_lookups_capped", looked_up=len(wanted), without_records=len(late) - len(wanted)
            )
        records = await self._records(wanted)
        latest_starts = {
            task_id: found.latest.started_at if found.latest is not None else None
            for task_id, found in records.items()
        }
        evaluation = evaluate_overdue(
            everything.tasks,
            routes=routes,
            project=self.project,
            states=states,
            open_alerts=open_alerts.values(),
            silences=silences,
            latest_starts=latest_starts,
            complete=everything.complete,
            now=now,
        )
        decided = [Decided(*item) for item in evaluation.decided]
        for alert in evaluation.to_look_up:
            try:
                await self.client.get_task(alert.task_id)
            except NotFoundError:
                observation = Observation.looked_up(alert.task_id, alert.project, exists=False)
                rule = self.ruleset.rule(alert.rule_name)
                decision = decide(alert, observation, rule, silence=None, now=now, listing_complete=True)
                if decision.new_state is not None:
                    decided.append(Decided(decision, decision.new_state, rule, None))
            except ConfigurationError:
                raise
            except WorkspaceError as exc:
                log.warning("cycle.lookup_failed", task_id=alert.task_id, error=str(exc))
        return decided, records

    async def _records(self, tasks: Sequence[ScheduledTask], *, skipped: int = 0) -> dict[str, TaskRecords]:
        if self.records_forbidden or not tasks:
            return {}
        if skipped:
            log.warning("cycle.records_capped", looked_up=len(tasks), without_records=skipped)
        results = await asyncio.gather(*(self._task_records(task.id) for task in tasks))
        return {task.id: found for task, found in zip(tasks, results, strict=True) if found is not None}

    async def _task_records(self, task_id: str) -> TaskRecords | None:
        if self.records_forbidden:
            return None
        try:
            return TaskRecords(tuple(await self.client.list_records(task_id, limit=MAX_HISTORY)))
        except AuthError as exc:
            if not self.records_forbidden:
                log.warning("cycle.records_forbidden", error=str(exc))
            self.records_forbidden = True
        except WorkspaceError as exc:
            log.warning("cycle.records_failed", task_id=task_id, error=str(exc))
        return None

    async def _confirm(
        self, candidates: Sequence[AlertState], silences: Sequence[Silence], now: datetime
    ) -> tuple[list[Decided], dict[str, TaskRecords]]:
        """Look up each alert whose task left the failing listing; decide again on what that shows."""
        looked = await asyncio.gather(*(self._look_up(alert) for alert in candidates))
        decided: list[Decided] = []
        records: dict[str, TaskRecords] = {}
        for alert, lookup in zip(candidates, looked, strict=True):
            if lookup is None:
                continue
            if lookup.records is not None:
                records[alert.task_id] = lookup.records
            rule = self.ruleset.rule(alert.rule_name)
            silence = is_muted(silences, _silence_target(alert), alert.rule_name, now, project=alert.project)
            decision = decide(
                alert, lookup.observation, rule, silence=silence, now=now, listing_complete=True
            )
            if decision.new_state is not None:
                decided.append(Decided(decision, decision.new_state, rule, lookup.task))
        return decided, records

    async def _look_up(self, alert: AlertState) -> _Lookup | None:
        """The task's condition from the task itself; None when the lookup failed (the alert stays open)."""
        try:
            detail = await self.client.get_task(alert.task_id)
        except NotFoundError:
            return _Lookup(Observation.looked_up(alert.task_id, alert.project, exists=False))
        except ConfigurationError:
            # The wrong endpoint (APIGW.0101, a foreign 404): nothing closes, and the cycle fails loudly so
            # the "Workspace API" meta-alert fires at once.
            raise
        except WorkspaceError as exc:
            log.warning("cycle.lookup_failed", task_id=alert.task_id, error=str(exc))
            return None
        enabled = detail.extra_fields.get("enable") is not False
        found = await self._task_records(alert.task_id)
        if found is not None:
            latest = found.latest
            status = latest.status if latest else None
            task = _task_from_detail(detail, status)
            observation = Observation.looked_up(
                alert.task_id, alert.project, exists=True, last_status=status, enabled=enabled
            )
            return _Lookup(observation, task, found)
        # No records: the task's own line in a listing filtered by its name says how its last run went.
        listed = await self._listed(alert.task_id, detail.task_name or alert.task_name)
        if listed is None:
            observation = Observation.looked_up(alert.task_id, alert.project, exists=True, enabled=enabled)
            return _Lookup(observation, _task_from_detail(detail, None))
        observation = Observation.looked_up(
            alert.task_id,
            alert.project,
            exists=True,
            last_status=listed.last_status,
            enabled=enabled and listed.enable is not False,
        )
        return _Lookup(observation, listed)

    async def _listed(self, task_id: str, name: str | None) -> ScheduledTask | None:
        if not name:
            return None
        try:
            listing = await self.client.fetch_many(
                [TaskFilter(task_name=name), TaskFilter(task_name=name, scheduled_type="LIFE_CYCLE")]
            )
        except WorkspaceError as exc:
            log.warning("cycle.lookup_failed", task_id=task_id, error=str(exc))
            return None
        return next((task for task in listing.tasks if task.id == task_id), None)

    async def _message_details(
        self, decided: Sequence[Decided], records: Mapping[str, TaskRecords]
    ) -> tuple[dict[str, list[RecordDetail]], dict[str, list[ScriptRecord]]]:
        """The failed desktops, and for script tasks the failed desktops' script records with their output,
        of the executions this cycle's messages are about: at most MAX_MESSAGE_LOOKUPS requests in all
        (`monitor.notify.lookups`)."""
        wanted: list[Wanted] = []
        for item in decided:
            known = records.get(item.state.task_id)
            latest = known.latest if known else None
            if (
                item.decision.notify
                and item.decision.kind in _SHOWS_DESKTOPS
                and not item.state.overdue  # a missed run has no desktops; the last run's are old news
                and latest is not None
                and (latest.failed_num or latest.skip_num)
            ):
                task_type = latest.task_type or (item.task.task_type if item.task else None)
                wanted.append(Wanted(item.state.task_id, latest.id, task_type == "EXECUTE_SCRIPT"))
        plan = plan_lookups(wanted, MAX_DETAIL_LOOKUPS)
        found, listed = await asyncio.gather(
            asyncio.gather(*(self._details(item.task_id, item.record_id) for item in plan.details)),
            asyncio.gather(*(self._failed_scripts(item.record_id) for item in plan.scripts)),
        )
        desktops = {one.task_id: details for one, details in zip(plan.details, found, strict=True) if details}
        chosen = plan_outputs([[record.id for record in failed] for failed in listed], plan.spare)
        read = await asyncio.gather(
            *(asyncio.gather(*(self._script_output(record_id) for record_id in ids)) for ids in chosen)
        )
        outputs: dict[str, list[ScriptRecord]] = {}
        for script, failed, full in zip(plan.scripts, listed, read, strict=True):
            by_id = {record.id: record for record in full if record is not None}
            shown = [by_id.get(record.id, record) for record in failed[:MAX_SCRIPT_OUTPUTS]]
            if shown:
                outputs[script.task_id] = shown
        return desktops, outputs

    async def _details(self, task_id: str, record_id: str) -> list[RecordDetail]:
        try:
            details = await self.client.list_record_details(task_id, record_id, enough=_enough_failed)
        except WorkspaceError as exc:
            log.warning("cycle.details_failed", task_id=task_id, error=str(exc))
            return []
        return [detail for detail in details if detail.exec_status != "SUCCESS"]

    async def _failed_scripts(self, record_id: str) -> list[ScriptRecord]:
        """The failed desktops' script records of a scheduled execution (without output). The script task
        of a scheduled execution is taken to be its record id (the simulator's assumption: the API reference
        does not say how the two are linked)."""
        try:
            found = await self.client.list_script_records(record_id)
        except WorkspaceError as exc:
            log.warning("cycle.script_records_failed", record_id=record_id, error=str(exc))
            return []
        return [record for record in found if record.status != "SUCCESS"]

    async def _script_output(self, record_id: str) -> ScriptRecord | None:
        try:
            return await self.client.get_script_record(record_id)
        except WorkspaceError as exc:
            log.warning("cycle.script_output_failed", record_id=record_id, error=str(exc))
            return None


def _enough_failed(details: Sequence[RecordDetail]) -> bool:
    """Paging a record's desktops stops once a message has all the failed ones it shows (the rest is
    "and N more", counted by the record itself)."""
    return sum(detail.exec_status != "SUCCESS" for detail in details) >= MAX_FAILED_DESKTOPS


@dataclass(frozen=True)
class _Lookup:
    """What looking one task up found: its condition, and what a message about it can show."""

    observation: Observation
    task: ScheduledTask | None = None
    records: TaskRecords | None = None


def _task_from_detail(detail: TaskDetail, last_status: str | None) -> ScheduledTask:
    """A listing-shaped task from `get_task`'s answer, which has no status: that comes from the records."""
    return ScheduledTask(
        id=detail.id,
        task_name=detail.task_name,
        task_type=detail.task_type,
        scheduled_type=detail.scheduled_type,
        life_cycle_type=detail.life_cycle_type,
        last_status=last_status,
        description=detail.description,
        time_zone=detail.time_zone,
    )


def records_order(
    changed: Sequence[ScheduledTask], fresh: Collection[str], *, turn: int, limit: int
) -> list[ScheduledTask]:
    """The tasks whose records this cycle fetches, at most `limit`: tasks without any alert yet first (their
    messages are about to be posted), then the others from position `turn` on, wrapping around, so that a
    cap never leaves the same tasks without a look cycle after cycle.

    Why a cap: a mass failure would otherwise cost one request per failing task before anything is posted
    (10,000 x 50 ms / concurrency); the tasks left out are decided from the listing alone, as when the
    records API is forbidden, and their alerts go out without the execution history."""
    if len(changed) <= limit:
        return list(changed)
    new = [task for task in changed if task.id in fresh]
    known = [task for task in changed if task.id not in fresh]
    if known:
        start = turn % len(known)
        known = known[start:] + known[:start]
    return (new + known)[:limit]


def _first_of_each(tasks: Iterable[ScheduledTask]) -> Iterator[ScheduledTask]:
    """The first task of each id, in order, as they are taken."""
    seen: set[str] = set()
    for task in tasks:
        if task.id not in seen:
            seen.add(task.id)
            yield task


def _changed(task: ScheduledTask, states: Sequence[AlertState | None]) -> bool:
    """Whether the task's execution may differ from what its alerts know (then its records are fetched).

    Tasks without a next execution time (one-off and triggered ones) cannot show a new execution in the
    listing, so only their records can tell.
    """
    if not states or task.next_execution_time is None:
        return bool(states)
    return any(
        state is None
        or not state.is_open
        or state.last_status != task.last_status
        or state.next_execution_time != task.next_execution_time
        for state in states
    )
