"""Leadership through a PostgreSQL advisory lock: one leader per state, taken over when the leader's
session ends, lost loudly when the leader's own connection dies; SQLite's sole replica always leads."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import structlog
from prometheus_client import CollectorRegistry

from monitor.leader import AdvisoryLockLeadership, LeaderWatch, SoleLeadership, leadership_for
from monitor.store import SQLiteStore
from monitor.store.postgres import PostgresStore
from tests.support.pg import schema_url

LEASE = timedelta(seconds=4)


@pytest.fixture
def replicas(postgres_url: str) -> Iterator[list[AdvisoryLockLeadership]]:
    made = [AdvisoryLockLeadership(postgres_url, f"replica-{n}", LEASE) for n in range(3)]
    yield made
    for replica in made:
        replica.close()


def test_sqlite_state_has_a_sole_leader() -> None:
    sole = leadership_for("sqlite:///var/lib/workspace-monitor/state.db", "host:1", LEASE)
    assert isinstance(sole, SoleLeadership)
    assert sole.check() is True
    assert sole.leading is True


def test_postgresql_state_elects() -> None:
    assert isinstance(leadership_for("postgresql://db/state", "host:1", LEASE), AdvisoryLockLeadership)


@pytest.mark.postgres
def test_one_of_several_replicas_leads(replicas: list[AdvisoryLockLeadership]) -> None:
    assert [replica.check() for replica in replicas] == [True, False, False]
    assert [replica.check() for replica in replicas] == [True, False, False], "and keeps leading"


@pytest.mark.postgres
def test_a_follower_takes_over_when_the_leader_goes(replicas: list[AdvisoryLockLeadership]) -> None:
    first, second, third = replicas
    first.check()
    second.check()
    first.close()
    assert first.leading is False
    assert [second.check(), third.check()] == [True, False]


@pytest.mark.postgres
def test_a_leader_whose_connection_dies_says_so_and_stops_leading(
    replicas: list[AdvisoryLockLeadership], postgres_server: str
) -> None:
    leader, follower, _ = replicas
    leader.check()
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (leader_pid(leader),))
    with structlog.testing.capture_logs() as logs:
        assert leader.check() is False
    (event,) = logs
    assert (event["event"], event["log_level"], event["replica"]) == ("leader.lost", "error", "replica-0")
    assert follower.check() is True
    assert leader.check() is False, "the old leader now follows"


@pytest.mark.postgres
def test_states_in_other_schemas_have_their_own_leaders(postgres_url: str, postgres_server: str) -> None:
    other = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {other}")
    here = AdvisoryLockLeadership(postgres_url, "here", LEASE)
    there = AdvisoryLockLeadership(schema_url(postgres_server, other), "there", LEASE)
    try:
        assert [here.check(), there.check()] == [True, True]
    finally:
        here.close()
        there.close()
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {other}")


def leader_pid(leadership: object) -> int:
    assert isinstance(leadership, AdvisoryLockLeadership)
    connection = leadership._connection
    assert connection is not None
    return int(connection.info.backend_pid)


@pytest.mark.postgres
async def test_the_watch_publishes_who_leads(postgres_url: str, postgres_server: str) -> None:
    """Elected: a term begins in the store, meta `leader` names the replica, the gauge says 1, the daemon is
    told. Lost: the gauge says 0 and the daemon is told at once."""
    store = PostgresStore.open(postgres_url)
    registry = CollectorRegistry()
    changes: list[bool] = []
    watch = LeaderWatch(
        AdvisoryLockLeadership(postgres_url, "host-a:1", LEASE), store, registry, changes.append
    )
    try:
        assert await watch.check() is True
        assert (changes, store.get_meta("leader"), store.get_meta("leader_term")) == ([True], "host-a:1", "1")
        assert registry.get_sample_value("workspace_monitor_leader") == 1
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (leader_pid(watch.leadership),))
        assert await watch.check() is False
        assert changes == [True, False]
        assert registry.get_sample_value("workspace_monitor_leader") == 0
    finally:
        await watch.close()
        store.close()


def test_sqlite_state_leads_without_terms(tmp_path: Path) -> None:
    store = SQLiteStore.open(tmp_path / "state.db")
    changes: list[bool] = []
    watch = LeaderWatch(SoleLeadership("host-a:1"), store, CollectorRegistry(), changes.append)
    try:
        assert asyncio.run(watch.check()) is True
        assert (changes, store.get_meta("leader"), store.get_meta("leader_term")) == (
            [True],
            "host-a:1",
            None,
        )
    finally:
        store.close()
