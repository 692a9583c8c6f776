"""Alert rules: the rule file format, strict loading with `file:line: problem` errors, and matching.

As Alertmanager's config: `load_rules_text(text, filename)` parses and validates one file, `load_rules(path)`
only reads a file (or a directory's `*.yaml` and `*.yml`, sorted) and hands the text over. Loading is strict
and reports every problem at once in one `RuleFileError`, each at the line of the offending key or value:
unknown keys, wrong types, bad durations, regexes, channels and mentions, duplicate rule names (across files
too), and rules that can never match (an unknown enum value, `last_status: SUCCESS`, an empty list,
`min > max`, a rule shadowed by an earlier catch-all without `continue: true`).

The rule file (its JSON Schema is `rule_file_json_schema()`; `rules/example.yaml` shows every key):

    rules:
      - name: prod-reboots              # unique across all files: letters, digits, - _ .
        match:                          # every key must match; a list means any of; no match = every task
          last_status: [FAIL, SKIP]     # FAIL | SKIP (SUCCESS never alerts: see notify_resolved)
          task_type: REBOOT             # START STOP REBOOT HIBERNATE REBUILD EXECUTE_SCRIPT CREATE_SNAPSHOT
                                        # DELETE_BLACK_ECS
          scheduled_type: DAY           # FIXED_TIME DAY WEEK MONTH LIFE_CYCLE
          life_cycle_type: POST_DESKTOP_DISCONNECTED    # only with LIFE_CYCLE tasks
          task_name: "prod-*"           # glob (case-sensitive), or "re:<regex>" matching the whole name
          id: 2b31e-d520...             # task ids
          enable: true                  # disabled tasks never alert, so `false` is refused
          priority: {min: 1, max: 5}    # a number, {min, max} (either may be left out), or a list of those
          project: 0123456789abcdef...  # project ids
        channel: "#desktop-ops"         # "#name" or a channel id; absent = slack.default_channel
        severity: critical              # critical | warning (default) | info
        repeat_interval: 4h             # reminder while still failing (default 4h); 0 = never
        notify_resolved: true           # announce recoveries in the thread (default true)
        continue: false                 # first match wins unless continue: true
        group_by: [task_type]           # task fields that split a channel's digest
        mention: "<!subteam^S123>"      # added to NEW alerts: <!subteam^ID>, <@U0123>, <!here>, @name
        min_failures: 1                 # alert after N consecutive failing executions (default 1)
    silences:
      - match: {task_name: "lab-*"}     # the same match keys; at least one
        rule: [prod-reboots]            # optional: only these rules' alerts
        until: 2026-12-31T00:00:00Z     # ISO 8601 with a zone
        comment: lab desktops are rebuilt by hand

Matching (`match(ruleset, task, project)`) is pure and indexed: a rule's enum keys (project, last_status,
task_type, scheduled_type, life_cycle_type, enable) are evaluated once per distinct combination of those task
fields, which a fleet has few of, so each task only runs the remaining name/id/priority checks of the rules
that survive, in file order.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, Protocol, TypeVar, get_args

import re2
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, NoDefault
from pydantic_core import ErrorDetails, core_schema
from re2 import _re2

from monitor.durations import format_duration, parse_duration
from monitor.silences import Silence, SilenceOrigin
from monitor.workspace.models import ScheduledTask
from monitor.yamlfile import Locator, YamlError, duplicate_keys, parse_yaml

__all__ = [
    "ALERTABLE_STATUSES",
    "DEFAULT_REPEAT_INTERVAL",
    "MAX_RULE_FILE_BYTES",
    "RE2_MAX_REPEAT",
    "RULE_FILE_SUFFIXES",
    "Candidate",
    "LinearRegex",
    "Location",
    "MatchedRoute",
    "NamePattern",
    "NameRegex",
    "NameScreen",
    "PriorityRange",
    "RegexScreen",
    "Rule",
    "RuleFileError",
    "RuleSet",
    "TaskMatcher",
    "TaskSignature",
    "compile_match",
    "load_rules",
    "load_rules_text",
    "match",
    "rule_file_json_schema",
]

LastStatus = Literal["FAIL", "SKIP"]
#: As the official SDK's ScheduledTask model lists them (huaweicloudsdkworkspace/v2/model/scheduled_task.py).
TaskType = Literal[
    "START", "STOP", "REBOOT", "HIBERNATE", "REBUILD", "EXECUTE_SCRIPT", "CREATE_SNAPSHOT", "DELETE_BLACK_ECS"
]  # fmt: skip
ScheduledType = Literal["FIXED_TIME", "DAY", "WEEK", "MONTH", "LIFE_CYCLE"]
LifeCycleType = Literal[
    "POST_CREATE_DESKTOP_SUCCESS",
    "POST_REBUILD_DESKTOP_SUCCESS",
    "POST_REATTACH_DESKTOP_SUCCESS",
    "POST_DESKTOP_DISCONNECTED",
]
Severity = Literal["critical", "warning", "info"]
GroupField = Literal[
    "id", "task_name", "task_type", "scheduled_type", "life_cycle_type", "last_status", "priority", "enable",
    "project",
]  # fmt: skip

#: The task statuses the monitor polls for; a task in any other status never matches a rule.
ALERTABLE_STATUSES: frozenset[str] = frozenset(get_args(LastStatus))
DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)
#: Problems listed in one RuleFileError; the rest are counted in one last line.
MAX_PROBLEMS = 100

_RULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
# Slack channel names are lowercase without spaces; ids are C.../G.../D... in capitals.
_CHANNEL = re.compile(r"#[^\sA-Z#<>@,]{1,80}|[CGD][A-Z0-9]{6,}")
_MENTION = re.compile(
    r"<!subteam\^[A-Z0-9]+(?:\|[^<>]+)?>|<@[UW][A-Z0-9]+>|<!(?:here|channel|everyone)>|@[\w.-]+"
)
_GLOB_SPECIALS = frozenset("*?[")
_REGEX_SPECIALS = frozenset(".^$*+?{}[]\\|()")
_Model = TypeVar("_Model", bound=BaseModel)
_SCHEMA_TITLE = "workspace-monitor rule file"
_DURATION_SCHEMA = {
    "anyOf": [{"type": "string", "pattern": r"^(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?$"}, {"const": 0}],
    "description": "30s, 15m, 4h, 1d, 1h30m; 0 = never",
}


# ----------------------------------------------------------------------------------------------------------
# The file format, as pydantic models: the same models validate files and generate the JSON Schema.


def _as_list(value: object) -> object:
    if isinstance(value, list):
        if not value:
            raise ValueError("an empty list matches nothing")
        return value
    return [value]


def _one_or_many(item: Any) -> BeforeValidator:
    """A key that takes one value or a non-empty list of them; always a list once validated."""
    return BeforeValidator(_as_list, json_schema_input_type=item | Annotated[list[item], Field(min_length=1)])


def _check_name_pattern(text: str) -> str:
    NamePattern.compile(text)
    return text


def _check_rule_name(text: str) -> str:
    if not _RULE_NAME.fullmatch(text):
        raise ValueError(f"{text!r} is not a rule name: use letters, digits, '-', '_' and '.' (at most 100)")
    return text


def _check_channel(text: str) -> str:
    if not _CHANNEL.fullmatch(text):
        raise ValueError(
            f'{text!r} is not a Slack channel: write "#name" (lowercase, no spaces) or an id like C0123456789'
        )
    return text


def _check_mention(text: str) -> str:
    tokens = text.split()
    bad = [token for token in tokens if not _MENTION.fullmatch(token)]
    if not tokens or bad:
        raise ValueError(
            f"{(bad or [text])[0]!r} is not a Slack mention: use <!subteam^ID>, <@U0123>, <!here> or @name"
        )
    return text


def _priority_ranges(value: object) -> object:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("an empty list matches nothing")
    if any(isinstance(item, bool) or not isinstance(item, int | dict) for item in items):
        raise ValueError("priority is a number, {min: N, max: M}, or a list of those")
    return [{"min": item, "max": item} if isinstance(item, int) else item for item in items]


class _StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: object) -> object:
        # `key:` with nothing after it is almost always a half-written line, never a way to say "any".
        if value is None:
            raise ValueError("no value: give one, or remove the key")
        return value


class PriorityRangeModel(_StrictModel):
    """`{min: 1, max: 5}`: both ends inclusive, either may be left out."""

    min: StrictInt | None = None
    max: StrictInt | None = None

    @model_validator(mode="after")
    def _check_bounds(self) -> PriorityRangeModel:
        if self.min is None and self.max is None:
            raise ValueError("a priority range needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}: nothing can match")
        return self


class MatchModel(_StrictModel):
    """Task conditions; all must hold. A list means any of its values."""

    last_status: Annotated[list[LastStatus] | None, _one_or_many(LastStatus)] = None
    task_type: Annotated[list[TaskType] | None, _one_or_many(TaskType)] = None
    scheduled_type: Annotated[list[ScheduledType] | None, _one_or_many(ScheduledType)] = None
    life_cycle_type: Annotated[list[LifeCycleType] | None, _one_or_many(LifeCycleType)] = None
    task_name: Annotated[
        list[Annotated[StrictStr, AfterValidator(_check_name_pattern)]] | None, _one_or_many(StrictStr)
    ] = None
    id: Annotated[list[Annotated[StrictStr, Field(min_length=1)]] | None, _one_or_many(StrictStr)] = None
    enable: StrictBool | None = None
    priority: Annotated[
        list[PriorityRangeModel] | None,
        BeforeValidator(
            _priority_ranges,
            json_schema_input_type=StrictInt
            | PriorityRangeModel
            | Annotated[list[StrictInt | PriorityRangeModel], Field(min_length=1)],
        ),
    ] = None
    project: Annotated[list[Annotated[StrictStr, Field(min_length=1)]] | None, _one_or_many(StrictStr)] = None

    @field_validator("life_cycle_type")
    @classmethod
    def _needs_life_cycle_tasks(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        scheduled = info.data.get("scheduled_type")
        if value is not None and scheduled is not None and "LIFE_CYCLE" not in scheduled:
            raise ValueError(
                "only LIFE_CYCLE tasks have a life_cycle_type, and scheduled_type excludes them: "
                "this can never match"
            )
        return value

    @field_validator("enable")
    @classmethod
    def _enabled_only(cls, value: bool | None) -> bool | None:
        if value is False:
            raise ValueError("disabled tasks never alert (their alerts close), so this can never match")
        return value

    def is_empty(self) -> bool:
        return not self.model_fields_set


class RuleModel(_StrictModel):
    """One alert rule: which failing tasks, and where and how to tell."""

    name: Annotated[
        StrictStr, AfterValidator(_check_rule_name), Field(json_schema_extra={"pattern": _RULE_NAME.pattern})
    ]
    match: MatchModel = MatchModel()
    channel: (
        Annotated[
            StrictStr, AfterValidator(_check_channel), Field(json_schema_extra={"pattern": _CHANNEL.pattern})
        ]
        | None
    ) = None
    severity: Severity = "warning"
    repeat_interval: Annotated[
        timedelta, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA)
    ] = DEFAULT_REPEAT_INTERVAL
    notify_resolved: StrictBool = True
    continue_: StrictBool = Field(default=False, alias="continue")
    group_by: Annotated[list[GroupField], _one_or_many(GroupField)] = Field(default_factory=list)
    mention: Annotated[StrictStr, AfterValidator(_check_mention)] | None = None
    min_failures: Annotated[StrictInt, Field(ge=1)] = 1


class SilenceModel(_StrictModel):
    """Mutes matching tasks' alerts (of the named rules, or all) until `until`."""

    match: MatchModel
    rule: Annotated[list[StrictStr] | None, _one_or_many(StrictStr)] = None
    until: AwareDatetime
    comment: Annotated[StrictStr, Field(min_length=1)]

    @field_validator("match")
    @classmethod
    def _not_everything(cls, value: MatchModel) -> MatchModel:
        if value.is_empty():
            raise ValueError("a silence needs at least one match key (an empty match would mute everything)")
        return value


