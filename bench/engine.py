"""Engine benchmark: the CPU time of one poll cycle's match + decide + persist, indexed against a naive loop.

What one cycle costs once the listing is in memory, for a mass failure: 20,000 failing tasks (FAIL and SKIP,
from the simulator's generator: every task type and schedule, LIFE_CYCLE tasks with priorities, a dozen time
zones, Unicode and hostile names, disabled tasks; a fixed seed) against a rule file of 100 rules (task_type,
last_status, scheduled_type, globs, `re:` names, task ids, priority ranges, group_by, some `continue: true`, a
catch-all last) and three silences, loaded with `load_rules_text`. Measured with `time.process_time` (CPU,
so the other processes of a shared machine count less than in wall time), per phase:

    match    `rules.index.match` for every task (ours: candidates indexed by the signature keys), or the naive
             loop: every rule's `matcher.matches(task, project)` for every task, in order, honouring
             `continue` - what an unindexed implementation does
    decide   `evaluate(..., routes=...)` (silences and `decide` for every (rule, task) pair, the open alerts
             no task produced) + `outbox_entries` (the payload of each message)
    persist  `SQLiteStore.apply_cycle` of the new states, outbox rows and meta, in one transaction, into a
             fresh state file in a temporary directory
    cycle    the sum of the three

for two cycles: the FIRST (empty state: every alert is NEW, records of every task known, as after a mass
failure) and a STEADY-STATE one a minute later over the same tasks with the stored state (nothing changed:
no writes, no messages; "near zero for unchanged ones"). Loading that state from the store for the second
cycle is shown apart ("load"): the engine does it too, but it is store I/O, not match + decide + persist.
Both sides make the same decisions (checked before timing); each figure is the median of `--runs` runs
with `gc.collect()` before each measurement, ours and naive alternating. Both run as `Engine.run_cycle`
does, with the cyclic garbage collector paused for the cycle (monitor/gc_pause.py); ours is run once more
per round with the collector left on, and that figure is printed too.

Targets (the engine issue): the first cycle under 1 s of CPU, and our match at least 5x faster than "a plain
loop that checks every rule for every task" (match time of that loop / ours, same tasks and rules; timed
apart, match only). The naive column is a stricter baseline, a loop that stops at the first match as rules
say; its ratio is printed, not held to the target. The whole-cycle ratio is printed too; it cannot reach
5x, since decide and persist are the same work on both sides. Exits 1 when a target is missed.

    .venv/bin/python bench/engine.py [--tasks 20000] [--rules 100] [--runs 5] [--seed 7]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from monitor.decide import AlertState, alert_fingerprint
from monitor.devtools.sim.data import generate_tasks
from monitor.devtools.sim.entities import SimTask
from monitor.devtools.sim.options import DEFAULT_PROJECT_ID
from monitor.devtools.sim.wire import list_entry, record_detail_entry, record_entry
from monitor.engine import (
    MAX_DETAIL_LOOKUPS,
    Evaluation,
    TaskRecords,
    evaluate,
    load_states,
    outbox_entries,
)
from monitor.gc_pause import collector_paused
from monitor.logs import configure_logging
from monitor.notify.payload import MAX_HISTORY
from monitor.rules.index import RuleSet, match
from monitor.rules.load import load_rules_text
from monitor.rules.matcher import ALERTABLE_STATUSES
from monitor.rules.model import MatchedRoute
from monitor.store.base import CycleChanges, OutboxEntry
from monitor.store.sqlite import SQLiteStore
from monitor.workspace.models import ExecutionRecord, RecordDetail, ScheduledTask

PROJECT = DEFAULT_PROJECT_ID
DEFAULT_CHANNEL = "#desktop-ops"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLL_INTERVAL = timedelta(seconds=60)
CYCLE_TARGET = 1.0  # seconds of CPU for the first cycle
MATCH_SPEEDUP_TARGET = 5.0  # naive match time / our match time

# The simulator's vocabulary (monitor/devtools/sim/data.py): the rules below use the names it makes.
ENVS = ("prod", "staging", "finance", "callcenter", "hr", "eng", "lab", "dev")
TYPE_GROUPS = (
    ("power", ("START", "STOP", "REBOOT", "HIBERNATE")),
    ("rebuild", ("REBUILD",)),
    ("scripts", ("EXECUTE_SCRIPT",)),
    ("snapshots", ("CREATE_SNAPSHOT",)),
)
ONCALL = "<!subteam^S0123456789|@desktop-oncall>"

Matcher = Callable[[ScheduledTask], list[MatchedRoute]]


# ----------------------------------------------------------------------------------------------------------
# The workload.


@dataclass(frozen=True)
class Workload:
    tasks: list[ScheduledTask]
    records: dict[str, TaskRecords]
    desktops: dict[str, list[RecordDetail]]
    ruleset: RuleSet


def make_tasks(count: int, seed: int) -> tuple[list[ScheduledTask], dict[str, TaskRecords], list[SimTask]]:
    """`count` listed tasks, 80% FAIL and 20% SKIP, with their execution records (newest first), as the
    client would have parsed them from the API's JSON."""
    sim_tasks = generate_tasks(count, fail_rate=0.8, skip_rate=0.2, seed=seed, now=NOW)
    tasks = [ScheduledTask.model_validate(list_entry(task)) for task in sim_tasks]
    records = {
        task.id: TaskRecords(
            tuple(ExecutionRecord.model_validate(record_entry(task, r)) for r in task.records[:MAX_HISTORY])
        )
        for task in sim_tasks
    }
    return tasks, records, sim_tasks


