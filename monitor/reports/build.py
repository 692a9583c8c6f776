"""A report's numbers, as a pure function of the run history and the open alerts (`build_report`).

    runs, fails, skips and the success rate of the period, against the period before (same length)
    the same per task type, and per rule (the rule that would alert on the task, as rules.index.match says
    for a failing run of it: first match, then `continue: true` ones)
    the tasks that failed most, the alerts still open, the OVERDUE ones among them
    a day-by-day series (runs and success rate) and the failures per task type: what the chart draws

A run succeeded when it neither failed nor was skipped. A rate is None for no runs (never 100% of nothing).
The result is plain JSON (an outbox payload), read by the renderers (monitor.slack.report) and the chart
(monitor.reports.chart).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fnmatch import fnmatchcase
from typing import Any

from monitor.decide import AlertState
from monitor.history import TaskDay
from monitor.rules.index import RuleSet
from monitor.rules.index import match as match_rules
from monitor.workspace.models import ScheduledTask

__all__ = ["OVERDUE", "TOP_FAILING", "Scope", "build_report", "period_days", "rate"]

#: The top failing tasks listed, and the open alerts named (the rest are counted).
TOP_FAILING = 10
OPEN_SHOWN = 10
#: The last_status an OVERDUE alert carries (issue 19 item 1), when that kind exists.
OVERDUE = "OVERDUE"


@dataclass(frozen=True)
class Scope:
    """What a report covers; empty means everything. A task is in scope when it is in one of `projects`,
    its name matches one of the `tasks` globs, and one of `rules` would alert on it."""

    rules: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()


def period_days(end: date, days: int) -> tuple[str, str, str]:
    """(first day of the period before, first day, end day excluded) as yyyy-mm-dd."""
    first = end - timedelta(days=days)
    return (first - timedelta(days=days)).isoformat(), first.isoformat(), end.isoformat()


def rate(runs: int, fails: int, skips: int) -> float | None:
    """The share of runs that succeeded, 0..1; None without runs."""
    return None if runs <= 0 else round((runs - fails - skips) / runs, 4)


class _Rules:
    """Per task, once (a report reads each task's many days): the rules that would alert on it, in scope,
    or None when the task is out of scope."""

    def __init__(self, ruleset: RuleSet | None, scope: Scope) -> None:
        self._ruleset = ruleset
        self._scope = scope
        self._known: dict[tuple[str, str, str | None, str | None], tuple[str, ...] | None] = {}

    def of(self, project: str, task_id: str, name: str | None, kind: str | None) -> tuple[str, ...] | None:
        key = (project, task_id, name, kind)
        if key in self._known:
            return self._known[key]
        matched: tuple[str, ...] = ()
        if self._ruleset is not None:
            task = ScheduledTask(id=task_id, task_name=name, task_type=kind, last_status="FAIL")
            matched = tuple(route.rule.name for route in match_rules(self._ruleset, task, project))
        scope = self._scope
        found = None
        if _in_scope(scope, project, name, matched):
            found = tuple(rule for rule in matched if not scope.rules or rule in scope.rules)
        self._known[key] = found
        return found


def _in_scope(scope: Scope, project: str, name: str | None, rules: Iterable[str]) -> bool:
    if scope.projects and project not in scope.projects:
        return False
    if scope.tasks and not any(fnmatchcase(name or "", glob) for glob in scope.tasks):
        return False
    return not scope.rules or any(rule in scope.rules for rule in rules)


_UNSEEN: list[Any] = []


class _Count:
    __slots__ = ("fails", "runs", "skips")

    def __init__(self) -> None:
        self.runs = self.fails = self.skips = 0

    def add_sums(self, runs: int, fails: int, skips: int) -> None:
        self.runs += runs
        self.fails += fails
        self.skips += skips

    def as_dict(self, previous: _Count | None) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "fails": self.fails,
            "skips": self.skips,
            "rate": rate(self.runs, self.fails, self.skips),
            "previous_rate": None
            if previous is None
            else rate(previous.runs, previous.fails, previous.skips),
        }


def build_report(
    *,
    name: str,
    end: date,
    days: int,
    rows: Sequence[TaskDay],
    ruleset: RuleSet | None,
    open_alerts: Iterable[AlertState],
    scope: Scope = Scope(),
) -> dict[str, Any]:
    """The report of the `days` days before `end` (excluded); `rows` hold the summary of those days and of
    the period before them (day by day, or per task dated the first day of that period: only its totals
    count), more are ignored."""
    before, first, end_day = period_days(end, days)
    rules = _Rules(ruleset, scope)
    total, earlier = _Count(), _Count()
    types: dict[str, _Count] = {}
    types_before: dict[str, _Count] = {}
    by_rule: dict[str, _Count] = {}
    by_rule_before: dict[str, _Count] = {}
    daily = {(end - timedelta(days=n)).isoformat(): [0, 0, 0] for n in range(days, 0, -1)}
    # One pass over the rows (days x tasks) adding into per-task sums; scope, rules and types are per task.
    # Per (project, task, name, type): [rules, runs, fails, skips, before: runs, fails, skips, last day].
    sums: dict[tuple[str, str, str | None, str | None], list[Any] | None] = {}
    for project, task_id, day, kind, task_name, runs, fails, skips in rows:
        if day < before or day >= end_day:
            continue
        key = (project, task_id, task_name, kind)
        acc = sums.get(key, _UNSEEN)
        if acc is _UNSEEN:
            matched = rules.of(project, task_id, task_name, kind)
            acc = sums[key] = None if matched is None else [matched, 0, 0, 0, 0, 0, 0, ""]
        if acc is None:
            continue
        if day >= first:
            acc[1] += runs
            acc[2] += fails
            acc[3] += skips
            acc[7] = max(acc[7], day)
            counts = daily[day]
            counts[0] += runs
            counts[1] += fails
            counts[2] += skips
        else:
            acc[4] += runs
            acc[5] += fails
            acc[6] += skips
    tasks: dict[tuple[str, str], list[Any]] = {}
    for (project, task_id, task_name, kind), acc in sums.items():
        if acc is None:
            continue
        now_sums, before_sums = acc[1:4], acc[4:7]
        total.add_sums(*now_sums)
        earlier.add_sums(*before_sums)
        types.setdefault(kind or "?", _Count()).add_sums(*now_sums)
        types_before.setdefault(kind or "?", _Count()).add_sums(*before_sums)
        for rule in acc[0]:
            by_rule.setdefault(rule, _Count()).add_sums(*now_sums)
            by_rule_before.setdefault(rule, _Count()).add_sums(*before_sums)
        if acc[1]:
            task = tasks.setdefault((project, task_id), [task_name, kind, 0, 0, 0, ""])
            if acc[7] >= task[5]:  # the name and type of its latest day
                task[0], task[1], task[5] = task_name or task[0], kind or task[1], acc[7]
            task[2] += acc[1]
            task[3] += acc[2]
            task[4] += acc[3]
    types = {kind: count for kind, count in types.items() if count.runs}
    by_rule = {rule: count for rule, count in by_rule.items() if count.runs}
    failing = sorted(
        ((key, task) for key, task in tasks.items() if task[3] + task[4] > 0),
        key=lambda item: (-(item[1][3] + item[1][4]), item[1][0] or "", item[0]),
    )
    alerts = sorted(
        (a for a in open_alerts if _in_scope(scope, a.project, a.task_name, (a.rule_name,))),
        key=lambda a: (a.opened_at, a.fingerprint),
    )
    overdue = [a for a in alerts if a.last_status == OVERDUE]
    return {
        "report": name,
        "days": days,
        "first": first,
        "last": (end - timedelta(days=1)).isoformat(),
        "end": end_day,
        "previous_first": before,
        "totals": total.as_dict(earlier),
        "by_type": _table(types, types_before),
        "by_rule": _table(by_rule, by_rule_before),
        "top_failing": [
            {
                "project": project,
                "task_id": task_id,
                "task_name": task[0],
                "task_type": task[1],
                "runs": task[2],
                "fails": task[3],
                "skips": task[4],
            }
            for (project, task_id), task in failing[:TOP_FAILING]
        ],
        "open_alerts": {"count": len(alerts), "items": [_alert(a) for a in alerts[:OPEN_SHOWN]]},
        "overdue": {"count": len(overdue), "items": [_alert(a) for a in overdue[:OPEN_SHOWN]]},
        "daily": [
            {"day": day, "runs": r, "fails": f, "skips": k, "rate": rate(r, f, k), "previous_rate": None}
            for day, (r, f, k) in daily.items()
        ],
        "failures_by_type": [
            {"task_type": kind, "fails": count.fails, "skips": count.skips}
            for kind, count in sorted(
                types.items(), key=lambda item: (-item[1].fails - item[1].skips, item[0])
            )
        ],
    }


def _table(now: Mapping[str, _Count], before: Mapping[str, _Count]) -> list[dict[str, Any]]:
    return [{"name": key, **count.as_dict(before.get(key, _Count()))} for key, count in sorted(now.items())]


def _alert(alert: AlertState) -> dict[str, Any]:
    return {
        "rule": alert.rule_name,
        "project": alert.project,
        "task_id": alert.task_id,
        "task_name": alert.task_name,
        "last_status": alert.last_status,
        "since": alert.opened_at.isoformat(),
        "acknowledged_by": alert.acknowledged_by,
    }
