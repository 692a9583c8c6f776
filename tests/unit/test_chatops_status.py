"""`/tasks status` gathers the daemon's view from the store: the last poll (engine meta) and the leader."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.chatops.runner import store_status
from monitor.metrics import Health
from monitor.store import SQLiteStore

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stored_leader", "replica", "leader", "is_me"),
    [
        ("host-a:101", "host-a:101", "host-a:101", True),
        ("host-a:101", "host-b:202", "host-a:101", False),
        (None, "host-b:202", None, False),
    ],
)
def test_the_leader_named_in_the_store_and_whether_it_is_this_replica(
    tmp_path: Path, stored_leader: str | None, replica: str, leader: str | None, is_me: bool
) -> None:
    with SQLiteStore.open(tmp_path / "state.db") as store:
        if stored_leader is not None:
            store.set_meta("leader", stored_leader)
        status = store_status(store, Health(timedelta(seconds=60), NOW), replica)()
    assert (status.leader, status.leader_is_me) == (leader, is_me)
