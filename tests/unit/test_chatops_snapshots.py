"""Listing snapshots behind the page buttons: reused only when asked, within the TTL, when complete."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from monitor.chatops.snapshots import SHARE_WINDOW, SNAPSHOT_TTL, Snapshots
from monitor.workspace.client import Listing, TaskFilter

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
FILTERS = [TaskFilter(last_status="FAIL"), TaskFilter(last_status="FAIL", scheduled_type="LIFE_CYCLE")]


class Api:
    """Answers listings numbered by call, complete unless told otherwise."""

    def __init__(self, complete: bool = True) -> None:
        self.calls = 0
        self.complete = complete

    async def fetch(self, filters: Sequence[TaskFilter]) -> Listing:
        self.calls += 1
        return Listing([], self.complete, total_count=self.calls, requests=1)


@pytest.mark.parametrize(
    ("reuse", "later", "complete", "calls"),
    [
        (True, timedelta(minutes=1), True, 1),  # a page button within the TTL: the snapshot
        (False, timedelta(minutes=1), True, 2),  # a typed command: fresh
        (True, SNAPSHOT_TTL + timedelta(seconds=1), True, 2),  # too old
        (True, -timedelta(seconds=1), True, 2),  # the clock went back: not trusted
        (True, timedelta(minutes=1), False, 2),  # incomplete listings are never kept
    ],
)
async def test_when_a_snapshot_is_reused(reuse: bool, later: timedelta, complete: bool, calls: int) -> None:
    api, snapshots = Api(complete), Snapshots()
    await snapshots.listing(FILTERS, api.fetch, now=NOW, reuse=False)
    listing = await snapshots.listing(FILTERS, api.fetch, now=NOW + later, reuse=reuse)
    assert api.calls == calls
    assert listing.total_count == calls


async def test_other_filters_have_their_own_snapshot_and_old_ones_are_evicted() -> None:
    api, snapshots = Api(), Snapshots(kept=2)
    for name in ("a", "b", "c"):
        await snapshots.listing([TaskFilter(task_name=name)], api.fetch, now=NOW, reuse=True)
    assert api.calls == 3
    await snapshots.listing([TaskFilter(task_name="c")], api.fetch, now=NOW, reuse=True)
    assert api.calls == 3
    await snapshots.listing([TaskFilter(task_name="a")], api.fetch, now=NOW, reuse=True)
    assert api.calls == 4  # "a" was evicted


class SlowApi(Api):
    """Answers once released, so that callers pile up while a listing is in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def fetch(self, filters: Sequence[TaskFilter]) -> Listing:
        self.calls += 1
        await self.release.wait()
        return Listing([], True, total_count=self.calls, requests=1)


async def test_everyone_asking_while_a_listing_is_in_flight_shares_it() -> None:
    api, snapshots = SlowApi(), Snapshots()
    asking = [
        asyncio.ensure_future(snapshots.listing(FILTERS, api.fetch, now=NOW, reuse=False)) for _ in range(100)
    ]
    await asyncio.sleep(0)
    api.release.set()
    listings = await asyncio.gather(*asking)
    assert api.calls == 1
    assert {listing.total_count for listing in listings} == {1}


async def test_one_asker_giving_up_does_not_cancel_the_listing_for_the_others() -> None:
    api, snapshots = SlowApi(), Snapshots()
    first = asyncio.ensure_future(snapshots.listing(FILTERS, api.fetch, now=NOW, reuse=False))
    second = asyncio.ensure_future(snapshots.listing(FILTERS, api.fetch, now=NOW, reuse=False))
    await asyncio.sleep(0)
    first.cancel()
    api.release.set()
    assert (await second).total_count == 1


@pytest.mark.parametrize(
    ("later", "calls"),
    [(SHARE_WINDOW, 1), (SHARE_WINDOW + timedelta(seconds=1), 2)],
)
async def test_a_typed_command_shortly_after_a_listing_gets_it(later: timedelta, calls: int) -> None:
    api, snapshots = Api(), Snapshots()
    await snapshots.listing(FILTERS, api.fetch, now=NOW, reuse=False)
    await snapshots.listing(FILTERS, api.fetch, now=NOW + later, reuse=False)
    assert api.calls == calls