def failed_desktops(sim_tasks: Sequence[SimTask]) -> dict[str, list[RecordDetail]]:
    """What the engine's per-desktop lookups find: at most MAX_DETAIL_LOOKUPS tasks' failed desktops."""
    found: dict[str, list[RecordDetail]] = {}
    for task in sim_tasks:
        if len(found) == MAX_DETAIL_LOOKUPS:
            break
        if task.records:
            latest = task.records[0]
            found[task.id] = [
                RecordDetail.model_validate(record_detail_entry(task, latest, detail))
                for detail in latest.details
                if detail.exec_status != "SUCCESS"
            ]
    return found


def _rule(name: str, match: Mapping[str, Any] | None = None, **settings: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"name": name}
    if match:
        rule["match"] = dict(match)
    rule.update(settings)
    return rule


def _specific_rules(pinned_ids: Sequence[str]) -> list[dict[str, Any]]:
    """What a rule file starts with: audit copies, pinned tasks, regular expressions, priorities, teams."""
    pinned = [
        _rule(
            f"pinned-{k}",
            {"id": list(pinned_ids[3 * k : 3 * k + 3]) or ["00000000-0000-4000-8000-000000000000"]},
            channel="#desktop-vip",
            severity="critical",
            repeat_interval="30m",
        )
        for k in range(3)
    ]
    return [
        _rule("audit-prod", {"task_name": ["prod-*", "finance-*"]}, channel="#desktop-audit",
              severity="info", repeat_interval=0, notify_resolved=False, **{"continue": True}),
        _rule("audit-rebuilds", {"task_type": ["REBUILD", "CREATE_SNAPSHOT"], "last_status": "FAIL"},
              channel="#desktop-audit", severity="info", repeat_interval=0, **{"continue": True}),
        *pinned,
        _rule("hostile-names", {"task_name": "re:.*[<>&].*"}, channel="#desktop-security",
              severity="critical"),
        _rule("nightly-maintenance",
              {"task_name": "re:[a-z]+-(reboot|restart|snapshot|backup)-nightly-[0-9]+",
               "scheduled_type": "DAY"},
              channel="#desktop-nightly", severity="info", repeat_interval=0, notify_resolved=False),
        _rule("month-end-finance", {"task_name": "re:finance-[a-z-]+-(month-end|monthly|quarterly)-[0-9]+"},
              channel="#finance-desktops", severity="critical", mention=ONCALL),
        _rule("cutovers", {"scheduled_type": "FIXED_TIME", "task_name": ["*-migration-*", "*-cutover-*"]},
              channel="#desktop-projects", severity="critical", **{"continue": True}),
        _rule("unicode-teams",
              {"task_name": ["财务部 *", "会議室 PC *", "Отдел продаж *", "Équipe Paris – *"]},
              channel="#desktop-intl", group_by=["task_type"]),
        _rule("training-rooms", {"task_name": "Salle de formation *"}, channel="#desktop-intl",
              severity="info"),
        _rule("triggered-high-priority",
              {"scheduled_type": "LIFE_CYCLE", "priority": {"min": 1, "max": 3},
               "life_cycle_type": ["POST_DESKTOP_DISCONNECTED", "POST_CREATE_DESKTOP_SUCCESS"]},
              channel="#desktop-ops", severity="critical", repeat_interval="1h"),
        _rule("triggered-mid-priority",
              {"scheduled_type": "LIFE_CYCLE", "priority": [{"min": 4, "max": 6}, 9]},
              channel="#desktop-ops", severity="warning"),
        _rule("weekend-patching",
              {"task_type": "EXECUTE_SCRIPT", "task_name": "re:.*-(patch|gpo-update)-weekend-.*"},
              channel="#desktop-patching", min_failures=2, repeat_interval="1d"),
    ]  # fmt: skip


