"""Listing snapshots for the page buttons: `/tasks list` keeps what it listed, sorted, for a few minutes, so
"Next ▶" pages through the same snapshot at once instead of listing 10,000 tasks again (and pages never shift
under the reader when tasks change in between). A typed command always lists afresh; only incomplete
listings are never kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from monitor.workspace.client import Listing, TaskFilter

__all__ = ["SNAPSHOT_TTL", "Snapshots"]

#: Slack accepts answers on a response_url for 30 minutes; a page button older than this lists afresh.
SNAPSHOT_TTL = timedelta(minutes=5)
_KEPT = 16


class Snapshots:
    def __init__(self, ttl: timedelta = SNAPSHOT_TTL, kept: int = _KEPT) -> None:
        self.ttl = ttl
        self._kept = kept
        self._entries: OrderedDict[tuple[TaskFilter, ...], tuple[datetime, Listing]] = OrderedDict()

    async def listing(
        self,
        filters: Sequence[TaskFilter],
        fetch: Callable[[Sequence[TaskFilter]], Awaitable[Listing]],
        *,
        now: datetime,
        reuse: bool,
    ) -> Listing:
        """The listing for `filters`: a recent snapshot when `reuse` (a page button), else fetched anew."""
        key = tuple(filters)
        kept = self._entries.get(key)
        if reuse and kept is not None and timedelta(0) <= now - kept[0] <= self.ttl:
            return kept[1]
        listing = await fetch(filters)
        if listing.complete:
            self._entries[key] = (now, listing)
            self._entries.move_to_end(key)
            while len(self._entries) > self._kept:
                self._entries.popitem(last=False)
        return listing
