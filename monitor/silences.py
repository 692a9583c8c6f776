"""Silences: what mutes an alert, and until when.

A silence comes from the rule file (`silences:`) or is added at runtime (`/tasks silence prod-reboot 2h
maintenance`, kept by the store). Both are the same `Silence` and are applied by one pure function,
`is_muted`. A silence stops muting by itself once `until` has passed: nothing has to delete it, and a clock
that jumps back cannot make an alert escape early or late by more than the jump.

A silence matches tasks with the same match keys as a rule (`rules.load.compile_match` builds the matcher,
also for a runtime silence of one task: `compile_match({"id": task_id}, where=...)`), and may be limited to
some rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from monitor.rules.matcher import TaskMatcher
from monitor.workspace.models import ScheduledTask

__all__ = ["Silence", "SilenceOrigin", "is_muted"]


class SilenceOrigin(StrEnum):
    RULE_FILE = "rule_file"
    RUNTIME = "runtime"


@dataclass(frozen=True)
class Silence:
    """Mutes the alerts of matching tasks (of `rules`, or of every rule when empty) until `until`."""

    id: str
    matcher: TaskMatcher
    until: datetime
    comment: str
    created_by: str
    created_at: datetime | None = None
    rules: frozenset[str] = frozenset()
    origin: SilenceOrigin = SilenceOrigin.RUNTIME
    #: Names of time intervals (the rule set's `time_intervals:`): the silence mutes only while one is open.
    #: `is_active` does not know the windows: `monitor.windows.effective_silences` resolves them each cycle.
    time_intervals: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.until.tzinfo is None:
            raise ValueError(f"silence {self.id}: `until` needs a time zone")

    def is_active(self, now: datetime) -> bool:
        return now < self.until

    def mutes(self, task: ScheduledTask, rule_name: str, now: datetime, *, project: str) -> bool:
        return (
            self.is_active(now)
            and (not self.rules or rule_name in self.rules)
            and self.matcher.matches(task, project)
        )


def is_muted(
    silences: Iterable[Silence], task: ScheduledTask, rule_name: str, now: datetime, *, project: str
) -> Silence | None:
    """The silence muting `rule_name`'s alert for `task` at `now`, or None.

    When several do, the one lasting longest is returned, so "silenced until ..." in a reason is the truth.
    """
    muting = [silence for silence in silences if silence.mutes(task, rule_name, now, project=project)]
    return max(muting, key=lambda silence: silence.until, default=None)