def _team_rules() -> list[dict[str, Any]]:
    """Per environment and kind of task, FAIL and SKIP apart: the bulk of a real file."""
    rules = []
    for env, (group, types) in itertools.product(ENVS, TYPE_GROUPS):
        critical = env in ("prod", "finance") or group == "rebuild"
        fail = _rule(
            f"{env}-{group}-failed",
            {"task_type": list(types), "last_status": "FAIL", "task_name": f"{env}-*"},
            channel=f"#desktop-{env}",
            severity="critical" if critical else "warning",
            repeat_interval="1h" if critical else "4h",
        )
        if env == "prod" and group == "power":
            fail.update(mention=ONCALL, group_by=["task_type"])
        if group == "scripts":
            fail.update(min_failures=3, repeat_interval="1d")
        skip = _rule(
            f"{env}-{group}-skipped",
            {"task_type": list(types), "last_status": "SKIP", "task_name": f"{env}-*"},
            channel=f"#desktop-{env}",
            severity="info",
            repeat_interval="1d",
            notify_resolved=False,
        )
        rules += [fail, skip]
    return rules


def _batch_rules() -> Iterator[dict[str, Any]]:
    """Sub-teams owning a range of task numbers (`prod-*-01?`): as many as wanted, to reach `--rules`."""
    for block in itertools.count():
        for env in ENVS:
            yield _rule(
                f"{env}-batch-{block:03d}",
                {"task_name": f"{env}-*-{block:02d}?", "last_status": "FAIL"},
                channel=f"#desktop-{env}-batch",
                severity="warning",
                **({"continue": True} if block % 3 == 0 else {}),
            )


_WIDE_RULES = [
    _rule("rebuilds", {"task_type": "REBUILD"}, channel="#desktop-ops", severity="critical"),
    _rule("scripts", {"task_type": "EXECUTE_SCRIPT", "last_status": "FAIL"}, channel="#desktop-scripts",
          min_failures=3, repeat_interval="1d"),
    _rule("triggered", {"scheduled_type": "LIFE_CYCLE"}, channel="#desktop-ops", severity="info"),
    _rule("skipped", {"last_status": "SKIP"}, channel="#desktop-info", severity="info", repeat_interval="1d",
          notify_resolved=False),
]  # fmt: skip
_CATCH_ALL = _rule("everything-else", severity="warning", repeat_interval="12h")
_SILENCES = [
    {"match": {"task_name": "lab-*"}, "until": "2030-01-01T00:00:00Z",
     "comment": "lab desktops are rebuilt by hand"},
    {"match": {"task_type": "EXECUTE_SCRIPT", "task_name": "dev-*"}, "rule": ["scripts"],
     "until": "2026-06-30T18:00:00+08:00", "comment": "script server migration, ticket OPS-1234"},
    {"match": {"scheduled_type": "LIFE_CYCLE", "priority": {"min": 8}}, "until": "2026-03-09T00:00:00Z",
     "comment": "low-priority triggers are noisy this week"},
]  # fmt: skip


