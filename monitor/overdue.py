"""Missed runs (OVERDUE): which tasks missed a scheduled run, and the alert decisions that follow (pure).

A rule with `overdue_after` watches the tasks it matches for runs that never happened. A task has missed
its run when it is enabled, scheduled (not LIFE_CYCLE: a triggered task runs when its event fires, it has no
run to miss), its `next_execution_time` (in its `time_zone`) is more than `overdue_after` in the past, and no
execution has started since that time. When it runs, the API moves `next_execution_time` on, so a task whose
next run is still in the past did not run; the latest execution record, when the caller has it, catches the
case where a run happened and the listing was not moved on (a one-off task, a stale listing).

Times:

- A wall time that a DST change makes ambiguous (02:30 on the night clocks go back) or skips (02:30 on the
  night they go forward) is read as its later instant: nobody is told of a missed run before every reading
  of the due time is `overdue_after` old.
- Clocks differ: the scheduler's, the one that stamps records, ours. A run that started up to CLOCK_SKEW
  before the due time is that run; `overdue_after` (at least a minute) covers our clock being ahead.
- A due time without an offset, in a zone we do not know, cannot be placed: such a task never goes overdue
  (a false page at 3 a.m. costs more than a missed one caught by its failure alert).

Routing: among the rules with `overdue_after`, in file order, the first whose `match:` accepts the task (and
those after it while `continue: true`); `match.last_status` does not apply (a missed run has no status).
Each (rule, task) has its own alert (`overdue_fingerprint`), apart from the task's failure alert.

`evaluate_overdue` decides every such alert from a listing of all tasks (`Engine` lists them every
`workspace.overdue_every` cycles): OVERDUE observations raise or keep them, a listed task that is on schedule
resolves them, a disabled or no longer matched one closes them, and an alert whose task is not in a complete
listing is returned for a lookup (deleted: closed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from monitor.decide import (
    AlertState,
    Decision,
    Observation,
    decide,
    overdue_fingerprint,
)
from monitor.rules.index import RuleSet
from monitor.rules.matcher import TaskMatcher
from monitor.rules.model import MatchedRoute, Rule
from monitor.silences import Silence, is_muted
from monitor.workspace.models import ScheduledTask, api_instant

__all__ = [
    "CLOCK_SKEW",
    "OverdueDecided",
    "OverdueEvaluation",
    "OverdueRoutes",
    "due_instant",
    "evaluate_overdue",
    "missed_run",
    "watches_missed_runs",
]

#: A run that started this long before the due time still counts as that run (clocks differ).
CLOCK_SKEW = timedelta(minutes=2)
_TRIGGERED = "LIFE_CYCLE"


def watches_missed_runs(task: ScheduledTask) -> bool:
    """Whether the task can miss a run at all: enabled (not `enable: false`) and scheduled, not triggered."""
    return task.enable is not False and task.scheduled_type != _TRIGGERED and task.life_cycle_type is None


def due_instant(task: ScheduledTask) -> datetime | None:
    """The instant of the task's next run (UTC); the later one when its wall time is ambiguous or skipped
    in its zone; None when it cannot be known (absent, unreadable, a zone we do not know)."""
    moment = api_instant(task.next_execution_time, task.time_zone)
    if moment is None:
        return None
    if isinstance(moment.tzinfo, ZoneInfo):
        # fold=0 and fold=1 differ only at a DST change: there, the later of the two.
        return max(moment.astimezone(UTC), moment.replace(fold=1).astimezone(UTC))
    return moment.astimezone(UTC)


def missed_run(
    task: ScheduledTask,
    *,
    overdue_after: timedelta,
    now: datetime,
    latest_start: datetime | None = None,
) -> datetime | None:
    """The due instant of the run `task` missed, if it is overdue at `now`; else None.

    `latest_start` is when its latest execution started, when known (records looked up)."""
    if not watches_missed_runs(task):
        return None
    due = due_instant(task)
    if due is None or now - due <= overdue_after:
        return None
    expires = api_instant(task.expire_time, task.time_zone)
    if expires is not None and expires <= due:
        return None  # it expired before that run: it will never run again, and nobody expects it to
    if latest_start is not None and latest_start >= due - CLOCK_SKEW:
        return None  # it ran (the listing was not moved on yet)
    return due


def _without_last_status(matcher: TaskMatcher) -> TaskMatcher:
    return TaskMatcher(
        tuple((key, accepted) for key, accepted in matcher.conditions if key.name != "last_status")
    )


@dataclass(frozen=True)
class OverdueRoutes:
    """The rules with `overdue_after`, in file order, each with its matcher less `last_status`."""

    ruleset: RuleSet
    _rules: tuple[tuple[Rule, TaskMatcher], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rules = tuple(
            (rule, _without_last_status(rule.matcher))
            for rule in self.ruleset.rules
            if rule.overdue_after is not None
        )
        object.__setattr__(self, "_rules", rules)

    def __bool__(self) -> bool:
        return bool(self._rules)

    @property
    def shortest(self) -> timedelta | None:
        """The smallest `overdue_after`: a task due more recently than that is overdue for no rule."""
        return min((rule.overdue_after for rule, _ in self._rules if rule.overdue_after), default=None)

    def rule(self, name: str) -> Rule | None:
        """The rule of that name if it (still) watches for missed runs."""
        rule = self.ruleset.rule(name)
        return rule if rule is not None and rule.overdue_after is not None else None

    def match(self, task: ScheduledTask, project: str) -> list[MatchedRoute]:
        """The rules watching `task` for missed runs: the first that matches, and those after it while the
        matching rules say `continue: true`."""
        routes: list[MatchedRoute] = []
        for rule, matcher in self._rules:
            if matcher.matches(task, project):
                routes.append(self.ruleset.route(rule, task, project))
                if not rule.continue_matching:
                    break
        return routes


class OverdueDecided(NamedTuple):
    """One decision about a missed-run alert, as `engine.Decided` holds it (same fields, same order)."""

    decision: Decision
    state: AlertState
    rule: Rule | None
    task: ScheduledTask | None
    group_key: tuple[tuple[str, str], ...] = ()


@dataclass
class OverdueEvaluation:
    decided: list[OverdueDecided] = field(default_factory=list)
    #: Open missed-run alerts whose task was not in the (complete) listing: look it up (404: closed).
    to_look_up: list[AlertState] = field(default_factory=list)


def late_tasks(
    tasks: Iterable[ScheduledTask], routes: OverdueRoutes, *, now: datetime
) -> list[ScheduledTask]:
    """The tasks that may be overdue for some rule (listing alone): whose records are worth a look."""
    shortest = routes.shortest
    if shortest is None:
        return []
    return [task for task in tasks if missed_run(task, overdue_after=shortest, now=now) is not None]


def evaluate_overdue(
    tasks: Sequence[ScheduledTask],
    *,
    routes: OverdueRoutes,
    project: str,
    states: Mapping[str, AlertState],
    open_alerts: Iterable[AlertState],
    silences: Sequence[Silence],
    latest_starts: Mapping[str, datetime | None],
    complete: bool,
    now: datetime,
) -> OverdueEvaluation:
    """Decide every missed-run alert of `project` from a listing of its tasks.

    `states`: the stored state of each alert by fingerprint (open or closed, as far as the caller loaded
    them: at least those of the late tasks); `open_alerts`: the open missed-run alerts of the project;
    `latest_starts`: when each task's latest execution started, for the tasks whose records were looked up.
    """
    result = OverdueEvaluation()
    listed = {task.id: task for task in tasks}
    seen: set[str] = set()
    for task in late_tasks(tasks, routes, now=now):
        for route in routes.match(task, project):
            watching = route.rule
            assert watching.overdue_after is not None  # OverdueRoutes holds only those
            fingerprint = overdue_fingerprint(watching.name, project, task.id)
            seen.add(fingerprint)
            missed = missed_run(
                task, overdue_after=watching.overdue_after, now=now, latest_start=latest_starts.get(task.id)
            )
            observation = (
                Observation.overdue(task, project)
                if missed is not None
                else Observation.on_schedule(task, project)
            )
            previous = states.get(fingerprint)
            _decide(result, previous, observation, watching, task, route, silences, complete, now)
    for alert in open_alerts:
        if not alert.overdue or alert.fingerprint in seen or alert.project != project:
            continue
        listed_task = listed.get(alert.task_id)
        if listed_task is None:
            if complete:
                result.to_look_up.append(alert)
            continue
        rule = routes.rule(alert.rule_name)
        if rule is not None and all(
            route.rule.name != rule.name for route in routes.match(listed_task, project)
        ):
            observation = Observation.unmatched(listed_task, project)
        else:
            # On schedule; or the rule was removed (None: closed), or no longer has overdue_after (closed).
            observation = Observation.on_schedule(listed_task, project)
        rule = rule or routes.ruleset.rule(alert.rule_name)
        _decide(result, alert, observation, rule, listed_task, None, silences, complete, now)
    return result


def _decide(
    result: OverdueEvaluation,
    previous: AlertState | None,
    observation: Observation,
    rule: Rule | None,
    task: ScheduledTask,
    route: MatchedRoute | None,
    silences: Sequence[Silence],
    complete: bool,
    now: datetime,
) -> None:
    name = rule.name if rule is not None else (previous.rule_name if previous is not None else "")
    silence = is_muted(silences, task, name, now, project=observation.project)
    decision = decide(previous, observation, rule, silence=silence, now=now, listing_complete=complete)
    state = decision.new_state or previous
    if state is not None:
        group_key = route.group_key if route is not None else ()
        result.decided.append(OverdueDecided(decision, state, rule, task, group_key))