class RuleFileModel(_StrictModel):
    """A workspace-monitor rule file."""

    rules: list[RuleModel] = Field(default_factory=list)
    silences: list[SilenceModel] = Field(default_factory=list)


_KEYS_BY_SECTION: dict[str | None, frozenset[str]] = {
    None: frozenset(RuleFileModel.model_fields),
    "rules": frozenset(field.alias or name for name, field in RuleModel.model_fields.items()),
    "silences": frozenset(SilenceModel.model_fields),
    "match": frozenset(MatchModel.model_fields),
    "priority": frozenset(PriorityRangeModel.model_fields),
}


class _JsonSchemaOfFile(GenerateJsonSchema):
    """The schema of what a file may say: `None` in the models only means "key absent" (a file cannot write
    null), and defaults are shown as a file would write them."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        default = super().get_default_value(schema)
        if default is None or isinstance(default, BaseModel):
            return NoDefault
        if isinstance(default, timedelta):
            return format_duration(default)
        return default


def rule_file_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a rule file, from the same models that validate it."""
    schema = RuleFileModel.model_json_schema(by_alias=True, schema_generator=_JsonSchemaOfFile)
    return {**schema, "$schema": "https://json-schema.org/draft/2020-12/schema", "title": _SCHEMA_TITLE}


