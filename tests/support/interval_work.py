"""Counting the work `next_window` does, independently of its own budget: every look at a part
(`TimeInterval.contains` and `TimeInterval.next_boundary` calls) is counted, and past `limit` the count
raises, so a walk that would run for hours fails at once instead of hanging the test run. Work is counted,
never wall-clock time (a loaded 2-core CI box is not a bug)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest.mock import patch

from monitor.timeintervals import TimeInterval

__all__ = ["LookCount", "counting_looks"]


class LookCount:
    """How many looks at a part were taken so far."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.looks = 0

    def wrap(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def counted(part: TimeInterval, *args: Any) -> Any:
            self.looks += 1
            if self.looks > self.limit:
                raise AssertionError(f"next_window took more than {self.limit:,} looks at its parts")
            return method(part, *args)

        return counted


@contextmanager
def counting_looks(limit: int) -> Iterator[LookCount]:
    count = LookCount(limit)
    with (
        patch.object(TimeInterval, "contains", count.wrap(TimeInterval.contains)),
        patch.object(TimeInterval, "next_boundary", count.wrap(TimeInterval.next_boundary)),
    ):
        yield count
