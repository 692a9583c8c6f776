"""Listing snapshots: one listing per query at a time, shared by all who ask, and kept for the page buttons.

    in flight   while a listing for some filters is being fetched, everyone asking for the same filters
                waits for it: 100 people typing `/tasks list` at once cost one listing, not 100
    shared      a complete listing finished less than `share` (10 s) ago answers a typed command too
    kept        for `ttl` (5 minutes), "Next ▶" pages through the snapshot page 1 listed, at once, instead
                of listing 10,000 tasks again (and pages never shift under the reader when tasks change)

Only complete listings are shared or kept; an incomplete one is given to those who waited for it, then
dropped.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from monitor.workspace.client import Listing, TaskFilter

__all__ = ["SHARE_WINDOW", "SNAPSHOT_TTL", "Snapshots"]

#: Slack accepts answers on a response_url for 30 minutes; a page button older than this lists afresh.
SNAPSHOT_TTL = timedelta(minutes=5)
#: A typed command within this long of the same listing's end gets that listing (a status table 10 s old
#: is as good as a new one, and a crowd asking at once costs one listing).
SHARE_WINDOW = timedelta(seconds=10)
_KEPT = 16

_Key = tuple[TaskFilter, ...]


class Snapshots:
    def __init__(
        self, ttl: timedelta = SNAPSHOT_TTL, kept: int = _KEPT, share: timedelta = SHARE_WINDOW
    ) -> None:
        self.ttl = ttl
        self.share = share
        self._kept = kept
        self._entries: OrderedDict[_Key, tuple[datetime, Listing]] = OrderedDict()
        self._flights: dict[_Key, asyncio.Task[Listing]] = {}

    async def listing(
        self,
        filters: Sequence[TaskFilter],
        fetch: Callable[[Sequence[TaskFilter]], Awaitable[Listing]],
        *,
        now: datetime,
        reuse: bool,
    ) -> Listing:
        """The listing for `filters`: the one in flight, else a recent snapshot (within `ttl` when `reuse`,
        for a page button; within `share` otherwise), else fetched anew."""
        key = tuple(filters)
        flight = self._flights.get(key)
        if flight is None:
            kept = self._entries.get(key)
            if kept is not None and timedelta(0) <= now - kept[0] <= (self.ttl if reuse else self.share):
                return kept[1]
            flight = asyncio.ensure_future(self._fetch(key, fetch, now))
            self._flights[key] = flight
            flight.add_done_callback(lambda _: self._flights.pop(key, None))
        # Shielded: one asker giving up (its request cancelled) must not cancel the others' listing.
        return await asyncio.shield(flight)

    async def _fetch(
        self, key: _Key, fetch: Callable[[Sequence[TaskFilter]], Awaitable[Listing]], now: datetime
    ) -> Listing:
        listing = await fetch(key)
        if listing.complete:
            self._entries[key] = (now, listing)
            self._entries.move_to_end(key)
            while len(self._entries) > self._kept:
                self._entries.popitem(last=False)
        return listing