# ----------------------------------------------------------------------------------------------------------
# Compiled rules: plain frozen dataclasses that matching works on.


class NameRegex(Protocol):
    """What matching needs of a compiled name pattern: a full match, None when the name does not match."""

    @property
    def pattern(self) -> str: ...

    def fullmatch(self, name: str, /) -> object | None: ...


# google-re2: `re:` patterns are written by people and matched against every task name each cycle. RE2 runs
# in time linear in the name whatever the pattern (no backtracking), so `(a+)+$` cannot freeze the daemon;
# it has no backreferences or lookaround, which a task name never needs. The low-level object is used
# directly: re2.compile's wrapper costs ~2.5 us a match, the object ~0.5 us.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.never_capture = True  # only whether it matches
_RE2_OPTIONS.log_errors = False  # errors are reported as file:line problems, not on stderr
_RE2_WHOLE = _re2.RE2.Anchor.ANCHOR_BOTH
#: RE2's largest counted repetition; a larger count would be read as literal text (`a{4294967296}`).
RE2_MAX_REPEAT = 1000
_COUNTED_REPEAT = re.compile(r"(?<!\\)\{(\d+)(?:,(\d*))?\}")
_RE2_HINT = "task_name regexes use RE2 syntax: no backreferences, lookahead or lookbehind; \\z ends the text"


def _shortened(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class LinearRegex:
    """A `re:` pattern compiled by RE2: a full match costs time linear in the name, whatever the pattern."""

    __slots__ = ("_compiled", "_required", "pattern", "program_size")

    def __init__(self, pattern: str) -> None:
        """Raises ValueError saying what RE2 cannot run."""
        for found in _COUNTED_REPEAT.finditer(pattern):
            counts = [int(count) for count in found.groups() if count]
            if max(counts) > RE2_MAX_REPEAT:
                raise ValueError(f"repetition {found.group()} is too large (at most {{{RE2_MAX_REPEAT}}})")
        compiled = _re2.RE2(pattern.encode("utf-8", "surrogatepass"), _RE2_OPTIONS)
        if not compiled.ok():
            error = _shortened(compiled.error().decode("utf-8", "replace"))
            unsupported = error.startswith(("invalid perl operator", "invalid escape sequence"))
            raise ValueError(f"{error} ({_RE2_HINT})" if unsupported else error)
        self.pattern = pattern
        self._compiled = compiled
        #: The size of RE2's program: what an RE2 set of patterns is limited by (`NameScreen`).
        self.program_size: int = compiled.ProgramSize()
        # Text every match contains: a name without it is refused by a substring test (~40 ns) instead of
        # a call into RE2 (~500 ns), which most names of a fleet are.
        self._required = _required_literal(pattern)

    def fullmatch(self, name: str, /) -> bool | None:
        if self._required not in name:
            return None
        text = name.encode("utf-8", "surrogatepass")
        return True if self._compiled.Match(_RE2_WHOLE, text, 0, len(text))[0][0] >= 0 else None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LinearRegex) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __repr__(self) -> str:
        return f"LinearRegex({self.pattern!r})"


@dataclass(frozen=True)
class NamePattern:
    """A task name pattern: a glob (`prod-*`) or a regular expression after `re:`, matching the whole name.
    Globs run on Python's `re` (fnmatch's translation never backtracks badly); `re:` patterns on RE2."""

    text: str
    regex: NameRegex
    exact: str | None = None
    #: Every name the pattern matches starts with this ("" when nothing is known: a regex, a glob like
    #: `*-01`): what `match` indexes names by.
    prefix: str = ""
    #: The pattern is `<prefix>*`: it matches exactly the names that start with `prefix`.
    prefix_only: bool = False

    @classmethod
    def compile(cls, text: str) -> NamePattern:
        """Raises ValueError for an empty pattern or a regular expression RE2 cannot run."""
        if text.startswith("re:"):
            source = text.removeprefix("re:")
            if not source:
                raise ValueError("'re:' needs a regular expression after it")
            try:
                return cls(text, LinearRegex(source), prefix=_regex_prefix(source))
            except ValueError as exc:
                raise ValueError(f"bad regular expression {_shortened(source)!r}: {exc}") from None
        if not text:
            raise ValueError("an empty task_name matches nothing")
        special = next((i for i, char in enumerate(text) if char in _GLOB_SPECIALS), None)
        if special is None:
            return cls(text, re.compile(fnmatch.translate(text)), exact=text, prefix=text)
        prefix = text[:special]
        # fnmatch's `*` is `.*` under DOTALL: `prefix*` accepts any rest, newlines included.
        return cls(text, re.compile(fnmatch.translate(text)), prefix=prefix, prefix_only=text == prefix + "*")

    def matches(self, name: str) -> bool:
        if self.exact is not None:
            return name == self.exact
        return self.regex.fullmatch(name) is not None


