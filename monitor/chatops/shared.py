"""One build at a time per key, shared by everyone asking, and kept a short while: what makes an expensive
answer (`/tasks report 90d` over 10,000 tasks' run history: seconds of CPU) cost one build however many
people ask for it at once.

    in flight   while a build for a key runs, everyone asking for the same key waits for it
    shared      a build finished less than `share` ago answers the same key again (keyed by what it
                covers, so a new day is a new key)

Per replica, in memory; a failed build is given to those who waited for it and not kept.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

__all__ = ["REPORT_SHARE", "SharedBuilds"]

#: A report of the last days answered in the last minute is as good as a new one (the history moves by runs).
REPORT_SHARE = timedelta(minutes=1)
_KEPT = 16

T = TypeVar("T")


class SharedBuilds(Generic[T]):
    def __init__(self, share: timedelta = REPORT_SHARE, kept: int = _KEPT) -> None:
        self.share = share
        self._kept = kept
        self._entries: OrderedDict[Hashable, tuple[datetime, T]] = OrderedDict()
        self._flights: dict[Hashable, asyncio.Task[T]] = {}

    async def get(self, key: Hashable, build: Callable[[], Awaitable[T]], *, now: datetime) -> T:
        """The build for `key`: the one in flight, else one finished within `share` of `now`, else new."""
        flight = self._flights.get(key)
        if flight is None:
            kept = self._entries.get(key)
            if kept is not None and timedelta(0) <= now - kept[0] <= self.share:
                return kept[1]
            flight = asyncio.ensure_future(self._build(key, build, now))
            self._flights[key] = flight
            flight.add_done_callback(lambda _: self._flights.pop(key, None))
        # Shielded: one asker giving up (its request cancelled) must not cancel the others' build.
        return await asyncio.shield(flight)

    async def _build(self, key: Hashable, build: Callable[[], Awaitable[T]], now: datetime) -> T:
        value = await build()
        self._entries[key] = (now, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._kept:
            self._entries.popitem(last=False)
        return value