def make_rule_text(count: int, pinned_ids: Sequence[str]) -> str:
    """A rule file of `count` rules: specific ones (three pinning three tasks each, of `pinned_ids`),
    per-team ones (batch rules in between when more are wanted than these), type-wide ones, and a
    catch-all last."""
    if count < 1:
        raise ValueError("at least one rule (the catch-all)")
    specific = _specific_rules(pinned_ids)
    fixed = specific + _team_rules() + _WIDE_RULES
    head = fixed[: count - 1]
    extra = list(itertools.islice(_batch_rules(), max(0, count - 1 - len(fixed))))
    rules = [*head[: len(specific)], *extra, *head[len(specific) :], _CATCH_ALL]
    return yaml.safe_dump(
        {"rules": rules, "silences": _SILENCES}, allow_unicode=True, sort_keys=False, width=200
    )


def make_workload(tasks: int, rules: int, seed: int) -> Workload:
    listed, records, sim_tasks = make_tasks(tasks, seed)
    pinned = random.Random(seed).sample([task.id for task in listed], min(9, len(listed)))
    ruleset = load_rules_text(make_rule_text(rules, pinned), "bench-rules.yaml")
    return Workload(listed, records, failed_desktops(sim_tasks), ruleset)


# ----------------------------------------------------------------------------------------------------------
# The two ways of matching.


def indexed_matcher(ruleset: RuleSet) -> Matcher:
    def ours(task: ScheduledTask) -> list[MatchedRoute]:
        return match(ruleset, task, PROJECT)

    return ours


def naive_matcher(ruleset: RuleSet) -> Matcher:
    """Every rule's whole matcher against every task, in file order, stopping at the first match that does
    not say `continue: true`."""

    def naive(task: ScheduledTask) -> list[MatchedRoute]:
        if task.last_status not in ALERTABLE_STATUSES:
            return []
        routes = []
        for rule in ruleset.rules:
            if rule.matcher.matches(task, PROJECT):
                routes.append(ruleset.route(rule, task, PROJECT))
                if not rule.continue_matching:
                    break
        return routes

    return naive


def every_rule_matcher(ruleset: RuleSet) -> Matcher:
    """The issue's baseline taken at its word, "a plain loop that checks every rule for every task": every
    rule's matcher asked, then the routes picked in file order honouring `continue`."""

    def every_rule(task: ScheduledTask) -> list[MatchedRoute]:
        if task.last_status not in ALERTABLE_STATUSES:
            return []
        verdicts = [rule.matcher.matches(task, PROJECT) for rule in ruleset.rules]
        routes = []
        for rule, matched in zip(ruleset.rules, verdicts, strict=True):
            if matched:
                routes.append(ruleset.route(rule, task, PROJECT))
                if not rule.continue_matching:
                    break
        return routes

    return every_rule


def time_match(work: Workload, matcher: Matcher) -> tuple[float, dict[str, list[MatchedRoute]]]:
    """CPU seconds to match every task, as in `run_cycle` (collector paused), and the routes."""
    gc.collect()
    with collector_paused():
        started = time.process_time()
        routes = {task.id: matcher(task) for task in work.tasks}
        return time.process_time() - started, routes


# ----------------------------------------------------------------------------------------------------------
# One cycle, timed by phase.


@dataclass(frozen=True)
class Phases:
    match: float
    decide: float
    persist: float

    @property
    def cycle(self) -> float:
        return self.match + self.decide + self.persist


@dataclass(frozen=True)
class CycleResult:
    phases: Phases
    routes: dict[str, list[MatchedRoute]]
    evaluation: Evaluation
    outbox: list[OutboxEntry]
    written: int