def _regex_prefix(source: str) -> str:
    """Text that every full match of `source` starts with, or "" when unsure: its leading plain characters
    (less the last when a quantifier follows it), unless the expression has an alternative at the top level
    (`prod-.*|lab-.*`). A global flag such as `(?i)` can only come first, and then there is no prefix."""
    end = 0
    while end < len(source) and source[end] not in _REGEX_SPECIALS:
        end += 1
    if end < len(source) and source[end] in "?*{+":
        end -= 1  # `ab?` or `ab{0,2}`: the last plain character may be absent
    if end <= 0 or _has_top_level_alternative(source):
        return ""
    return source[:end]


def _required_literal(source: str) -> str:
    """The longest run of plain characters that every full match of `source` contains, or "" when unsure:
    characters outside any group, class or escape, less one followed by `?`, `*` or a counted repetition.
    Nothing for an expression with a top-level alternative or any `(?` (a flag such as `(?i)` may change
    what a character matches)."""
    if "(?" in source or _has_top_level_alternative(source):
        return ""
    best, run, depth, position, size = "", "", 0, 0, len(source)

    def ended(run: str) -> str:
        return run if len(run) > len(best) else best

    while position < size:
        char = source[position]
        if char == "\\":
            # An escape, and what may belong to it (`\\pL`, `\\x41`, `\\p{Greek}`, octal digits): skipped.
            best, run = ended(run), ""
            position += 2
            while position < size and (source[position].isalnum() or source[position] in "{}"):
                position += 1
            continue
        if char == "[":
            best, run = ended(run), ""
            position += 1
            if source.startswith("^", position):
                position += 1
            if source.startswith("]", position):
                position += 1
            while position < size and source[position] != "]":
                position += 2 if source[position] == "\\" else 1
        elif char in "?*{":
            best, run = ended(run[:-1]), ""  # the character before may be absent
            if char == "{":
                closing = source.find("}", position)
                position = closing if closing != -1 else size
        elif char in "()+.^$|":
            best, run = ended(run), ""  # `+`: the character before is there at least once
            depth += {"(": 1, ")": -1}.get(char, 0)
        elif depth == 0:
            run += char
        position += 1
    return ended(run)


def _has_top_level_alternative(source: str) -> bool:
    depth, position, size = 0, 0, len(source)
    while position < size:
        char = source[position]
        if char == "\\":
            position += 1
        elif char == "[":
            # A set runs to the first `]` not escaped, except one right after `[` or `[^`.
            position += 1
            if source.startswith("^", position):
                position += 1
            if source.startswith("]", position):
                position += 1
            while position < size and source[position] != "]":
                position += 2 if source[position] == "\\" else 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth <= 0:
            return True
        position += 1
    return False


@dataclass(frozen=True)
class PriorityRange:
    low: int | None = None
    high: int | None = None

    def __contains__(self, priority: int) -> bool:
        return (self.low is None or priority >= self.low) and (self.high is None or priority <= self.high)


class TaskSignature(NamedTuple):
    """The task fields that matching indexes on: few distinct combinations across a whole fleet."""

    project: str
    last_status: str | None
    task_type: str | None
    scheduled_type: str | None
    life_cycle_type: str | None
    enabled: bool

    @classmethod
    def of(cls, task: ScheduledTask, project: str) -> TaskSignature:
        # A task whose listing omits `enable` counts as enabled, as the API creates them.
        return cls(
            project,
            task.last_status,
            task.task_type,
            task.scheduled_type,
            task.life_cycle_type,
            task.enable is not False,
        )


class Candidate(NamedTuple):
    """A rule that may match a task (see `RuleSet.candidates_for`), and what is left to check: nothing
    (both tests None), the name alone (`name_test`: a full match, None when the name does not match), or
    the matcher's details (`task_test`)."""

    rule: Rule
    #: The rule's route when it is the same for every task (no group_by).
    route: MatchedRoute | None
    name_test: Callable[[str], object | None] | None = None
    task_test: Callable[[ScheduledTask], bool] | None = None


# What the index knows of a task: its signature's fields, the indexed name prefixes its name starts with
# (shortest first), and whether some rule names its id. A plain tuple: one is built for every task.
_TaskKey = tuple[str, str | None, str | None, str | None, str | None, bool, tuple[str, ...], bool]


