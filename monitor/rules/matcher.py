"""The match keys, in ONE table (`MATCH_KEYS`), and `TaskMatcher`, the compiled `match:` of a rule or silence.

Everything about a key is derived from its row: how a task is tested (`MatchKey.accepts`), whether the index
evaluates it once per task signature or narrows by it, whether a candidate is settled without testing it
(`TaskMatcher.details`), the file format and its JSON Schema (`rules.schema`), and its documentation (the
row's `doc`, shown in the schema; a test checks the README names every key). Adding a key is one row here
plus its tests: the property test comparing the index with checking every rule draws keys from this table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property, partial
from operator import attrgetter
from typing import Any, Literal, cast, get_args

from monitor.rules.patterns import NamePattern, NameRegex
from monitor.workspace.models import ScheduledTask
from monitor.workspace.vocabulary import LIFE_CYCLE_TYPES, SCHEDULED_TYPES, TASK_TYPES

__all__ = [
    "ALERTABLE_STATUSES",
    "KEYS_BY_NAME",
    "MATCH_KEYS",
    "NAME",
    "NAMED",
    "SIGNATURE_KEYS",
    "AlertableStatus",
    "Indexed",
    "KeyKind",
    "MatchKey",
    "PriorityRange",
    "TaskMatcher",
    "TaskSignature",
    "signature_fields",
]

#: The statuses a rule may name: SUCCESS never alerts (recoveries are announced by `notify_resolved`).
AlertableStatus = Literal["FAIL", "SKIP"]

#: The task statuses the monitor polls for; a task in any other status never matches a rule.
ALERTABLE_STATUSES: frozenset[str] = frozenset(get_args(AlertableStatus))


@dataclass(frozen=True)
class PriorityRange:
    low: int | None = None
    high: int | None = None

    def __contains__(self, priority: int) -> bool:
        return (self.low is None or priority >= self.low) and (self.high is None or priority <= self.high)


class KeyKind(StrEnum):
    """What a key's values are, so how they are written, compiled and tested."""

    ENUM = "enum"  #: one of a fixed vocabulary, or a list of them (any of)
    EXACT = "exact"  #: any text compared whole, or a list (any of)
    FLAG = "flag"  #: true or false; a task without the field counts as true (the API creates tasks enabled)
    GLOB = "glob"  #: name patterns: globs, or `re:` regular expressions (any of)
    RANGE = "range"  #: whole numbers: N, {min, max}, or a list of those (any of)


class Indexed(StrEnum):
    """How the candidate index uses a key (see `rules.index`)."""

    #: Part of the task signature: evaluated once per distinct combination (a fleet has few), so a candidate
    #: never tests it again.
    SIGNATURE = "signature"
    #: Rules naming values are left out unless some rule names the task's value (task ids).
    NAMED = "named"
    #: Rules whose patterns all have literal prefixes are left out unless the value starts with one; a
    #: `prefix*` glob settles the rule when it is the only test left (task names).
    PREFIX = "prefix"
    #: Tested task by task.
    NO = "no"


