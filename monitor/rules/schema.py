"""The rule file format as pydantic models: the same models validate files and generate the JSON Schema."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

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
    ValidationInfo,
    WithJsonSchema,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, NoDefault
from pydantic_core import core_schema

from monitor.durations import format_duration, parse_duration
from monitor.rules.matcher import MATCH_KEYS, KeyKind, MatchKey
from monitor.rules.model import DEFAULT_REPEAT_INTERVAL, Severity
from monitor.rules.patterns import NamePattern
from monitor.rules.runbook import MAX_URL, RUNBOOK_FIELDS, check_runbook_template
from monitor.timeintervals import (
    parse_days_of_month,
    parse_location,
    parse_months,
    parse_time_of_day,
    parse_time_range,
    parse_weekdays,
    parse_years,
)

_RULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
# Slack channel names are lowercase without spaces; ids are C.../G.../D... in capitals.
_CHANNEL = re.compile(r"#[^\sA-Z#<>@,]{1,80}|[CGD][A-Z0-9]{6,}")
_MENTION = re.compile(
    r"<!subteam\^[A-Z0-9]+(?:\|[^<>]+)?>|<@[UW][A-Z0-9]+>|<!(?:here|channel|everyone)>|@[\w.-]+"
)
_TIME_PATTERN = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
_MUTE_INTERVALS_DOC = "names of time_intervals during which this rule's alerts wait (sent when they close)"
_ACTIVE_INTERVALS_DOC = "names of time_intervals outside which this rule's alerts wait (sent when one opens)"
_SILENCE_INTERVALS_DOC = "names of time_intervals: the silence mutes only while one of them is open"
_SCHEMA_TITLE = "workspace-monitor rule file"
_DURATION_SCHEMA = {
    "anyOf": [{"type": "string", "pattern": r"^(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?$"}, {"const": 0}],
    "description": "30s, 15m, 4h, 1d, 1h30m; 0 = never",
}
#: The shortest `overdue_after`: a task is due once a minute at most, and our clock and the API's may differ
#: by seconds (monitor.overdue.CLOCK_SKEW).
MIN_OVERDUE_AFTER = timedelta(minutes=1)
_OVERDUE_SCHEMA = {
    "type": "string",
    "pattern": r"^(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?$",
    "description": "alert (OVERDUE) when a task's next_execution_time is older than this with no run since: "
    "15m, 1h, 1h30m (at least 1m)",
}


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


def _check_overdue_after(value: timedelta) -> timedelta:
    if value < MIN_OVERDUE_AFTER:
        raise ValueError(
            f"{format_duration(value)} is too short: at least {format_duration(MIN_OVERDUE_AFTER)} "
            "(leave overdue_after out to not watch for missed runs)"
        )
    return value


def _check_mention(text: str) -> str:
    tokens = text.split()
    bad = [token for token in tokens if not _MENTION.fullmatch(token)]
    if not tokens or bad:
        raise ValueError(
            f"{(bad or [text])[0]!r} is not a Slack mention: use <!subteam^ID>, <@U0123>, <!here> or @name"
        )
    return text


def _check_notify_resolved(value: object) -> object:
    if value is True or value is False or value == "broadcast":
        return value
    shown = f"the text {value!r}" if isinstance(value, str) else f"{value!r}"
    raise ValueError(f"expected true, false or broadcast, got {shown}")


_RUNBOOK_DOC = (
    "an https link shown as a button on the rule's alerts; may name "
    + ", ".join("{" + name + "}" for name in RUNBOOK_FIELDS)
    + " (URL-escaped), after the host"
)


def _check_time_of_day(text: str) -> str:
    parse_time_of_day(text)
    return text


def _check_location(text: str) -> str:
    parse_location(text)
    return text


def _range_text(parse: Callable[[str], object], what: str) -> Any:
    """A range item (`monday:friday`, `-7:-1`, `12`): text, or a number for days, months and years; kept as
    text once `parse` accepts it."""

    def check(value: object) -> str:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"expected {what} or a range of them (first:last), like the examples")
        parse(str(value))
        return str(value)

    return Annotated[StrictStr, BeforeValidator(check)]


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


def _refused(key: MatchKey) -> AfterValidator:
    def check(value: object) -> object:
        for never, why in key.never:
            if value == never and type(value) is type(never):
                raise ValueError(why)
        return value

    return AfterValidator(check)


_PRIORITY_INPUT = (
    StrictInt | PriorityRangeModel | Annotated[list[StrictInt | PriorityRangeModel], Field(min_length=1)]
)


def _annotation(key: MatchKey) -> Any:
    """The pydantic type of a key's value in a file, from its kind."""
    if key.kind is KeyKind.ENUM:
        word = cast(Any, Literal)[key.values]  # Literal["A", "B", ...] of the row's values
        return Annotated[list[word] | None, _one_or_many(word)]  # type: ignore[valid-type]
    if key.kind is KeyKind.EXACT:
        return Annotated[list[Annotated[StrictStr, Field(min_length=1)]] | None, _one_or_many(StrictStr)]
    if key.kind is KeyKind.GLOB:
        item = Annotated[StrictStr, AfterValidator(_check_name_pattern)]
        return Annotated[list[item] | None, _one_or_many(StrictStr)]
    if key.kind is KeyKind.RANGE:
        return Annotated[
            list[PriorityRangeModel] | None,
            BeforeValidator(_priority_ranges, json_schema_input_type=_PRIORITY_INPUT),
        ]
    return StrictBool | None