@dataclass(frozen=True)
class TaskMatcher:
    """The compiled `match:` of a rule or silence. `None` means the key was not given (anything goes)."""

    last_status: frozenset[str] | None = None
    task_type: frozenset[str] | None = None
    scheduled_type: frozenset[str] | None = None
    life_cycle_type: frozenset[str] | None = None
    enable: bool | None = None
    project: frozenset[str] | None = None
    task_id: frozenset[str] | None = None
    task_name: tuple[NamePattern, ...] | None = None
    priority: tuple[PriorityRange, ...] | None = None

    def matches(self, task: ScheduledTask, project: str) -> bool:
        # `accepts(TaskSignature.of(task, project))` written out: silences ask this for every task.
        return (
            (self.project is None or project in self.project)
            and (self.last_status is None or task.last_status in self.last_status)
            and (self.task_type is None or task.task_type in self.task_type)
            and (self.scheduled_type is None or task.scheduled_type in self.scheduled_type)
            and (self.life_cycle_type is None or task.life_cycle_type in self.life_cycle_type)
            and (self.enable is None or (task.enable is not False) is self.enable)
            and self.matches_details(task)
        )

    def accepts(self, signature: TaskSignature) -> bool:
        """Whether the indexed keys allow tasks with this signature."""
        return (
            (self.project is None or signature.project in self.project)
            and (self.last_status is None or signature.last_status in self.last_status)
            and (self.task_type is None or signature.task_type in self.task_type)
            and (self.scheduled_type is None or signature.scheduled_type in self.scheduled_type)
            and (self.life_cycle_type is None or signature.life_cycle_type in self.life_cycle_type)
            and (self.enable is None or signature.enabled is self.enable)
        )

    @property
    def checks_details(self) -> bool:
        """Whether anything beyond the signature is checked (id, name, priority)."""
        return self.task_id is not None or self.task_name is not None or self.priority is not None

    @cached_property
    def name_expression(self) -> NameRegex | None:
        """When the name is the only detail checked: one expression whose full match is what the patterns
        accept (a test without a Python call per pattern, for `match`). None otherwise, and for a list with
        a `re:` pattern, whose inline flags could not be combined with the others'."""
        if self.task_id is not None or self.priority is not None or not self.task_name:
            return None
        if len(self.task_name) == 1:
            return self.task_name[0].regex
        if any(pattern.text.startswith("re:") for pattern in self.task_name):
            return None
        # Each glob's expression scopes its own flags, `(?s:...)\Z`: they combine as alternatives.
        return re.compile("|".join(f"(?:{pattern.regex.pattern})" for pattern in self.task_name))

    @property
    def name_prefixes(self) -> frozenset[str] | None:
        """The literal prefixes one of which the name of every matching task starts with; None when the
        name is not checked, or one of the patterns has no literal prefix (a regex, `*-01`)."""
        if self.task_name is None or not all(pattern.prefix for pattern in self.task_name):
            return None
        return frozenset(pattern.prefix for pattern in self.task_name)

    def matches_details(self, task: ScheduledTask) -> bool:
        # Loops rather than any(<generator>): matching asks this for tens of thousands of tasks a cycle.
        if self.task_id is not None and task.id not in self.task_id:
            return False
        if self.task_name is not None:
            name = task.task_name
            if name is None:
                return False
            for pattern in self.task_name:
                if pattern.matches(name):
                    break
            else:
                return False
        if self.priority is not None:
            priority = task.priority
            if priority is None:
                return False
            for ranges in self.priority:
                if priority in ranges:
                    break
            else:
                return False
        return True

    def covers(self, other: TaskMatcher) -> bool:
        """Whether every task `other` matches is matched by this one too (checked on the indexed keys only;
        False whenever this matcher checks details, which could exclude some)."""
        if self.checks_details:
            return False

        def wider(mine: frozenset[str] | None, theirs: frozenset[str] | None) -> bool:
            return mine is None or (theirs is not None and theirs <= mine)

        return (
            wider(self.last_status or ALERTABLE_STATUSES, other.last_status or ALERTABLE_STATUSES)
            and wider(self.task_type, other.task_type)
            and wider(self.scheduled_type, other.scheduled_type)
            and wider(self.life_cycle_type, other.life_cycle_type)
            and wider(self.project, other.project)
            and (self.enable is None or self.enable is other.enable)
        )

    def to_spec(self) -> dict[str, Any]:
        """The `match:` mapping (JSON-able) that `compile_match` turns back into this matcher."""
        spec: dict[str, Any] = {}
        for key in ("last_status", "task_type", "scheduled_type", "life_cycle_type", "project"):
            values: frozenset[str] | None = getattr(self, key)
            if values is not None:
                spec[key] = sorted(values)
        if self.task_id is not None:
            spec["id"] = sorted(self.task_id)
        if self.task_name is not None:
            spec["task_name"] = [pattern.text for pattern in self.task_name]
        if self.enable is not None:
            spec["enable"] = self.enable
        if self.priority is not None:
            spec["priority"] = [
                {key: bound for key, bound in (("min", r.low), ("max", r.high)) if bound is not None}
                for r in self.priority
            ]
        return spec

    @classmethod
    def from_model(cls, model: MatchModel) -> TaskMatcher:
        def values(items: Sequence[str] | None) -> frozenset[str] | None:
            return None if items is None else frozenset(items)

        return cls(
            last_status=values(model.last_status),
            task_type=values(model.task_type),
            scheduled_type=values(model.scheduled_type),
            life_cycle_type=values(model.life_cycle_type),
            enable=model.enable,
            project=values(model.project),
            task_id=values(model.id),
            task_name=None if model.task_name is None else tuple(map(NamePattern.compile, model.task_name)),
            priority=None
            if model.priority is None
            else tuple(PriorityRange(r.min, r.max) for r in model.priority),
        )


@dataclass(frozen=True)
class Location:
    filename: str
    line: int | None = None

    def __str__(self) -> str:
        return self.filename if self.line is None else f"{self.filename}:{self.line}"


@dataclass(frozen=True)
class Rule:
    """One compiled alert rule. `channel` None means the configured default channel."""

    name: str
    matcher: TaskMatcher
    location: Location
    channel: str | None = None
    severity: Severity = "warning"
    repeat_interval: timedelta = DEFAULT_REPEAT_INTERVAL
    notify_resolved: bool = True
    continue_matching: bool = False
    group_by: tuple[GroupField, ...] = ()
    mention: str | None = None
    min_failures: int = 1

    @classmethod
    def from_model(cls, model: RuleModel, location: Location) -> Rule:
        return cls(
            name=model.name,
            matcher=TaskMatcher.from_model(model.match),
            location=location,
            channel=model.channel,
            severity=model.severity,
            repeat_interval=model.repeat_interval,
            notify_resolved=model.notify_resolved,
            continue_matching=model.continue_,
            group_by=tuple(model.group_by),
            mention=model.mention,
            min_failures=model.min_failures,
        )


