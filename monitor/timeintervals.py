"""Time intervals as Alertmanager defines them: when a recurring maintenance window is open.

A named time interval (`time_intervals:` in the rule file) is a list of `TimeInterval`s; it contains an
instant when any of them does. A `TimeInterval` contains an instant when every field given holds for the
instant's wall clock in its `location` (an IANA zone, UTC when absent); a field left out holds always:

    times          [{start_time: "02:00", end_time: "06:00"}]   end exclusive, 24:00 allowed, no wrap
    weekdays       [monday:friday, sunday]    inclusive ranges, sunday = 0; no wrap (saturday:sunday)
    days_of_month  ["1:7", "-1"]              inclusive; negative counts from the month's end (-1: last)
    months         [december, "1:3"]          names or numbers, inclusive ranges
    years          ["2026:2027"]              inclusive ranges

The semantics follow Alertmanager's `timeinterval/timeinterval.go` (ContainsTime): only the wall clock's hour
and minute count, so across a DST change a window keeps its wall-clock hours (a 02:00-03:00 window does not
exist on the night the clock jumps from 02:00 to 03:00, and is open twice when the clock falls back through
it); a day of the month past the month's end is skipped, and negative days are clamped to the month.

The parsers (`parse_time_of_day`, `parse_weekdays`, ...) take the text a file gives and raise ValueError with
a message for a person. `next_window(intervals, t)` finds when the interval is next open, and until when: the
engine mutes until that end, `check` and `/tasks silences` show it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

__all__ = [
    "HORIZON",
    "MAX_WORK",
    "DayRange",
    "NamedTimeInterval",
    "TimeInterval",
    "TimeRange",
    "Window",
    "next_window",
    "parse_days_of_month",
    "parse_location",
    "parse_months",
    "parse_time_of_day",
    "parse_time_range",
    "parse_weekdays",
    "parse_years",
]

MINUTES_PER_DAY = 24 * 60
#: How far ahead a window is looked for: past this, "no window" (`next_window` returns None).
HORIZON = timedelta(days=366 * 10)
#: How many looks at a part `next_window` may take (each 10-20 microseconds): walking the whole horizon a
#: day at a time needs 3,700 per part, so ten parts get there; a hundred parts in a hundred zones that never
#: open stop a third of a year on (`next_window` says why that is safe).
MAX_WORK = 40_000

WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_TIME_OF_DAY = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00")
_UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True)
class TimeRange:
    """Minutes of the day from `start` (inclusive) to `end` (exclusive), 0..1440."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"


@dataclass(frozen=True)
class DayRange:
    """An inclusive range of weekdays (0 = sunday), days of the month (negative: from the end), months
    (1..12) or years."""

    begin: int
    end: int

    def holds(self, value: int) -> bool:
        return self.begin <= value <= self.end


