"""The rule set and its candidate index: which rules may match a task, worked out once per distinct
combination of the indexed task fields and literal name prefixes, and `match`, first match wins."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from monitor.rules.matcher import (
    ALERTABLE_STATUSES,
    KEYS_BY_NAME,
    NAME,
    NAMED,
    TaskSignature,
    signature_fields,
)
from monitor.rules.model import MatchedRoute, Rule
from monitor.rules.patterns import LinearRegex, RegexScreen
from monitor.silences import Silence
from monitor.timeintervals import NamedTimeInterval
from monitor.workspace.models import ScheduledTask


class Candidate(NamedTuple):
    """A rule that may match a task (see `RuleSet.candidates_for`), and what is left to check: nothing
    (both tests None), the name alone (`name_test`: a full match, None when the name does not match), or
    the matcher's details (`task_test`)."""

    rule: Rule
    #: The rule's route when it is the same for every task (no group_by).
    route: MatchedRoute | None
    name_test: Callable[[str], object | None] | None = None
    task_test: Callable[[ScheduledTask, str], bool] | None = None


# What the index knows of a task: its signature (its signature fields, and its project), the name prefixes
# its name starts with (shortest first), and whether some rule names its id (NAMED). A plain tuple: one is
# built for every task.
_TaskKey = tuple[tuple[Any, ...], str, tuple[str, ...], bool]
# The task's name and id (the fields of the NAME and NAMED keys), fetched in C: asked for every task.
_name_of = attrgetter(NAME.field or "")
_named_of = attrgetter(NAMED.field or "")