def run_cycle(
    work: Workload,
    matcher: Matcher,
    store: SQLiteStore,
    *,
    states: Mapping[str, AlertState],
    open_alerts: Sequence[AlertState],
    records: Mapping[str, TaskRecords],
    desktops: Mapping[str, Sequence[RecordDetail]],
    now: datetime,
    pause: bool = True,
) -> CycleResult:
    gc.collect()
    # As Engine.run_cycle: the collector paused while the cycle's objects are made (monitor/gc_pause.py).
    with collector_paused() if pause else contextlib.nullcontext():
        return _timed_cycle(work, matcher, store, states, open_alerts, records, desktops, now)


def _timed_cycle(
    work: Workload,
    matcher: Matcher,
    store: SQLiteStore,
    states: Mapping[str, AlertState],
    open_alerts: Sequence[AlertState],
    records: Mapping[str, TaskRecords],
    desktops: Mapping[str, Sequence[RecordDetail]],
    now: datetime,
) -> CycleResult:
    started = time.process_time()
    routes = {task.id: matcher(task) for task in work.tasks}
    matched = time.process_time()
    evaluation = evaluate(
        work.tasks,
        ruleset=work.ruleset,
        project=PROJECT,
        states=states,
        open_alerts=open_alerts,
        silences=work.ruleset.silences,
        records=records,
        complete=True,
        now=now,
        routes=routes,
    )
    entries = outbox_entries(
        evaluation.decided, default_channel=DEFAULT_CHANNEL, records=records, desktops=desktops, now=now
    )
    decided = time.process_time()
    alerts = [item.state for item in evaluation.decided if item.decision.new_state is not None]
    store.apply_cycle(
        CycleChanges(
            alerts=alerts,
            outbox=entries,
            meta={
                "last_cycle_at": now.isoformat(),
                "last_cycle_complete": "yes",
                "last_cycle_tasks": str(len(work.tasks)),
            },
        )
    )
    persisted = time.process_time()
    phases = Phases(matched - started, decided - matched, persisted - decided)
    return CycleResult(phases, routes, evaluation, entries, len(alerts))


def load_state(
    store: SQLiteStore, routes: Mapping[str, Sequence[MatchedRoute]]
) -> tuple[dict[str, AlertState], list[AlertState], float]:
    """The stored state of every matched alert and the open alerts, as the engine loads them; CPU seconds."""
    gc.collect()
    started = time.process_time()
    fingerprints = [
        alert_fingerprint(route.rule.name, PROJECT, task_id)
        for task_id, task_routes in routes.items()
        for route in task_routes
    ]
    states, open_alerts = load_states(store, fingerprints)
    return states, list(open_alerts.values()), time.process_time() - started


def steady_records(
    tasks: Sequence[ScheduledTask], records: Mapping[str, TaskRecords]
) -> dict[str, TaskRecords]:
    """The records the engine asks for when nothing changed: only of tasks without a next execution time
    (one-off and triggered ones), whose listing cannot show a new execution (see engine._changed)."""
    return {task.id: records[task.id] for task in tasks if task.next_execution_time is None}


@dataclass(frozen=True)
class RunResult:
    first: CycleResult
    steady: CycleResult
    load: float

    def timing(self) -> RunTiming:
        return RunTiming(self.first.phases, self.steady.phases, self.load)


@dataclass(frozen=True)
class RunTiming:
    """What is kept of a run: the results themselves would grow the heap, and so slow the next runs'
    garbage collections, run after run."""

    first: Phases
    steady: Phases
    load: float


def run_once(
    work: Workload, matcher: Matcher, directory: Path, label: str, *, pause: bool = True
) -> RunResult:
    """A first cycle into a fresh state file, then a steady-state cycle a poll interval later."""
    path = directory / f"{label}.db"
    for stale in directory.glob(f"{label}.db*"):
        stale.unlink()
    with SQLiteStore.open(path) as store:
        first = run_cycle(
            work, matcher, store, states={}, open_alerts=[], records=work.records, desktops=work.desktops,
            now=NOW, pause=pause,
        )  # fmt: skip
        states, open_alerts, load = load_state(store, first.routes)
        steady = run_cycle(
            work, matcher, store, states=states, open_alerts=open_alerts,
            records=steady_records(work.tasks, work.records), desktops={}, now=NOW + POLL_INTERVAL,
            pause=pause,
        )  # fmt: skip
    return RunResult(first, steady, load)