class _MatchBase(_StrictModel):
    """Task conditions; all must hold. A list means any of its values."""

    @field_validator("life_cycle_type", check_fields=False)
    @classmethod
    def _needs_life_cycle_tasks(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        scheduled = info.data.get("scheduled_type")
        if value is not None and scheduled is not None and "LIFE_CYCLE" not in scheduled:
            raise ValueError(
                "only LIFE_CYCLE tasks have a life_cycle_type, and scheduled_type excludes them: "
                "this can never match"
            )
        return value

    def is_empty(self) -> bool:
        return not self.model_fields_set


if TYPE_CHECKING:
    MatchModel = _MatchBase
else:
    # One field per row of the match key table (its kind gives the type, its doc the description).
    MatchModel = create_model(
        "MatchModel",
        __base__=_MatchBase,
        __doc__=_MatchBase.__doc__,
        **{
            key.name: (
                Annotated[_annotation(key), _refused(key), Field(description=key.doc)],
                None,
            )
            for key in MATCH_KEYS
        },
    )


#: What `group_by` may name: any match key's task value.
_GroupField = cast(Any, Literal)[tuple(key.name for key in MATCH_KEYS)]


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
    #: true: a reply in the alert's thread; broadcast: that reply also in the channel; false: neither.
    notify_resolved: Annotated[
        StrictBool | Literal["broadcast"],
        BeforeValidator(_check_notify_resolved),
        Field(description="announce a recovery in the thread (true), also in the channel (broadcast)"),
    ] = True
    continue_: StrictBool = Field(default=False, alias="continue")
    group_by: Annotated[list[_GroupField], _one_or_many(_GroupField)] = Field(default_factory=list)  # type: ignore[valid-type]
    mention: Annotated[StrictStr, AfterValidator(_check_mention)] | None = None
    min_failures: Annotated[StrictInt, Field(ge=1)] = 1
    #: Also page the on-call through PagerDuty (the config's `pagerduty:` section).
    pagerduty: StrictBool = False
    runbook_url: (
        Annotated[
            StrictStr,
            AfterValidator(check_runbook_template),
            Field(description=_RUNBOOK_DOC, json_schema_extra={"maxLength": MAX_URL}),
        ]
        | None
    ) = None
    #: Alert (OVERDUE) when a matched task misses its run by this long (monitor.overdue).
    overdue_after: (
        Annotated[
            timedelta,
            BeforeValidator(parse_duration),
            AfterValidator(_check_overdue_after),
            WithJsonSchema(_OVERDUE_SCHEMA),
        ]
        | None
    ) = None
    #: Names of `time_intervals:` during which the rule's alerts are held back (sent when they close).
    mute_time_intervals: Annotated[
        list[StrictStr], _one_or_many(StrictStr), Field(description=_MUTE_INTERVALS_DOC)
    ] = Field(default_factory=list)
    #: Names of `time_intervals:` outside which the rule's alerts are held back (sent when one opens).
    active_time_intervals: Annotated[
        list[StrictStr], _one_or_many(StrictStr), Field(description=_ACTIVE_INTERVALS_DOC)
    ] = Field(default_factory=list)


class SilenceModel(_StrictModel):
    """Mutes matching tasks' alerts (of the named rules, or all) until `until`; with `time_intervals`, only
    while one of those is open."""

    match: MatchModel
    rule: Annotated[list[StrictStr] | None, _one_or_many(StrictStr)] = None
    until: AwareDatetime
    comment: Annotated[StrictStr, Field(min_length=1)]
    time_intervals: Annotated[
        list[StrictStr] | None, _one_or_many(StrictStr), Field(description=_SILENCE_INTERVALS_DOC)
    ] = None

    @field_validator("match")
    @classmethod
    def _not_everything(cls, value: MatchModel) -> MatchModel:
        if value.is_empty():
            raise ValueError("a silence needs at least one match key (an empty match would mute everything)")
        return value


#: The most `times` ranges one time interval item holds (a range every 15 minutes of a day is 96).
MAX_TIME_RANGES = 96
#: The most items (parts) one named time interval holds.
MAX_INTERVAL_PARTS = 100


class TimeRangeModel(_StrictModel):
    """Minutes of the day: from start_time (inclusive) to end_time (exclusive), HH:MM, 24:00 allowed."""

    start_time: Annotated[StrictStr, AfterValidator(_check_time_of_day), Field(pattern=_TIME_PATTERN)]
    end_time: Annotated[StrictStr, AfterValidator(_check_time_of_day), Field(pattern=_TIME_PATTERN)]

    @model_validator(mode="after")
    def _check_order(self) -> TimeRangeModel:
        parse_time_range(self.start_time, self.end_time)
        return self


class TimeIntervalModel(_StrictModel):
    """When, as Alertmanager's time_interval: every key given must hold (a key left out always does), on the
    wall clock of `location` (UTC when absent). Ranges are inclusive, `first:last`."""

    times: Annotated[list[TimeRangeModel], Field(min_length=1, max_length=MAX_TIME_RANGES)] | None = None
    weekdays: Annotated[
        list[_range_text(parse_weekdays, "a weekday")] | None,  # type: ignore[valid-type]
        _one_or_many(StrictStr),
        Field(description="monday:friday, saturday (sunday = 0; a range cannot wrap)"),
    ] = None
    days_of_month: Annotated[
        list[_range_text(parse_days_of_month, "a day of the month")] | None,  # type: ignore[valid-type]
        _one_or_many(StrictStr | StrictInt),
        Field(description="1, 1:7, -1 (the last day), -7:-1"),
    ] = None
    months: Annotated[
        list[_range_text(parse_months, "a month")] | None,  # type: ignore[valid-type]
        _one_or_many(StrictStr | StrictInt),
        Field(description="december, 1:3, may:august"),
    ] = None
    years: Annotated[
        list[_range_text(parse_years, "a year")] | None,  # type: ignore[valid-type]
        _one_or_many(StrictStr | StrictInt),
        Field(description="2026, 2026:2027"),
    ] = None
    location: (
        Annotated[
            StrictStr, AfterValidator(_check_location), Field(description="an IANA zone: Europe/Berlin")
        ]
        | None
    ) = None


class NamedTimeIntervalModel(_StrictModel):
    """A named time interval (a maintenance window): open while any of its `time_intervals` is."""

    name: Annotated[
        StrictStr, AfterValidator(_check_rule_name), Field(json_schema_extra={"pattern": _RULE_NAME.pattern})
    ]
    # Each item is a part every window lookup looks at (timeintervals.MAX_WORK bounds the looks): a
    # generated file of 100,000 items would have had each lookup take one step and stop.
    time_intervals: Annotated[list[TimeIntervalModel], Field(min_length=1, max_length=MAX_INTERVAL_PARTS)]


class RuleFileModel(_StrictModel):
    """A workspace-monitor rule file."""

    rules: list[RuleModel] = Field(default_factory=list)
    silences: list[SilenceModel] = Field(default_factory=list)
    time_intervals: list[NamedTimeIntervalModel] = Field(default_factory=list)


KEYS_BY_SECTION: dict[str | None, frozenset[str]] = {
    None: frozenset(RuleFileModel.model_fields),
    "rules": frozenset(field.alias or name for name, field in RuleModel.model_fields.items()),
    "silences": frozenset(SilenceModel.model_fields),
    "match": frozenset(MatchModel.model_fields),
    "priority": frozenset(PriorityRangeModel.model_fields),
    "time_intervals": frozenset(NamedTimeIntervalModel.model_fields),
    #: An item of a named interval's `time_intervals` (see `section_of`).
    "interval": frozenset(TimeIntervalModel.model_fields),
    "times": frozenset(TimeRangeModel.model_fields),
}


def section_of(parent: Sequence[int | str]) -> str | None:
    """The KEYS_BY_SECTION entry of the mapping at `parent` (a path into the file)."""
    names = [part for part in parent if isinstance(part, str)]
    if names[:2] == ["time_intervals", "time_intervals"] and len(names) == 2:
        return "interval"
    return next((part for part in reversed(names) if part in KEYS_BY_SECTION), None)


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
