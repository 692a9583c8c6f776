"""Maintenance windows at one instant: the time intervals of rules and silences, turned into plain silences.

`decide` knows one way to hold an alert back: a silence. A muted NEW is stored unannounced with
`silenced_by`, and is posted at the first cycle the silence no longer mutes it, if the task is still
failing (once: from then on it is announced); one that recovers while muted is never posted. Maintenance
windows reuse exactly that path. Each cycle, `effective_silences(ruleset, silences, now)` gives the
silences that hold at `now`:

    a silence without time_intervals       itself (it expires by its `until`)
    a silence with time_intervals          while one of them is open: itself, until the window closes (or
                                           its own `until`, if sooner); otherwise nothing
    a rule's mute_time_intervals, open     a silence of every task of that rule, until the window closes
    a rule's active_time_intervals, none   a silence of every task of that rule, until one opens
    open

So a failure inside a window is alerted at the first cycle after the window ends, not lost, not twice.

Working out when a window closes costs a scan of the calendar (`monitor.timeintervals.next_window`), so a
`WindowCache` keeps each answer while it is still true: the engine keeps one across cycles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog

from monitor.rules.index import RuleSet
from monitor.rules.matcher import TaskMatcher
from monitor.rules.model import Rule
from monitor.silences import Silence, SilenceOrigin
from monitor.timeintervals import HORIZON, NamedTimeInterval, Window, next_window

__all__ = ["WindowCache", "WindowState", "check_lines", "effective_silences", "window_states"]

log = structlog.get_logger(__name__)

#: Every task: a rule's window silence is limited by its `rules`, not by what it matches.
_EVERY_TASK = TaskMatcher()
# Stored silences naming an interval that no longer exists, already reported (once per process).
_REPORTED_UNKNOWN: set[tuple[str, str]] = set()


class WindowCache:
    """The window of each combination of intervals, kept while it is still the answer: until it closes
    (when it was open) or opens (when it was ahead), and only for later instants than it was asked for (a
    clock set back may meet an earlier window)."""

    def __init__(self) -> None:
        self._known: dict[tuple[NamedTimeInterval, ...], tuple[datetime, Window | None]] = {}

    def window(self, intervals: tuple[NamedTimeInterval, ...], now: datetime) -> Window | None:
        known = self._known.get(intervals)
        if known is not None:
            asked, window = known
            if asked <= now and (window is None or now < window.opens or window.is_open(now)):
                return window
        parts = tuple(part for interval in intervals for part in interval.intervals)
        window = next_window(parts, now)
        self._known[intervals] = (now, window)
        return window


def _open_window(
    cache: WindowCache, intervals: tuple[NamedTimeInterval, ...], now: datetime
) -> Window | None:
    window = cache.window(intervals, now)
    return window if window is not None and window.is_open(now) else None


def _until(window_end: datetime | None, now: datetime) -> datetime:
    return window_end if window_end is not None else now + HORIZON


def _resolve(ruleset: RuleSet, names: Iterable[str], *, owner: str) -> tuple[NamedTimeInterval, ...]:
    found = []
    for name in names:
        interval = ruleset.time_interval(name)
        if interval is not None:
            found.append(interval)
        elif (owner, name) not in _REPORTED_UNKNOWN:
            _REPORTED_UNKNOWN.add((owner, name))
            log.warning("windows.unknown_interval", owner=owner, time_interval=name)
    return tuple(found)


def effective_silences(
    ruleset: RuleSet, silences: Sequence[Silence], now: datetime, *, cache: WindowCache | None = None
) -> list[Silence]:
    """The silences that hold at `now` (see the module's docstring); those without windows pass as they are.

    A stored silence naming an interval the rule files no longer define mutes in none of its windows (it is
    reported once): an alert is better sent than held by a window nobody can see."""
    cache = cache if cache is not None else WindowCache()
    effective: list[Silence] = []
    for silence in silences:
        if not silence.time_intervals:
            effective.append(silence)
            continue
        intervals = _resolve(ruleset, silence.time_intervals, owner=f"silence {silence.id}")
        window = _open_window(cache, intervals, now) if intervals and silence.is_active(now) else None
        if window is not None:
            until = min(silence.until, _until(window.closes, now))
            effective.append(replace(silence, until=until, time_intervals=()))
    for rule in ruleset.rules:
        effective.extend(_rule_silences(ruleset, rule, now, cache))
    return effective


def _rule_silences(ruleset: RuleSet, rule: Rule, now: datetime, cache: WindowCache) -> Iterable[Silence]:
    if rule.mute_time_intervals:
        intervals = _resolve(ruleset, rule.mute_time_intervals, owner=f"rule {rule.name}")
        window = _open_window(cache, intervals, now) if intervals else None
        if window is not None:
            names = ", ".join(rule.mute_time_intervals)
            yield _rule_silence(
                rule,
                f"mute_time_intervals {names}",
                _until(window.closes, now),
                f"maintenance window {names}",
            )
    if rule.active_time_intervals:
        intervals = _resolve(ruleset, rule.active_time_intervals, owner=f"rule {rule.name}")
        if intervals and _open_window(cache, intervals, now) is None:
            upcoming = cache.window(intervals, now)
            names = ", ".join(rule.active_time_intervals)
            yield _rule_silence(
                rule,
                f"active_time_intervals {names}",
                _until(upcoming.opens if upcoming is not None else None, now),
                f"outside active time intervals {names}",
            )


def _rule_silence(rule: Rule, silence_id: str, until: datetime, comment: str) -> Silence:
    return Silence(
        id=silence_id,
        matcher=_EVERY_TASK,
        until=until,
        comment=comment,
        created_by="rule file",
        rules=frozenset({rule.name}),
        origin=SilenceOrigin.RULE_FILE,
    )


@dataclass(frozen=True)
class WindowState:
    """A named time interval at `now`: open or not, its window (the open one, or the next), who uses it."""

    name: str
    open_now: bool
    window: Window | None
    used_by: tuple[str, ...]
    #: The zone its first item reads the clock in: the one to show times in.
    zone: ZoneInfo

    def describe(self, now: datetime) -> str:
        """`open now, until Sat 2026-03-28 06:00 Europe/Berlin` or `next Sat 2026-03-28 02:00 - 06:00 ...`."""
        window = self.window
        if window is None:
            return "no window in the next ten years"
        if window.unknown:
            return f"no window before {_local(window.opens, self.zone)} {self.zone.key} (looked no further)"
        closes = "" if window.closes is None else _local(window.closes, self.zone)
        if self.open_now:
            return f"open now, until {closes} {self.zone.key}" if closes else "open now, for over ten years"
        opens = _local(window.opens, self.zone)
        if window.closes is not None:
            local_opens, local_closes = (
                window.opens.astimezone(self.zone),
                window.closes.astimezone(self.zone),
            )
            if local_closes.date() == local_opens.date():
                closes = local_closes.strftime("%H:%M")
        return f"next {opens} - {closes or 'open-ended'} {self.zone.key}"


def _local(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%a %Y-%m-%d %H:%M")


def window_states(ruleset: RuleSet, now: datetime, *, cache: WindowCache | None = None) -> list[WindowState]:
    """Every named time interval of the rule set, in file order, at `now`."""
    cache = cache if cache is not None else WindowCache()
    users: dict[str, list[str]] = {interval.name: [] for interval in ruleset.time_intervals}
    for rule in ruleset.rules:
        for name in rule.mute_time_intervals:
            users.setdefault(name, []).append(f"rule {rule.name} (mute)")
        for name in rule.active_time_intervals:
            users.setdefault(name, []).append(f"rule {rule.name} (active)")
    for silence in ruleset.silences:
        for name in silence.time_intervals:
            users.setdefault(name, []).append(f"silence {silence.id}")
    states = []
    for interval in ruleset.time_intervals:
        window = cache.window((interval,), now)
        states.append(
            WindowState(
                interval.name,
                window is not None and window.is_open(now),
                window,
                tuple(users[interval.name]),
                interval.intervals[0].location,
            )
        )
    return states


def check_lines(ruleset: RuleSet, now: datetime) -> list[str]:
    """What `check` says of each time interval: its next window (or that it is open now), and who uses it."""
    lines = []
    for state in window_states(ruleset, now):
        users = "used by " + ", ".join(state.used_by) if state.used_by else "used by no rule or silence"
        lines.append(f"time interval {state.name}: {state.describe(now)}; {users}")
    return lines