def route_names(routes: Mapping[str, Sequence[MatchedRoute]]) -> dict[str, list[tuple[str, object]]]:
    return {task_id: [(r.rule.name, r.group_key) for r in found] for task_id, found in routes.items()}


def check_same(ours: RunResult, naive: RunResult) -> None:
    """Both sides must have matched the same rules and decided and written the same things."""
    for cycle in ("first", "steady"):
        mine, theirs = getattr(ours, cycle), getattr(naive, cycle)
        if route_names(mine.routes) != route_names(theirs.routes):
            raise RuntimeError(f"{cycle} cycle: the indexed and the naive match disagree")
        kinds = [(d.state.fingerprint, d.decision.kind) for d in mine.evaluation.decided]
        if kinds != [(d.state.fingerprint, d.decision.kind) for d in theirs.evaluation.decided]:
            raise RuntimeError(f"{cycle} cycle: different decisions")
        if [e.payload for e in mine.outbox] != [e.payload for e in theirs.outbox]:
            raise RuntimeError(f"{cycle} cycle: different outbox rows")


# ----------------------------------------------------------------------------------------------------------
# Report.


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float]) -> str:
    return f"{min(values):.3f}-{max(values):.3f}"


def describe(work: Workload, sample: RunResult) -> list[str]:
    statuses = Counter(task.last_status for task in work.tasks)
    types = Counter(task.task_type for task in work.tasks)
    disabled = sum(1 for task in work.tasks if task.enable is False)
    routes = [len(found) for found in sample.first.routes.values()]
    kinds = Counter(item.decision.kind for item in sample.first.evaluation.decided)
    steady_kinds = Counter(item.decision.kind for item in sample.steady.evaluation.decided)
    return [
        f"tasks: {len(work.tasks):,} ({statuses['FAIL']:,} FAIL, {statuses['SKIP']:,} SKIP, {disabled:,} "
        f"disabled); types: {', '.join(f'{t} {n:,}' for t, n in types.most_common())}",
        f"rules: {len(work.ruleset.rules)} ({sum(r.continue_matching for r in work.ruleset.rules)} with "
        f"continue), {len(work.ruleset.silences)} silences; routes per task: {sum(routes) / len(routes):.2f} "
        f"(max {max(routes)}), {sum(not n for n in routes)} tasks unmatched",
        f"first cycle: {sum(kinds.values()):,} decisions "
        f"({', '.join(f'{k} {n:,}' for k, n in kinds.most_common())}), "
        f"{sample.first.written:,} states written, {len(sample.first.outbox):,} outbox rows",
        f"steady state: {sum(steady_kinds.values()):,} decisions "
        f"({', '.join(f'{k} {n:,}' for k, n in steady_kinds.most_common()) or 'none'}), "
        f"{sample.steady.written:,} states written, {len(sample.steady.outbox):,} outbox rows",
    ]


def table(ours: Sequence[RunTiming], naive: Sequence[RunTiming]) -> list[str]:
    lines = [f"{'CPU seconds (median)':<28} {'ours':>7} {'naive':>7} {'naive/ours':>10}   ours min-max"]
    for cycle, title in (("first", "first cycle (all NEW)"), ("steady", "steady state (nothing changed)")):
        lines.append(title)
        for phase in ("match", "decide", "persist", "cycle"):
            mine = [getattr(getattr(run, cycle), phase) for run in ours]
            theirs = [getattr(getattr(run, cycle), phase) for run in naive]
            ratio = median(theirs) / median(mine) if median(mine) > 0 else float("inf")
            label = {"decide": "decide + outbox"}.get(phase, phase)
            lines.append(
                f"  {label:<26} {median(mine):>7.3f} {median(theirs):>7.3f} {ratio:>9.1f}x   {spread(mine)}"
            )
    load = [run.load for run in ours]
    lines.append(
        f"  {'load state (not in cycle)':<26} {median(load):>7.3f} {'':>7} {'':>10}   {spread(load)}"
    )
    first = median([run.first.cycle for run in ours])
    steady = median([run.steady.cycle for run in ours])
    lines.append(
        f"ours: the steady-state cycle costs {steady / first:.0%} of the first ({first / steady:.1f}x less)"
    )
    return lines