@dataclass(frozen=True)
class MatchedRoute:
    """A rule that matched a task; `group_key` is the task's `group_by` fields, to split digests by."""

    rule: Rule
    group_key: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RuleSet:
    """Every rule in file order, the rule files' silences, and the files they came from."""

    rules: tuple[Rule, ...]
    silences: tuple[Silence, ...] = ()
    files: tuple[str, ...] = ()
    _by_name: dict[str, Rule] = field(init=False, repr=False, compare=False)
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
        plain = {rule.name: MatchedRoute(rule) for rule in self.rules if not rule.group_by}
        object.__setattr__(self, "_plain_routes", plain)
        prefixes = frozenset(
            pattern.prefix
            for rule in self.rules
            for pattern in rule.matcher.task_name or ()
            if pattern.prefix
        )
        object.__setattr__(self, "_name_prefixes", prefixes)
        lengths: dict[str, set[int]] = {}
        for prefix in prefixes:
            lengths.setdefault(prefix[0], set()).add(len(prefix))
        object.__setattr__(self, "_name_lengths", {char: tuple(sorted(n)) for char, n in lengths.items()})
        ids = frozenset(task_id for rule in self.rules for task_id in rule.matcher.task_id or ())
        object.__setattr__(self, "_named_ids", ids)
        object.__setattr__(
            self, "_plans", {id(rule): _plan(rule, plain.get(rule.name)) for rule in self.rules}
        )

    def route(self, rule: Rule, task: ScheduledTask, project: str) -> MatchedRoute:
        plain = self._plain_routes.get(rule.name)
        return plain if plain is not None else MatchedRoute(rule, _group_key(rule.group_by, task, project))

    def rule(self, name: str) -> Rule | None:
        return self._by_name.get(name)

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
        name = task.task_name
        found: tuple[str, ...] = ()
        if name:
            size, prefixes = len(name), self._name_prefixes
            lengths = self._name_lengths.get(name[0], ())
            found = tuple([part for n in lengths if n <= size and (part := name[:n]) in prefixes])
        key: _TaskKey = (
            project,
            task.last_status,
            task.task_type,
            task.scheduled_type,
            task.life_cycle_type,
            task.enable is not False,  # as TaskSignature.of
            found,
            task.id in self._named_ids,
        )
        cached = self._narrowed.get(key)
        if cached is None:
            cached = self._narrowed[key] = self._narrow(TaskSignature(*key[:6]), found, key[7])
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
    details_free = matcher.task_id is None and matcher.priority is None
    settling = None
    if details_free and matcher.task_name is not None:
        settling = frozenset(p.prefix for p in matcher.task_name if p.prefix_only) or None
    expression = matcher.name_expression
    if expression is not None:
        checked = Candidate(rule, route, name_test=expression.fullmatch)
    else:
        checked = Candidate(rule, route, task_test=matcher.matches_details)
    return _Plan(
        needs_id=matcher.task_id is not None,
        name_prefixes=matcher.name_prefixes,
        settles_alone=details_free and matcher.task_name is None,
        settling_prefixes=settling,
        settled=Candidate(rule, route),
        checked=checked,
        screened=expression if isinstance(expression, LinearRegex) and RegexScreen.fits(expression) else None,
    )


class RegexScreen:
    """The `re:` name tests of a rule set run as RE2 sets: one pass over a name tells which of the patterns
    match it. Built once per rule set (compiling thousands of patterns takes tens of milliseconds).

    Sets are limited by size (`SET_INSTRUCTIONS` of RE2 program each, bigger patterns left out and tested
    alone) so that their matching automaton always fits its memory: out of memory, a set would report no
    match instead of an error."""

    SET_INSTRUCTIONS = 20_000

    def __init__(self, regexes: Sequence[LinearRegex]) -> None:
        """Raises MemoryError when RE2 cannot build a set (never with sets this small): the rule set then
        tests each pattern alone."""
        self._sets: list[tuple[Any, int]] = []  # (RE2 set, index of its first pattern)
        current: Any = None
        size = 0
        for index, regex in enumerate(regexes):
            if current is None or size + regex.program_size > self.SET_INSTRUCTIONS:
                current, size = _re2.Set(_RE2_WHOLE, _RE2_OPTIONS), 0
                self._sets.append((current, index))
            if current.Add(regex.pattern.encode("utf-8", "surrogatepass")) != index - self._sets[-1][1]:
                raise MemoryError(f"RE2 set refused {regex.pattern!r}")  # compiled alone: never expected
            size += regex.program_size
        for compiled, _ in self._sets:
            if not compiled.Compile():  # matching an uncompiled set crashes the process
                raise MemoryError("RE2 set too large")

    @classmethod
    def fits(cls, regex: LinearRegex) -> bool:
        return regex.program_size <= cls.SET_INSTRUCTIONS

    def hits(self, name: str) -> list[int]:
        """The indexes of the patterns that fully match `name`."""
        text = name.encode("utf-8", "surrogatepass")
        return [first + index for compiled, first in self._sets for index in compiled.Match(text)]


class NameScreen:
    """The candidates of one key when many of them test the name by RE2 alone: for a name, only those whose
    pattern matched (nothing left to test), the other fixed candidates and the key's prefix candidates are
    looked at. 5,000 `re:` rules against 3,000 failing tasks were 15 million matches a cycle, seconds of a
    blocked event loop; now one pass of the rule set's RegexScreen per name."""

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


# ----------------------------------------------------------------------------------------------------------
# Matching.


def match(ruleset: RuleSet, task: ScheduledTask, project: str) -> list[MatchedRoute]:
    """The rules that alert on `task`, in order: the first match, and the ones after it while the matching
    rules say `continue: true`. Only FAIL and SKIP tasks can match."""
    if task.last_status not in ALERTABLE_STATUSES:
        return []
    routes: list[MatchedRoute] = []
    name = task.task_name
    for rule, plain, name_test, task_test in ruleset.candidates_for(task, project):
        if name_test is not None:
            if name is None or name_test(name) is None:
                continue
        elif task_test is not None and not task_test(task):
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
    values = {"project": project, **{name: getattr(task, name) for name in fields if name != "project"}}
    return tuple((name, "" if values[name] is None else str(values[name])) for name in fields)


# ----------------------------------------------------------------------------------------------------------
# Loading.


class RuleFileError(ValueError):
    """The rules cannot be used; `problems` are `file:line: problem` lines, all of them, in file order."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class _Problem:
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass
class _FileContents:
    rules: list[Rule] = field(default_factory=list)
    silences: list[tuple[Silence, Location]] = field(default_factory=list)
    #: (name, where) of every rule item with a text name, valid or not, to find duplicates across files.
    names: list[tuple[str, Location]] = field(default_factory=list)
    problems: list[_Problem] = field(default_factory=list)


def load_rules_text(text: str, filename: str = "<rules>") -> RuleSet:
    """Parse and validate one rule file's text. Raises RuleFileError listing every problem."""
    return _assemble([_parse_file(text, filename)], files=[filename])


#: What a rules directory reads: `*.yaml` and `*.yml` (hidden files skipped).
RULE_FILE_SUFFIXES = (".yaml", ".yml")
#: A rule file larger than this is refused unread (a typo'd path to a log, a link to a disk image).
MAX_RULE_FILE_BYTES = 16 * 1024 * 1024