@dataclass(frozen=True, eq=False)
class MatchKey:
    """One match key: its name in a `match:` mapping, and everything matching, indexing, the file format and
    the docs need to know of it."""

    name: str
    kind: KeyKind
    #: The ScheduledTask field holding the task's value; None: the project the task is listed in.
    field: str | None
    index: Indexed
    #: One line for the JSON Schema and the docs.
    doc: str
    #: ENUM: the values a file may name.
    values: tuple[str, ...] = ()
    #: ENUM: every task that can match has one of `values` (last_status: only FAIL and SKIP tasks are
    #: matched), so a list naming all of them is no restriction (what `TaskMatcher.covers` needs).
    closed: bool = False
    #: Values a file may not give, as they can never match, and why (ENUM: values outside `values` that
    #: deserve more than "not one of").
    never: tuple[tuple[object, str], ...] = ()

    def compile(self, given: Any) -> Any:
        """What the key accepts, from the validated file value (see `rules.schema`)."""
        if self.kind is KeyKind.GLOB:
            return tuple(map(NamePattern.compile, given))
        if self.kind is KeyKind.RANGE:
            return tuple(PriorityRange(item.min, item.max) for item in given)
        if self.kind is KeyKind.FLAG:
            return bool(given)
        return frozenset(given)

    def spec(self, accepted: Any) -> Any:
        """The JSON-able file value that `compile` turns back into `accepted`."""
        if self.kind is KeyKind.GLOB:
            return [pattern.text for pattern in accepted]
        if self.kind is KeyKind.RANGE:
            return [
                {key: bound for key, bound in (("min", r.low), ("max", r.high)) if bound is not None}
                for r in accepted
            ]
        if self.kind is KeyKind.FLAG:
            return accepted
        return sorted(accepted)

    def value(self, task: ScheduledTask, project: str) -> Any:
        """The value of `task` (listed in `project`) that this key tests; None when the task has none."""
        return project if self.field is None else getattr(task, self.field)

    def test(self, accepted: Any) -> Callable[[Any], bool]:
        """Whether a task's value passes this key's test (`accepted`, from `compile`): built once per rule,
        called for tens of thousands of tasks a cycle."""
        kind = self.kind
        if kind is KeyKind.ENUM or kind is KeyKind.EXACT:
            return cast(Callable[[Any], bool], accepted.__contains__)
        if kind is KeyKind.FLAG:
            return lambda value: (value is not False) is accepted
        if kind is KeyKind.GLOB:
            return partial(_any_pattern, accepted)
        return partial(_any_range, accepted)

    def wider(self, mine: Any, theirs: Any) -> bool:
        """Whether every value `theirs` accepts (None: the key not given) is accepted by `mine` (signature
        keys only: ENUM, EXACT and FLAG)."""
        if self.kind is KeyKind.FLAG:
            return mine is None or mine is theirs
        if self.closed:
            everything = frozenset(self.values)
            mine, theirs = mine or everything, theirs or everything
        return mine is None or (theirs is not None and theirs <= mine)


# Loops rather than any(<generator>): matching asks these for tens of thousands of tasks a cycle.
def _any_pattern(patterns: tuple[NamePattern, ...], name: str | None) -> bool:
    if name is None:
        return False
    for pattern in patterns:  # noqa: SIM110
        if pattern.matches(name):
            return True
    return False


def _any_range(ranges: tuple[PriorityRange, ...], number: int | None) -> bool:
    if number is None:
        return False
    for each in ranges:  # noqa: SIM110
        if number in each:
            return True
    return False