def main() -> int:
    configure_logging("warning")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=20_000, help="failing tasks in the listing")
    parser.add_argument("--rules", type=int, default=100, help="rules in the rule file (catch-all included)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each side; medians are reported")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.tasks < 1 or args.runs < 1:
        parser.error("--tasks and --runs must be at least 1")

    started = time.perf_counter()
    work = make_workload(args.tasks, args.rules, args.seed)
    print(f"workload built in {time.perf_counter() - started:.1f} s (not measured); {os.cpu_count()} CPUs")
    matchers = {"ours": indexed_matcher(work.ruleset), "naive": naive_matcher(work.ruleset)}
    timings: dict[str, list[RunTiming]] = {"ours": [], "naive": [], "collector on": []}
    every_rule = every_rule_matcher(work.ruleset)
    every_rule_match: list[float] = []
    summary: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as directory:
        for run in range(args.runs):
            # Alternate which side goes first, so neither always runs on a warmer (or busier) machine.
            results = {}
            for side in ("ours", "naive") if run % 2 == 0 else ("naive", "ours"):
                results[side] = run_once(work, matchers[side], Path(directory), side)
                timings[side].append(results[side].timing())
            if run == 0:
                check_same(results["ours"], results["naive"])
                summary = describe(work, results["ours"])
            seconds, routes = time_match(work, every_rule)
            every_rule_match.append(seconds)
            if run == 0 and route_names(routes) != route_names(results["ours"].first.routes):
                raise RuntimeError("the every-rule loop and the indexed match disagree")
            # Ours again with the collector running throughout, to show what the pause is worth.
            timings["collector on"].append(
                run_once(work, matchers["ours"], Path(directory), "gc", pause=False).timing()
            )
            del results
    ours, naive = timings["ours"], timings["naive"]

    for line in summary:
        print(line)
    print(
        f"median of {args.runs} runs, time.process_time; decide and persist are the same code on both sides"
    )
    print()
    for line in table(ours, naive):
        print(line)
    unpaused = timings["collector on"]
    print(
        f"ours with the garbage collector running throughout (not paused as the engine does): first cycle "
        f"{median([run.first.cycle for run in unpaused]):.3f} s, steady state "
        f"{median([run.steady.cycle for run in unpaused]):.3f} s"
    )

    first_cycle = median([run.first.cycle for run in ours])
    steady_cycle = median([run.steady.cycle for run in ours])
    our_match = median([run.first.match for run in ours])
    match_ratio = median([run.first.match for run in naive]) / our_match
    every_rule_ratio = median(every_rule_match) / our_match
    print(
        f"match, the plain loop checking every rule for every task: {median(every_rule_match):.3f} s "
        f"({spread(every_rule_match)}), {every_rule_ratio:.1f}x ours"
    )
    verdicts = [
        (f"first cycle (match + decide + persist) {first_cycle:.3f} s CPU < {CYCLE_TARGET:.0f} s",
         first_cycle < CYCLE_TARGET),
        (f"steady-state cycle {steady_cycle:.3f} s CPU < {CYCLE_TARGET:.0f} s", steady_cycle < CYCLE_TARGET),
        (f"match speed-up against the plain loop checking every rule for every task (the issue's baseline) "
         f"{every_rule_ratio:.1f}x >= {MATCH_SPEEDUP_TARGET:.0f}x", every_rule_ratio >= MATCH_SPEEDUP_TARGET),
    ]  # fmt: skip
    # Not a target, a stricter comparison: the naive loop above already stops at the first match.
    print(f"match speed-up against the loop stopping at the first match (naive column): {match_ratio:.1f}x")
    print()
    for text, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}: {text}")
    return 0 if all(ok for _, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
