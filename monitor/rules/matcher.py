"""`TaskMatcher`: the compiled `match:` of a rule or silence, and `TaskSignature`, the task fields matching
evaluates once per distinct combination."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, NamedTuple, get_args

from monitor.rules.patterns import NamePattern, NameRegex
from monitor.workspace.models import ScheduledTask

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
