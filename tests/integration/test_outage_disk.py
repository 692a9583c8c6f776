"""The state disk full or read-only: the cycle fails loudly and whole (nothing half-written, the file intact),
the old state stays, and the next cycle after the disk is back writes everything, once.

Full is SQLite's own limit (`PRAGMA max_page_count` at the file's current size); read-only is
`PRAGMA query_only` (the tests run as root, for whom a read-only directory is no obstacle). Both are set on
the store's own connection, which is what a full or read-only filesystem would fail."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from pathlib import Path

import pytest

from monitor.store import PermanentStoreError, RetryableStoreError, StoreError
from tests.support.world import World, open_world

RULES = """
rules:
  - name: ops
    match:
      task_name: "prod-*"
    channel: "#alerts"
"""
TASKS = tuple(f"prod-{index:03d}-{'x' * 40}" for index in range(120))


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with open_world(tmp_path, RULES, tasks=TASKS) as opened:
        yield opened


def connection(world: World) -> sqlite3.Connection:
    return world.store._connection  # the store's own connection: the limits apply to what it writes


def fill_up(world: World) -> None:
    db = connection(world)
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {pages}")


def make_read_only(world: World) -> None:
    connection(world).execute("PRAGMA query_only = ON")


def restore(world: World) -> None:
    db = connection(world)
    db.execute("PRAGMA query_only = OFF")
    db.execute("PRAGMA max_page_count = 1073741823")


def snapshot(path: Path) -> tuple[int, int, str]:
    with closing(sqlite3.connect(path)) as db:
        (alerts,) = db.execute("SELECT count(*) FROM alerts").fetchone()
        (outbox,) = db.execute("SELECT count(*) FROM outbox").fetchone()
        (check,) = db.execute("PRAGMA integrity_check").fetchone()
    return alerts, outbox, check


@pytest.mark.parametrize(
    ("break_disk", "error", "words"),
    [(fill_up, RetryableStoreError, "full"), (make_read_only, PermanentStoreError, "readonly")],
    ids=["full", "read-only"],
)
async def test_a_cycle_that_cannot_write_fails_whole_and_the_next_one_writes_everything_once(
    world: World, break_disk: Callable[[World], None], error: type[StoreError], words: str
) -> None:
    world.execute(TASKS[0], "FAIL")
    await world.cycle()
    before = snapshot(world.store.path)
    assert before == (1, 1, "ok")

    break_disk(world)
    for name in TASKS[1:]:
        world.execute(name, "FAIL")
    for _ in range(3):  # the daemon logs cycle.failed and tries again next interval
        with pytest.raises(error) as raised:
            await world.engine.run_cycle()
        assert words in str(raised.value).lower()
        assert str(world.store.path) in str(raised.value)
        assert snapshot(world.store.path) == before  # nothing half-written, the file intact

    restore(world)
    await world.cycle()
    assert snapshot(world.store.path) == (len(TASKS), len(TASKS), "ok")  # an outbox row per alert
    posted = [fp for message in world.top_level("alerts") for fp in message.metadata["event_payload"].get(
        "alerts", [message.metadata["event_payload"]])]  # fmt: skip
    assert len(posted) == len(TASKS)  # the first alert once, and every later one in the digest, once
    assert len({item["fingerprint"] for item in posted}) == len(TASKS)