def load_rules(path: str | Path) -> RuleSet:
    """Load a rule file, or every `*.yaml` and `*.yml` file of a directory in name order (hidden files
    skipped). In a directory, an entry that cannot be read (a broken symbolic link, a directory or device
    named `x.yaml`, no permission) is a problem with its path, never skipped; a symbolic link out of the
    directory is followed to a regular file only, and the problems of such a file do not show its content
    (it may be anything readable by the daemon's user)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(
            entry
            for entry in path.iterdir()
            if entry.name.endswith(RULE_FILE_SUFFIXES) and not entry.name.startswith(".")
        )
        if not files:
            raise RuleFileError([f"{path}: no *.yaml or *.yml rule files in this directory"])
        parsed = [_read_entry(file, path) for file in files]
    else:
        files = [path]
        parsed = [_read_named(path)]
    return _assemble(parsed, files=[str(file) for file in files])


def _read_named(path: Path) -> _FileContents:
    """The one rule file named (`rules:` or `--rules`): a regular file, or a problem unread (a FIFO would
    block the read for ever, /dev/zero fill the memory)."""
    try:
        status = path.stat()
    except OSError:
        return _read_file(path)  # says why (no such file, no permission)
    if not stat.S_ISREG(status.st_mode):
        return _FileContents(
            problems=[_Problem(Location(str(path)), "not a regular file: a rule file must be a regular file")]
        )
    return _read_file(path, size=status.st_size)


def _read_entry(entry: Path, directory: Path) -> _FileContents:
    """One entry of a rules directory (see `load_rules`)."""

    def refused(problem: str) -> _FileContents:
        return _FileContents(problems=[_Problem(Location(str(entry)), problem)])

    try:
        target = entry.resolve(strict=True)
        status = target.stat()
    except FileNotFoundError:
        return refused("a broken symbolic link: what it points to does not exist")
    except RuntimeError:  # a loop of symbolic links (Python 3.11)
        return refused("a loop of symbolic links")
    except OSError as exc:
        return refused(f"cannot be read: {exc.strerror or type(exc).__name__}")
    if not stat.S_ISREG(status.st_mode):
        what = "a directory" if stat.S_ISDIR(status.st_mode) else "not a regular file"
        return refused(f"{what}: a rule file must be a regular file")
    contents = _read_file(entry, size=status.st_size)
    outside = not target.is_relative_to(directory.resolve())
    if outside and contents.problems:
        # Whatever the link points to is reported by its lines only: never a quote of its content.
        lines = sorted({problem.location.line or 1 for problem in contents.problems})
        shown = ", ".join(map(str, lines[:10])) + (", ..." if len(lines) > 10 else "")
        return _FileContents(
            problems=[
                _Problem(
                    Location(str(entry), lines[0]),
                    f"not a valid rule file (problems on lines {shown}); it links outside the rules "
                    "directory, so its content is not shown: run `check --rules` on the file itself",
                )
            ]
        )
    return contents


def _read_file(path: Path, size: int | None = None) -> _FileContents:
    if size is not None and size > MAX_RULE_FILE_BYTES:
        problem = f"{size:,} bytes: larger than a rule file can be ({MAX_RULE_FILE_BYTES:,})"
        return _FileContents(problems=[_Problem(Location(str(path)), problem)])
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problem = "no such file or directory"
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    except OSError as exc:
        problem = f"cannot read: {exc.strerror or exc}"
    else:
        return _parse_file(text, str(path))
    return _FileContents(problems=[_Problem(Location(str(path)), problem)])


def compile_match(spec: Mapping[str, Any], *, where: str) -> TaskMatcher:
    """A matcher from a `match:` mapping given at runtime (a `/tasks silence`, a stored silence).

    Raises RuleFileError with problems prefixed by `where`."""
    try:
        return TaskMatcher.from_model(MatchModel.model_validate(spec))
    except ValidationError as exc:
        raise RuleFileError(
            [
                f"{where}: match.{_dotted(error['loc'])}: {_explain(error, ('match', *error['loc'][:-1]))}"
                for error in exc.errors()
            ]
        ) from None


def _parse_file(text: str, filename: str) -> _FileContents:
    try:
        data, locator = parse_yaml(text, filename)
    except YamlError as exc:
        return _FileContents(problems=[_Problem(Location(filename, exc.line), _yaml_problem(exc.problem))])
    if data is None:
        shape = "empty rule file: expected `rules:` and/or `silences:`"
    elif not isinstance(data, dict):
        shape = f"a rule file is a mapping with `rules:` and/or `silences:`, not {_yaml_type(data)}"
    else:
        contents = _validated(data, locator)
        contents.problems.extend(_duplicate_keys(locator))
        return contents
    return _FileContents(problems=[_Problem(Location(filename, 1), shape)])


def _validated(data: dict[str, Any], locator: Locator) -> _FileContents:
    """The rules and silences of one parsed file, the valid ones compiled, every problem located."""
    filename = locator.filename
    contents = _FileContents()
    raw_rules, raw_silences = _list_at(data, "rules"), _list_at(data, "silences")
    for index, raw in enumerate(raw_rules):
        if isinstance(raw, dict) and isinstance(raw.get("name"), str):
            contents.names.append(
                (raw["name"], Location(filename, locator.line_of(("rules", index, "name"))))
            )
    try:
        file_model = RuleFileModel.model_validate(data)
        rule_models = list(enumerate(file_model.rules))
        silence_models = list(enumerate(file_model.silences))
    except ValidationError as exc:
        contents.problems.extend(_located(error, data, locator) for error in exc.errors())
        # Keep the valid items, so that checks across rules (shadowing) still run on them.
        rule_models = _valid_items(RuleModel, raw_rules)
        silence_models = _valid_items(SilenceModel, raw_silences)
    for index, rule_model in rule_models:
        contents.rules.append(
            Rule.from_model(rule_model, Location(filename, locator.line_of(("rules", index))))
        )
    for index, silence_model in silence_models:
        where = Location(filename, locator.line_of(("silences", index)))
        names_line = Location(filename, locator.line_of(("silences", index, "rule")))
        contents.silences.append((_file_silence(silence_model, where), names_line))
    return contents


def _file_silence(model: SilenceModel, where: Location) -> Silence:
    return Silence(
        id=str(where),
        matcher=TaskMatcher.from_model(model.match),
        until=model.until,
        comment=model.comment,
        created_by="rule file",
        rules=frozenset(model.rule or ()),
        origin=SilenceOrigin.RULE_FILE,
    )


def _list_at(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return value if isinstance(value, list) else []


def _valid_items(model: type[_Model], raw_items: Sequence[object]) -> list[tuple[int, _Model]]:
    valid = []
    for index, raw in enumerate(raw_items):
        try:
            valid.append((index, model.model_validate(raw)))
        except ValidationError:
            continue
    return valid


def _assemble(parsed: Sequence[_FileContents], *, files: Sequence[str]) -> RuleSet:
    problems = [problem for contents in parsed for problem in contents.problems]
    first_use: dict[str, Location] = {}
    for contents in parsed:
        for name, where in contents.names:
            if name in first_use:
                problems.append(_Problem(where, f"rule name {name!r} is already used at {first_use[name]}"))
            else:
                first_use[name] = where
    rules = [rule for contents in parsed for rule in contents.rules]
    problems.extend(_unreachable_rules(rules))
    for contents in parsed:
        for silence, where in contents.silences:
            for name in sorted(silence.rules - first_use.keys()):
                problems.append(_Problem(where, f"silence names rule {name!r}, which does not exist"))
    if not problems and not rules:
        problems.append(_Problem(Location(files[-1], 1), "no rules: nothing would ever alert"))
    if problems:
        file_order = {filename: position for position, filename in enumerate(files)}
        problems.sort(key=lambda p: (file_order.get(p.location.filename, 0), p.location.line or 0))
        raise RuleFileError(_capped(problems))
    silences = tuple(silence for contents in parsed for silence, _ in contents.silences)
    return RuleSet(tuple(rules), silences, tuple(files))


def _capped(problems: Sequence[_Problem]) -> list[str]:
    """The first MAX_PROBLEMS problems, then one line saying how many more there are (at the location of the
    first left out): past a hundred, nobody reads on, and a generated file can hold millions."""
    shown = [str(problem) for problem in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        more = len(problems) - MAX_PROBLEMS
        shown.append(
            f"{problems[MAX_PROBLEMS].location}: and {more:,} more problems (fix the ones above first)"
        )
    return shown


def _unreachable_rules(rules: Sequence[Rule]) -> Iterable[_Problem]:
    # Only a rule that checks no details and does not continue can shadow a later one: 5,000 rules with
    # name patterns are then checked in linear time, not against every earlier rule.
    catch_alls: list[Rule] = []
    for rule in rules:
        for earlier in catch_alls:
            # A rule repeated under the same name is reported as a duplicate, not twice.
            if earlier.name != rule.name and earlier.matcher.covers(rule.matcher):
                yield _Problem(
                    rule.location,
                    f"rule {rule.name!r} can never match: rule {earlier.name!r} ({earlier.location}) comes "
                    "first, matches every task this one would, and has no `continue: true`",
                )
                break
        if not rule.continue_matching and not rule.matcher.checks_details:
            catch_alls.append(rule)


def _duplicate_keys(locator: Locator) -> Iterable[_Problem]:
    # PyYAML keeps the last of two equal keys silently; in a rule that hides half of what was written.
    for duplicate in duplicate_keys(locator):
        yield _Problem(Location(locator.filename, duplicate.line), str(duplicate))


def _yaml_problem(problem: str) -> str:
    if "'\\t'" in problem:
        return "invalid YAML: a tab character; indent with spaces"
    return problem.splitlines()[0]  # PyYAML may append a second line quoting "<unicode string>"


def _located(error: ErrorDetails, data: Mapping[str, Any], locator: Locator) -> _Problem:
    loc = error["loc"]
    where = Location(locator.filename, locator.line_of(loc))
    # "unknown key 'chanel'" already names the key: the context is its owner.
    context = _context(loc[:-1] if error["type"] == "extra_forbidden" else loc, data)
    message = _explain(error, loc[:-1])
    return _Problem(where, f"{context}: {message}" if context else message)


def _context(loc: tuple[int | str, ...], data: Mapping[str, Any]) -> str:
    """`rule 'prod-reboots': match.task_type` for ("rules", 0, "match", "task_type", 1)."""
    if len(loc) >= 2 and loc[0] in ("rules", "silences") and isinstance(loc[1], int):
        section, index, rest = loc[0], loc[1], loc[2:]
        item = data[section][index]
        if section == "rules" and isinstance(item, dict) and isinstance(item.get("name"), str):
            owner = f"rule {item['name']!r}"
        else:
            owner = f"{section}[{index}]"
        return f"{owner}: {_dotted(rest)}" if _dotted(rest) else owner
    return _dotted(loc)


def _dotted(loc: Sequence[int | str]) -> str:
    # List positions are dropped: the line already points at the item.
    return ".".join(part for part in loc if isinstance(part, str))


def _explain(error: ErrorDetails, parent: Sequence[int | str]) -> str:
    kind, value = error["type"], error.get("input")
    key = next((part for part in reversed(error["loc"]) if isinstance(part, str)), "")
    if kind == "extra_forbidden":
        section = next((p for p in reversed(parent) if isinstance(p, str) and p in _KEYS_BY_SECTION), None)
        return f"unknown key {key!r}" + _did_you_mean(key, _KEYS_BY_SECTION[section])
    if kind == "missing":
        return "missing (required)"
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", error.get("ctx", {}).get("expected", ""))
        if key == "last_status" and value == "SUCCESS":
            return "SUCCESS never alerts (only FAIL and SKIP do; recoveries are announced by notify_resolved)"
        return f"{value!r} is not one of {', '.join(options)}" + _did_you_mean(str(value), options)
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {_yaml_type(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {_yaml_type(value)}"
    if kind == "string_type":
        return f"expected text, got {_yaml_type(value)} (quote it)"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list, got {_yaml_type(value)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping (key: value), got {_yaml_type(value)}"
    if kind in ("timezone_aware", "datetime_type", "datetime_parsing", "datetime_from_date_parsing"):
        return f"expected a date and time with a zone, like 2026-12-31T00:00:00Z, got {value!s}"
    return error["msg"].removeprefix("Value error, ")


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _yaml_type(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, datetime):
        return f"the time {value.isoformat()}"
    return type(value).__name__
