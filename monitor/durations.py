"""Durations as people write them in rule files: `30s`, `15m`, `4h`, `1d`, `2w`, `1h30m`; `0` means none.

The syntax is Prometheus's, narrowed: whole numbers, units `w d h m s` from largest to smallest, each at most
once. A bare number other than 0 is refused because "repeat_interval: 30" could mean seconds or minutes, and
guessing wrong silences reminders for a day.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration"]

_UNITS = (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
_DURATION = re.compile("".join(rf"(?:(?P<{unit}>\d+){unit})?" for unit, _ in _UNITS))
_EXAMPLES = "30s, 15m, 4h, 1d or 1h30m"
#: Longer durations are refused: `now + duration` must stay a datetime (year 9999) whatever the clock says,
#: and nobody means a reminder every century.
MAX_DURATION = timedelta(days=36_500)


def parse_duration(value: object) -> timedelta:
    """The duration written as `value`; raises ValueError with a message fit for a `file:line:` problem."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected a duration like {_EXAMPLES}, got {value!r}")
    text = str(value).strip()
    if text == "0":
        return timedelta(0)
    if text.isdigit():
        raise ValueError(f"{value!r} has no unit: write {text}s, {text}m, {text}h or {text}d")
    parts = _DURATION.fullmatch(text)
    if not text or parts is None:
        raise ValueError(f"{value!r} is not a duration like {_EXAMPLES}")
    seconds = sum(int(parts[unit]) * size for unit, size in _UNITS if parts[unit] is not None)
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{value!r} is too long: at most {MAX_DURATION.days}d (100 years)")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest text `parse_duration` reads back as `value` (whole seconds): 5400s -> "1h30m"."""
    remaining = int(value.total_seconds())
    if remaining <= 0:
        return "0"
    text = []
    for unit, size in _UNITS:
        count, remaining = divmod(remaining, size)
        if count:
            text.append(f"{count}{unit}")
    return "".join(text)