@dataclass(frozen=True)
class RuleSet:
    """Every rule in file order, the rule files' silences, the files they came from, and the named time
    intervals (maintenance windows) that rules and silences refer to."""

    rules: tuple[Rule, ...]
    silences: tuple[Silence, ...] = ()
    files: tuple[str, ...] = ()
    time_intervals: tuple[NamedTimeInterval, ...] = ()
    _by_name: dict[str, Rule] = field(init=False, repr=False, compare=False)
    # Asked for each rule with time intervals, every cycle (monitor.windows).
    _intervals_by_name: dict[str, NamedTimeInterval] = field(init=False, repr=False, compare=False)
    # The route of each rule without group_by: the same for every task, so built once.
    _plain_routes: dict[str, MatchedRoute] = field(init=False, repr=False, compare=False)
    # Candidate rules per task signature, filled as signatures are met (see `match`).
    _candidates: dict[TaskSignature, tuple[Rule, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    # Every literal name prefix of the rules' patterns, their lengths by first character (ascending), and
    # every task id named.
    _name_prefixes: frozenset[str] = field(init=False, repr=False, compare=False)
    _name_lengths: dict[str, tuple[int, ...]] = field(init=False, repr=False, compare=False)
    _named_ids: frozenset[str] = field(init=False, repr=False, compare=False)
    # The candidates of a signature narrowed by name prefixes and id (see `candidates_for`).
    _narrowed: dict[_TaskKey, tuple[Candidate, ...] | NameScreen] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    # What narrowing needs of each rule (by the rule's id), worked out once.
    _plans: dict[int, _Plan] = field(init=False, repr=False, compare=False)
    # What does not depend on a name's prefixes, per (signature, id named) (see `_narrow`).
    _fixed: dict[tuple[TaskSignature, bool], _Fixed] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    # The RegexScreen of the rules' `re:` patterns, built when a candidate list first needs it.
    _screen: dict[str, tuple[RegexScreen, dict[int, int]] | None] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {rule.name: rule for rule in self.rules})
        object.__setattr__(self, "_intervals_by_name", {each.name: each for each in self.time_intervals})
        plain = {rule.name: MatchedRoute(rule) for rule in self.rules if not rule.group_by}
        object.__setattr__(self, "_plain_routes", plain)
        prefixes = frozenset(
            pattern.prefix
            for rule in self.rules
            for pattern in rule.matcher.get(NAME) or ()
            if pattern.prefix
        )
        object.__setattr__(self, "_name_prefixes", prefixes)
        lengths: dict[str, set[int]] = {}
        for prefix in prefixes:
            lengths.setdefault(prefix[0], set()).add(len(prefix))
        object.__setattr__(self, "_name_lengths", {char: tuple(sorted(n)) for char, n in lengths.items()})
        ids = frozenset(value for rule in self.rules for value in rule.matcher.get(NAMED) or ())
        object.__setattr__(self, "_named_ids", ids)
        object.__setattr__(
            self, "_plans", {id(rule): _plan(rule, plain.get(rule.name)) for rule in self.rules}
        )

    def route(self, rule: Rule, task: ScheduledTask, project: str) -> MatchedRoute:
        plain = self._plain_routes.get(rule.name)
        return plain if plain is not None else MatchedRoute(rule, _group_key(rule.group_by, task, project))

    def rule(self, name: str) -> Rule | None:
        return self._by_name.get(name)

    def time_interval(self, name: str) -> NamedTimeInterval | None:
        return self._intervals_by_name.get(name)

    def candidates(self, signature: TaskSignature) -> tuple[Rule, ...]:
        """The rules, in order, whose indexed keys accept `signature`, cut after the first that matches every
        such task and does not continue (nothing after it can be reached)."""
        cached = self._candidates.get(signature)
        if cached is None:
            accepted: list[Rule] = []
            for rule in self.rules:
                if rule.matcher.accepts(signature):
                    accepted.append(rule)
                    if not rule.continue_matching and not rule.matcher.checks_details:
                        break
            cached = self._candidates[signature] = tuple(accepted)
        return cached

    def candidates_for(self, task: ScheduledTask, project: str) -> tuple[Candidate, ...]:
        """The rules that may match `task`, in order, each with whether its details must still be checked.

        `candidates(signature)` narrowed by the task's name and id: a rule whose every name pattern has a
        literal prefix (`prod-*`, `prod-reboot-01`) is left out unless the name starts with one of them,
        a rule naming task ids unless some rule names this task's; a rule is settled (nothing left to
        check) when its only detail is a `prefix*` glob the name starts with, and the list is cut after
        the first settled rule without `continue`. Cached by (signature, prefixes found, id named)."""
        name = _name_of(task)
        found: tuple[str, ...] = ()
        if name:
            size, prefixes = len(name), self._name_prefixes
            lengths = self._name_lengths.get(name[0], ())
            found = tuple([part for n in lengths if n <= size and (part := name[:n]) in prefixes])
        key: _TaskKey = (signature_fields(task), project, found, _named_of(task) in self._named_ids)
        cached = self._narrowed.get(key)
        if cached is None:
            signature = TaskSignature.of_parts(key[0], project)
            cached = self._narrowed[key] = self._narrow(signature, found, key[3])
        return cached if isinstance(cached, tuple) else cached.narrow(name)

    def _narrow(
        self, signature: TaskSignature, prefixes: Sequence[str], id_named: bool
    ) -> tuple[Candidate, ...] | NameScreen:
        """The candidates for one key: the signature's rules that do not depend on the name's prefixes (worked
        out once per signature, see `_Fixed`), merged with those whose prefixes the name starts with."""
        fixed = self._fixed.get((signature, id_named))
        if fixed is None:
            fixed = self._fixed[signature, id_named] = self._fix(signature, id_named)
        found = frozenset(prefixes)
        extra: dict[int, Candidate] = {}
        for position, plan in fixed.always_dynamic:
            settles = plan.settling_prefixes is not None and not plan.settling_prefixes.isdisjoint(found)
            extra[position] = plan.settled if settles else plan.checked
        for prefix in prefixes:
            for position, plan in fixed.by_prefix.get(prefix, ()):
                if position not in extra:
                    settling = plan.settling_prefixes
                    settled = plan.settles_alone or (settling is not None and not settling.isdisjoint(found))
                    extra[position] = plan.settled if settled else plan.checked
        extras = sorted(extra.items(), key=_POSITION)
        if fixed.screened:
            return NameScreen(fixed, extras)
        if not extras:
            return fixed.candidates
        return tuple(map(_CANDIDATE, sorted([*fixed.entries, *extras], key=_POSITION)))

    def _fix(self, signature: TaskSignature, id_named: bool) -> _Fixed:
        entries: list[tuple[int, Candidate]] = []
        by_prefix: dict[str, list[tuple[int, _Plan]]] = {}
        always_dynamic: list[tuple[int, _Plan]] = []
        plans = self._plans
        for position, rule in enumerate(self.candidates(signature)):
            plan = plans[id(rule)]
            if plan.needs_id and not id_named:
                continue
            if plan.name_prefixes is not None:
                for prefix in plan.name_prefixes:
                    by_prefix.setdefault(prefix, []).append((position, plan))
            elif plan.settling_prefixes is not None:
                always_dynamic.append((position, plan))
            else:
                entries.append((position, plan.settled if plan.settles_alone else plan.checked))
                if plan.settles_alone and not rule.continue_matching:
                    break  # every task of the signature matches it: nothing after it is reached
        screen, screened = self._screen_of(entries)
        positions = {position for position, _ in screened.values()}
        return _Fixed(
            entries=tuple(entries),
            candidates=tuple(candidate for _, candidate in entries),
            by_prefix={prefix: tuple(items) for prefix, items in by_prefix.items()},
            always_dynamic=tuple(always_dynamic),
            screen=screen,
            screened=screened,
            others=tuple(entry for entry in entries if entry[0] not in positions),
        )

    def _screen_of(
        self, entries: Sequence[tuple[int, Candidate]]
    ) -> tuple[RegexScreen | None, dict[int, tuple[int, Candidate]]]:
        """The rule set's RegexScreen and, by the screen's index of each pattern, the (position, settled
        candidate) of the entries whose only test is that pattern; nothing when fewer than SCREEN_MIN."""
        plans = self._plans
        found = [
            (position, plan)
            for position, candidate in entries
            if candidate.name_test is not None and (plan := plans[id(candidate.rule)]).screened is not None
        ]
        built = self._regex_screen() if len(found) >= NameScreen.SCREEN_MIN else None
        if built is None:
            return None, {}
        screen, index_of = built
        return screen, {index_of[id(plan.screened)]: (position, plan.settled) for position, plan in found}

    def _regex_screen(self) -> tuple[RegexScreen, dict[int, int]] | None:
        """The rule set's RegexScreen of every rule's screenable pattern, and each pattern's index in it
        (by the pattern object's id); built on first use. None when RE2 cannot build it."""
        if "screen" not in self._screen:
            regexes: dict[int, LinearRegex] = {}
            for plan in self._plans.values():
                if plan.screened is not None:
                    regexes.setdefault(id(plan.screened), plan.screened)
            try:
                screen = RegexScreen(list(regexes.values()))
            except MemoryError:
                self._screen["screen"] = None
            else:
                self._screen["screen"] = (screen, {key: index for index, key in enumerate(regexes)})
        return self._screen["screen"]


class _Fixed(NamedTuple):
    """The candidates of one (signature, id named) that do not depend on the name's prefixes, in order (cut
    after the first that settles every such task), and the rules that do, by prefix."""

    #: (position among the signature's candidates, candidate).
    entries: tuple[tuple[int, Candidate], ...]
    candidates: tuple[Candidate, ...]
    #: Rules with literal name prefixes, under each prefix: included when the name starts with it.
    by_prefix: dict[str, tuple[tuple[int, _Plan], ...]]
    #: Rules without a literal prefix for every pattern but settled by some `prefix*` glob: always included.
    always_dynamic: tuple[tuple[int, _Plan], ...]
    #: Screening of the entries' `re:` name tests (see NameScreen): the screen's index of a pattern ->
    #: (position, the candidate settled); `others`, the entries not screened.
    screen: RegexScreen | None
    screened: dict[int, tuple[int, Candidate]]
    others: tuple[tuple[int, Candidate], ...]


# (position, candidate) pairs: sorted by position, unpacked to candidates, in C.
_POSITION = itemgetter(0)
_CANDIDATE = itemgetter(1)


class _Plan(NamedTuple):
    """What narrowing needs of one rule, worked out once per rule set (see `RuleSet._narrow`)."""

    #: The rule names task ids: left out unless some rule names the task's id.
    needs_id: bool
    #: The rule's literal name prefixes (TaskMatcher.name_prefixes).
    name_prefixes: frozenset[str] | None
    #: Nothing but indexed keys to check: settled by the signature alone.
    settles_alone: bool
    #: Settled when the name starts with one of these (`prefix*` globs), when nothing else is checked.
    settling_prefixes: frozenset[str] | None
    settled: Candidate
    checked: Candidate
    #: The RE2 pattern that is all the rule checks, when it can be screened (see NameScreen).
    screened: LinearRegex | None


def _plan(rule: Rule, route: MatchedRoute | None) -> _Plan:
    matcher = rule.matcher
    expression = matcher.name_expression
    if expression is not None:
        checked = Candidate(rule, route, name_test=expression.fullmatch)
    else:
        checked = Candidate(rule, route, task_test=matcher.matches_details)
    return _Plan(
        needs_id=matcher.get(NAMED) is not None,
        name_prefixes=matcher.name_prefixes,
        settles_alone=not matcher.details,
        settling_prefixes=matcher.settling_prefixes,
        settled=Candidate(rule, route),
        checked=checked,
        screened=expression if isinstance(expression, LinearRegex) and RegexScreen.fits(expression) else None,
    )


class NameScreen:
    """The candidates of one key when many of them test the name by RE2 alone: for a name, only those whose
    pattern matched (nothing left to test), the other fixed candidates and the key's prefix candidates are
    looked at: one pass of the rule set's RegexScreen per name, instead of every `re:` rule's pattern against
    every failing task's name (rules x tasks matches a cycle; figures in bench/findings.md)."""

    #: Fewer `re:` name tests than this: tested one by one, screening is not worth it.
    SCREEN_MIN = 8

    def __init__(self, fixed: _Fixed, extras: list[tuple[int, Candidate]]) -> None:
        self._fixed = fixed
        self._rest = sorted([*fixed.others, *extras], key=_POSITION)
        self._all = tuple(map(_CANDIDATE, sorted([*fixed.entries, *extras], key=_POSITION)))

    def narrow(self, name: str | None) -> tuple[Candidate, ...]:
        """The candidates left for a task named `name`, in order."""
        if name is None:
            return self._all
        fixed = self._fixed
        screened = fixed.screened
        assert fixed.screen is not None
        hits = [screened[index] for index in fixed.screen.hits(name) if index in screened]
        if not hits:
            return tuple(map(_CANDIDATE, self._rest))
        return tuple(map(_CANDIDATE, sorted([*hits, *self._rest], key=_POSITION)))


def match(ruleset: RuleSet, task: ScheduledTask, project: str) -> list[MatchedRoute]:
    """The rules that alert on `task`, in order: the first match, and the ones after it while the matching
    rules say `continue: true`. Only FAIL and SKIP tasks can match."""
    if task.last_status not in ALERTABLE_STATUSES:
        return []
    routes: list[MatchedRoute] = []
    name = _name_of(task)
    for rule, plain, name_test, task_test in ruleset.candidates_for(task, project):
        if name_test is not None:
            if name is None or name_test(name) is None:
                continue
        elif task_test is not None and not task_test(task, project):
            continue
        routes.append(
            plain if plain is not None else MatchedRoute(rule, _group_key(rule.group_by, task, project))
        )
        if not rule.continue_matching:
            break
    return routes


def _group_key(fields: Sequence[str], task: ScheduledTask, project: str) -> tuple[tuple[str, str], ...]:
    if not fields:
        return ()
    values = [(name, KEYS_BY_NAME[name].value(task, project)) for name in fields]
    return tuple((name, "" if value is None else str(value)) for name, value in values)