#: Every match key, in the order a file's `match:` is validated and shown (scheduled_type before
#: life_cycle_type: the second is checked against the first).
MATCH_KEYS: tuple[MatchKey, ...] = (
    MatchKey(
        "last_status",
        KeyKind.ENUM,
        "last_status",
        Indexed.SIGNATURE,
        "FAIL | SKIP (SUCCESS never alerts: see notify_resolved)",
        values=get_args(AlertableStatus),
        closed=True,
        never=(
            (
                "SUCCESS",
                "SUCCESS never alerts (only FAIL and SKIP do; recoveries are announced by notify_resolved)",
            ),
        ),
    ),
    MatchKey(
        "task_type",
        KeyKind.ENUM,
        "task_type",
        Indexed.SIGNATURE,
        "what the task does",
        values=TASK_TYPES,
    ),
    MatchKey(
        "scheduled_type",
        KeyKind.ENUM,
        "scheduled_type",
        Indexed.SIGNATURE,
        "how the task is scheduled",
        values=SCHEDULED_TYPES,
    ),
    MatchKey(
        "life_cycle_type",
        KeyKind.ENUM,
        "life_cycle_type",
        Indexed.SIGNATURE,
        "what triggers a LIFE_CYCLE task (LIFE_CYCLE tasks only)",
        values=LIFE_CYCLE_TYPES,
    ),
    MatchKey(
        "task_name",
        KeyKind.GLOB,
        "task_name",
        Indexed.PREFIX,
        'a glob (case-sensitive), or "re:<regex>" (RE2) matching the whole name',
    ),
    MatchKey("id", KeyKind.EXACT, "id", Indexed.NAMED, "task ids"),
    MatchKey(
        "enable",
        KeyKind.FLAG,
        "enable",
        Indexed.SIGNATURE,
        "true (disabled tasks never alert)",
        never=((False, "disabled tasks never alert (their alerts close), so this can never match"),),
    ),
    MatchKey(
        "priority",
        KeyKind.RANGE,
        "priority",
        Indexed.NO,
        "a number, {min: N, max: M} (either end may be left out), or a list of those",
    ),
    MatchKey(
        "project",
        KeyKind.EXACT,
        None,
        Indexed.SIGNATURE,
        "project names (workspace.projects[].name), or the project id with one project",
    ),
)
KEYS_BY_NAME: dict[str, MatchKey] = {key.name: key for key in MATCH_KEYS}
#: The keys the index evaluates once per distinct combination of their values: those of task fields in table
#: order, then the project's.
SIGNATURE_KEYS: tuple[MatchKey, ...] = tuple(
    sorted((key for key in MATCH_KEYS if key.index is Indexed.SIGNATURE), key=lambda key: key.field is None)
)
_SIGNATURE_FIELDS = [key.field for key in SIGNATURE_KEYS if key.field is not None]
_PROJECT_KEYS = len(SIGNATURE_KEYS) - len(_SIGNATURE_FIELDS)
#: A task's values of the signature keys of task fields, in order, fetched in C (a tuple: there are several,
#: see _the_one): the index asks for them for every task of every cycle.
signature_fields = attrgetter(*_SIGNATURE_FIELDS)


def _the_one(index: Indexed) -> MatchKey:
    keys = [key for key in MATCH_KEYS if key.index is index and key.field is not None]
    if len(keys) != 1 or len(_SIGNATURE_FIELDS) < 2:  # pragma: no cover - a table the index cannot use
        raise AssertionError(f"the index narrows by exactly one {index} key of a task field")
    return keys[0]


#: The key whose patterns' literal prefixes the index narrows by, and whose `prefix*` globs settle a rule.
NAME = _the_one(Indexed.PREFIX)
#: The key whose named values the index narrows by.
NAMED = _the_one(Indexed.NAMED)


class TaskSignature(tuple[Any, ...]):
    """The task's values of the SIGNATURE_KEYS, in order: few distinct combinations across a fleet."""

    __slots__ = ()

    @classmethod
    def of(cls, task: ScheduledTask, project: str) -> TaskSignature:
        return cls.of_parts(signature_fields(task), project)

    @classmethod
    def of_parts(cls, fields: tuple[Any, ...], project: str) -> TaskSignature:
        """From `signature_fields(task)` and the task's project."""
        return cls((*fields, *(project,) * _PROJECT_KEYS))