@dataclass(frozen=True)
class TimeInterval:
    """One `time_intervals` entry; None means the field was left out (it holds always)."""

    times: tuple[TimeRange, ...] | None = None
    weekdays: tuple[DayRange, ...] | None = None
    days_of_month: tuple[DayRange, ...] | None = None
    months: tuple[DayRange, ...] | None = None
    years: tuple[DayRange, ...] | None = None
    location: ZoneInfo = _UTC_ZONE
    #: Second-of-day boundaries where `contains` may change within a matching day, ascending, ending 86400.
    _bounds: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Bounds of the ranges' union: 1,440 touching one-minute ranges are one range with two bounds, so a
        # window they keep open is crossed a day at a time, not a minute at a time.
        ranges = _merged(self.times or (TimeRange(0, MINUTES_PER_DAY),))
        bounds = {minute * 60 for r in ranges for minute in (r.start, r.end)} | {86400}
        object.__setattr__(self, "_bounds", tuple(sorted(bound for bound in bounds if bound > 0)))

    def contains(self, t: datetime) -> bool:
        """Whether `t` (aware) is inside this interval (Alertmanager's ContainsTime)."""
        local = t.astimezone(self.location)
        if self.times is not None:
            minute = local.hour * 60 + local.minute
            if not any(r.start <= minute < r.end for r in self.times):
                return False
        return self.matches_date(local.date())

    def matches_date(self, day: date) -> bool:
        """Whether the date fields (all but `times`) hold for the local date `day`."""
        if self.years is not None and not any(r.holds(day.year) for r in self.years):
            return False
        if self.months is not None and not any(r.holds(day.month) for r in self.months):
            return False
        if self.weekdays is not None:
            weekday = (day.weekday() + 1) % 7  # Python's monday = 0; Alertmanager's sunday = 0
            if not any(r.holds(weekday) for r in self.weekdays):
                return False
        if self.days_of_month is not None:
            return any(_day_of_month_holds(r, day) for r in self.days_of_month)
        return True

    def _possible_day(self, day: date) -> date | None:
        """The first date from `day` on whose year and month are allowed (None: there is none)."""
        for _ in range(10_000):  # a valid interval finds its date within a few turns; this only bounds it
            if self.years is not None and not any(r.holds(day.year) for r in self.years):
                later = [r.begin for r in self.years if r.begin > day.year]
                if not later:
                    return None
                day = date(min(later), 1, 1)
                continue
            if self.months is not None and not any(r.holds(day.month) for r in self.months):
                day = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
                continue
            return day
        return None  # pragma: no cover - see above

    def next_boundary(self, t: datetime) -> datetime | None:
        """A later instant up to which `contains` cannot change, assuming the zone's UTC offset does not
        change before it (the caller checks that); None when the interval never holds again."""
        local = t.astimezone(self.location)
        wall = local.replace(tzinfo=None, fold=0)
        today = wall.date()
        if self.matches_date(today):
            second = wall.hour * 3600 + wall.minute * 60 + wall.second + wall.microsecond / 1e6
            bound = next(b for b in self._bounds if b > second)
            target = datetime.combine(today, datetime.min.time()) + timedelta(seconds=bound)
        else:
            possible = self._possible_day(today + timedelta(days=1))
            if possible is None:
                return None
            target = datetime.combine(possible, datetime.min.time())
        return t + (target - wall)


def _merged(ranges: Iterable[TimeRange]) -> list[TimeRange]:
    """The union of `ranges` as ranges that neither overlap nor touch, ascending."""
    merged: list[TimeRange] = []
    for r in sorted(ranges, key=lambda r: r.start):
        if merged and r.start <= merged[-1].end:
            merged[-1] = TimeRange(merged[-1].start, max(merged[-1].end, r.end))
        else:
            merged.append(r)
    return merged


def _day_of_month_holds(r: DayRange, day: date) -> bool:
    # As Alertmanager: negative days count from the month's end; a start past the month's end never holds;
    # both ends are clamped to the month.
    days = _days_in_month(day)
    begin = days + r.begin + 1 if r.begin < 0 else r.begin
    end = days + r.end + 1 if r.end < 0 else r.end
    if begin > days:
        return False
    begin, end = max(-days, min(begin, days)), max(-days, min(end, days))
    return begin <= day.day <= end


def _days_in_month(day: date) -> int:
    first_of_next = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
    return (first_of_next - date(day.year, day.month, 1)).days


@dataclass(frozen=True)
class NamedTimeInterval:
    """A `time_intervals:` item of the rule file: open when any of its intervals contains the instant."""

    name: str
    intervals: tuple[TimeInterval, ...]

    def contains(self, t: datetime) -> bool:
        return any(interval.contains(t) for interval in self.intervals)


