"""Compiled rules: plain frozen dataclasses that matching works on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from monitor.rules.matcher import TaskMatcher

Severity = Literal["critical", "warning", "info"]

DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)


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
    #: Announce a recovery in the alert's thread; "broadcast": that reply also goes to the channel.
    notify_resolved: bool | Literal["broadcast"] = True
    continue_matching: bool = False
    #: Names of match keys (MATCH_KEYS) whose task values split a channel's digest.
    group_by: tuple[str, ...] = ()
    mention: str | None = None
    min_failures: int = 1
    #: Also escalate to PagerDuty: the alert's trigger and resolve go to PAGERDUTY_CHANNEL as well.
    pagerduty: bool = False
    #: A link template (`monitor.rules.runbook`), checked at load; shown as a button on the rule's alerts.
    runbook_url: str | None = None
    #: Also alert (OVERDUE) when a matched task's `next_execution_time` is older than this and no run
    #: started since (monitor.overdue); None: missed runs are not watched.
    overdue_after: timedelta | None = None
    #: Names of the rule set's time intervals during which its alerts are held back (sent when they close).
    mute_time_intervals: tuple[str, ...] = ()
    #: Names of the rule set's time intervals outside which its alerts are held back (sent when one opens).
    active_time_intervals: tuple[str, ...] = ()


@dataclass(frozen=True)
class MatchedRoute:
    """A rule that matched a task; `group_key` is the task's `group_by` fields, to split digests by."""

    rule: Rule
    group_key: tuple[tuple[str, str], ...] = ()
