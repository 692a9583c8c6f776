"""`/tasks status` gathers the daemon's view from the store: the last poll (engine meta), the leader, and each
project's last successful poll from this replica's health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.chatops.replies import ProjectPoll
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


def test_each_project_with_its_last_successful_poll_and_error_as_healthz_sees_it(tmp_path: Path) -> None:
    health = Health(timedelta(seconds=60), NOW)
    health.watch_projects(["p-2", "p-1"])
    health.succeeded("p-1", NOW - timedelta(minutes=1))
    health.failed("p-2", "HTTP 503")
    with SQLiteStore.open(tmp_path / "state.db") as store:
        status = store_status(store, health)()
    assert status.projects == (
        ProjectPoll("p-1", NOW - timedelta(minutes=1), None),
        ProjectPoll("p-2", None, "HTTP 503"),
    )