@dataclass(frozen=True)
class Window:
    """When a time interval is open: from `opens` (the instant asked about, when it is open then) until
    `closes` (exclusive; None: not within HORIZON). An empty window (`opens == closes`) says none was
    found before `opens`, where the walk's budget ran out: ask again from there (`unknown`)."""

    opens: datetime
    closes: datetime | None

    def is_open(self, t: datetime) -> bool:
        return self.opens <= t and (self.closes is None or t < self.closes)

    @property
    def unknown(self) -> bool:
        """No window was found before `opens` (the walk stopped there); whether one opens later is unknown."""
        return self.closes == self.opens


def next_window(
    intervals: NamedTimeInterval | Sequence[TimeInterval], t: datetime, *, budget: int = MAX_WORK
) -> Window | None:
    """The window open at `t`, or else the next one to open, within HORIZON; None when there is none.

    The calendar is walked from one instant where some part may change to the next; each step looks at
    every part, and the walk stops after `budget` looks at a part (MAX_WORK: under a second), however
    the parts are made: past it, an interval not yet open gives an empty window at the instant reached
    (`Window.unknown`: none before it; a rule's active interval holds its alerts back until then, not for
    the ten-year horizon, and the engine looks again from there), and an open one is taken as open at
    least until the instant reached (the engine's mute ends there and the window is looked up again from
    that instant, so nothing is muted for longer than it is open)."""
    parts = intervals.intervals if isinstance(intervals, NamedTimeInterval) else tuple(intervals)
    if t.tzinfo is None:
        raise ValueError("next_window needs an aware time")
    t = t.astimezone(UTC)
    limit = t + HORIZON
    steps = max(budget // max(len(parts), 1), 1)
    opens: datetime | None = t
    while opens is not None and not any(part.contains(opens) for part in parts):
        steps -= 1
        if steps <= 0:
            return Window(opens, opens)  # none before here (see above)
        opens = _next_change(parts, opens)
        if opens is not None and opens > limit:
            return None
    if opens is None:
        return None
    closes: datetime | None = opens
    while closes is not None and (holding := [part for part in parts if part.contains(closes)]):
        steps -= 1
        if steps <= 0:
            break  # open at least until here (see above)
        # The union stays open while any part that holds now does: jump to the latest of their changes.
        closes = _next_change(holding, closes, latest=True)
        if closes is not None and closes > limit:
            closes = None
    return Window(opens, closes)


def _next_change(parts: Sequence[TimeInterval], t: datetime, *, latest: bool = False) -> datetime | None:
    """The next instant after `t` at which any part's `contains` may change (None: none ever will); with
    `latest`, the last of the parts' next changes (the parts all hold at `t`: their union does until
    then)."""
    candidates = [_clamped(part, t, bound) for part in parts if (bound := part.next_boundary(t)) is not None]
    if not candidates:
        return None
    return max(candidates) if latest else min(candidates)


def _clamped(part: TimeInterval, t: datetime, bound: datetime) -> datetime:
    """`bound`, or the instant the part's zone changes its UTC offset before it (the wall clock moves there:
    look again from that instant)."""
    if t.astimezone(part.location).utcoffset() != bound.astimezone(part.location).utcoffset():
        return min(bound, _offset_change(part.location, t, bound))
    return bound


def _offset_change(zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first second in (low, high] with high's UTC offset in `zone` (they differ at `low`)."""
    before = low.astimezone(zone).utcoffset()
    low_s, high_s = int(low.timestamp()), int(high.timestamp())
    while high_s - low_s > 1:
        middle = (low_s + high_s) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == before:
            low_s = middle
        else:
            high_s = middle
    return max(datetime.fromtimestamp(high_s, UTC), low + timedelta(microseconds=1))


# --- parsing the rule file's text ---------------------------------------------------------------------------


def parse_time_of_day(text: str) -> int:
    """ "HH:MM" (00:00 to 24:00) as minutes of the day."""
    if not _TIME_OF_DAY.fullmatch(text):
        raise ValueError(f"{text!r} is not a time of day: write HH:MM from 00:00 to 24:00, like 02:00")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def parse_time_range(start: str, end: str) -> TimeRange:
    """A `times:` item: start before end (a range cannot cross midnight, as in Alertmanager)."""
    begin, finish = parse_time_of_day(start), parse_time_of_day(end)
    if begin >= finish:
        raise ValueError(
            f"start_time {start} is not before end_time {end}: a range cannot cross midnight, "
            "write two (22:00-24:00 and 00:00-02:00)"
        )
    return TimeRange(begin, finish)


def parse_weekdays(text: str) -> DayRange:
    """ "monday", "monday:friday" (case-insensitive)."""
    return _range(text, "weekday", _weekday, order_hint="a range cannot wrap: list [saturday, sunday]")


def parse_months(text: str) -> DayRange:
    """ "december", "1:3", "may:august" (names case-insensitive, or numbers 1-12)."""
    return _range(text, "month", _month, order_hint="a range cannot wrap: list [december, january]")


def parse_years(text: str) -> DayRange:
    """ "2026", "2026:2030"."""
    return _range(text, "year", _year)


def parse_days_of_month(text: str) -> DayRange:
    """ "1", "1:7", "-1", "-7:-1" (1..31 or -31..-1; a negative start needs a negative end)."""
    r = _range(text, "day of the month", _day_of_month, ordered=False)
    if r.begin < 0 < r.end:
        raise ValueError(f"{text!r}: a range that starts from the month's end must end there too (-7:-1)")
    # As Alertmanager: order checked on a 28-day month, the shortest, where a negative day is 28 + it + 1.
    begin = 28 + r.begin + 1 if r.begin < 0 else r.begin
    end = 28 + r.end + 1 if r.end < 0 else r.end
    if begin > end:
        raise ValueError(f"{text!r}: the end day comes before the start day")
    return r


def parse_location(text: str) -> ZoneInfo:
    """An IANA zone name ("Europe/Berlin", "Asia/Shanghai", "UTC"); "Local" is refused (it depends on the
    machine, so a window would move with the server). Only names of the zone database are looked up: never
    a path (`../..`), a directory (`Europe`) or a name too long for the file system."""
    if text == "Local":
        raise ValueError("'Local' depends on the server's zone: name the zone, like Europe/Berlin")
    if text not in _zone_names():
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise ValueError(f"{shown!r} is not a time zone: use an IANA name like Europe/Berlin or UTC")
    return ZoneInfo(text)


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def _range(
    text: str, what: str, member: Callable[[str], int], *, ordered: bool = True, order_hint: str = ""
) -> DayRange:
    parts = text.lower().split(":")
    if len(parts) > 2 or not all(parts):
        raise ValueError(f"{text!r} is not a {what} or a range of them (first:last)")
    begin, end = member(parts[0]), member(parts[-1])
    if ordered and begin > end:
        hint = f" ({order_hint})" if order_hint else ""
        raise ValueError(f"{text!r}: the end {what} comes before the start{hint}")
    return DayRange(begin, end)


def _weekday(text: str) -> int:
    if text not in WEEKDAYS:
        raise ValueError(f"{text!r} is not a weekday: use sunday, monday, ... saturday")
    return WEEKDAYS.index(text)


def _month(text: str) -> int:
    if text in MONTHS:
        return MONTHS.index(text) + 1
    if text.isdigit() and 1 <= int(text) <= 12:
        return int(text)
    raise ValueError(f"{text!r} is not a month: use january ... december, or 1 to 12")


def _year(text: str) -> int:
    if text.isdigit() and 1 <= int(text) <= 9999:
        return int(text)
    raise ValueError(f"{text!r} is not a year")


def _day_of_month(text: str) -> int:
    number = text[1:] if text.startswith("-") else text
    if number.isdigit() and 1 <= int(number) <= 31:
        return int(text)
    raise ValueError(f"{text!r} is not a day of the month: use 1 to 31, or -1 (the last day) to -31")


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