@dataclass(frozen=True)
class TaskMatcher:
    """The compiled `match:` of a rule or silence: for each key given (in table order), what it accepts
    (`MatchKey.compile`). A key not given accepts anything."""

    conditions: tuple[tuple[MatchKey, Any], ...] = ()
    #: The keys given that the task signature does not settle, in table order.
    details: tuple[MatchKey, ...] = field(init=False, repr=False, compare=False)
    # (position in the signature, test) of the signature keys given; (field, test) of the others, and of all.
    _signature_tests: tuple[tuple[int, Callable[[Any], bool]], ...] = field(
        init=False, repr=False, compare=False
    )
    _detail_tests: tuple[tuple[str | None, Callable[[Any], bool]], ...] = field(
        init=False, repr=False, compare=False
    )
    _tests: tuple[tuple[str | None, Callable[[Any], bool]], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        position = {key: index for index, key in enumerate(SIGNATURE_KEYS)}
        details = [(key, accepted) for key, accepted in self.conditions if key not in position]
        object.__setattr__(self, "details", tuple(key for key, _ in details))
        tests = tuple((key.field, key.test(accepted)) for key, accepted in self.conditions)
        object.__setattr__(self, "_tests", tests)
        object.__setattr__(
            self, "_detail_tests", tuple((key.field, key.test(accepted)) for key, accepted in details)
        )
        object.__setattr__(
            self,
            "_signature_tests",
            tuple(
                (position[key], key.test(accepted)) for key, accepted in self.conditions if key in position
            ),
        )

    @classmethod
    def of(cls, conditions: Mapping[MatchKey, Any] | Iterable[tuple[MatchKey, Any]]) -> TaskMatcher:
        """A matcher from (key, accepted) pairs in any order: kept in table order (keys outside the table
        last)."""
        pairs = list(conditions.items() if isinstance(conditions, Mapping) else conditions)
        order = {key: index for index, key in enumerate(MATCH_KEYS)}
        return cls(tuple(sorted(pairs, key=lambda pair: order.get(pair[0], len(order)))))

    def get(self, key: MatchKey | str) -> Any:
        """What `key` accepts, or None when it is not given."""
        wanted = KEYS_BY_NAME[key] if isinstance(key, str) else key
        return next((accepted for given, accepted in self.conditions if given is wanted), None)

    def matches(self, task: ScheduledTask, project: str) -> bool:
        for name, test in self._tests:  # noqa: SIM110 (a loop, not all(): silences ask it for every task)
            if not test(project if name is None else getattr(task, name)):
                return False
        return True

    def accepts(self, signature: tuple[Any, ...]) -> bool:
        """Whether the signature keys allow tasks with this signature."""
        for position, test in self._signature_tests:  # noqa: SIM110 (a loop: asked for every rule)
            if not test(signature[position]):
                return False
        return True

    @property
    def checks_details(self) -> bool:
        """Whether anything beyond the signature is checked (id, name, priority...)."""
        return bool(self.details)

    @cached_property
    def name_expression(self) -> NameRegex | None:
        """When the name is the only detail checked: one expression whose full match is what the patterns
        accept (a test without a Python call per pattern, for `match`). None otherwise, and for a list with
        a `re:` pattern, whose inline flags could not be combined with the others'."""
        if self.details != (NAME,):
            return None
        patterns: tuple[NamePattern, ...] = self.get(NAME)
        if len(patterns) == 1:
            return patterns[0].regex
        if any(pattern.text.startswith("re:") for pattern in patterns):
            return None
        # Each glob's expression scopes its own flags, `(?s:...)\Z`: they combine as alternatives.
        return re.compile("|".join(f"(?:{pattern.regex.pattern})" for pattern in patterns))

    @property
    def settling_prefixes(self) -> frozenset[str] | None:
        """When the name is the only detail checked: the prefixes of its `prefix*` globs, each of which a
        name starting with it is matched by (nothing left to test). None otherwise, or when there are none."""
        if self.details != (NAME,):
            return None
        patterns: tuple[NamePattern, ...] = self.get(NAME)
        return frozenset(pattern.prefix for pattern in patterns if pattern.prefix_only) or None

    @property
    def name_prefixes(self) -> frozenset[str] | None:
        """The literal prefixes one of which the name of every matching task starts with; None when the
        name is not checked, or one of the patterns has no literal prefix (a regex, `*-01`)."""
        patterns: tuple[NamePattern, ...] | None = self.get(NAME)
        if patterns is None or not all(pattern.prefix for pattern in patterns):
            return None
        return frozenset(pattern.prefix for pattern in patterns)

    def matches_details(self, task: ScheduledTask, project: str) -> bool:
        for name, test in self._detail_tests:  # a loop, not all(): asked for every candidate task
            if not test(project if name is None else getattr(task, name)):
                return False
        return True

    def covers(self, other: TaskMatcher) -> bool:
        """Whether every task `other` matches is matched by this one too (checked on the signature keys only;
        False whenever this matcher checks details, which could exclude some)."""
        if self.checks_details:
            return False
        return all(key.wider(self.get(key), other.get(key)) for key in SIGNATURE_KEYS)

    def to_spec(self) -> dict[str, Any]:
        """The `match:` mapping (JSON-able) that `compile_match` turns back into this matcher."""
        return {key.name: key.spec(accepted) for key, accepted in self.conditions}
