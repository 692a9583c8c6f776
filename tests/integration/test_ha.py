"""High availability, end to end: two and three `workspace-monitor run` processes sharing one PostgreSQL state
against one Workspace simulator and one Slack stand-in. One leads; the channel shows exactly what one
daemon would show; a SIGKILLed leader is replaced within the lease, losing and repeating nothing; replicas
whose PostgreSQL sessions are ended wait, alert nothing twice, and recover."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from monitor.devtools.sim import SimOptions, SimulatorThread
from monitor.devtools.slackstub import SlackStubThread
from tests.support.pg import schema_url
from tests.support.replicas import Cluster, wait_until
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TASKS = ("prod-reboot", "prod-stop", "prod-start", "lab-start")


@pytest.fixture
def new_cluster(postgres_server: str, tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """Makes clusters, each in a world of its own: a simulator, a Slack stand-in and a fresh schema. The
    replicas reach PostgreSQL at `through` (a proxy's URL) when given."""
    with contextlib.ExitStack() as stack:
        schemas: list[str] = []

        def make(through: str | None = None) -> Cluster:
            sim = stack.enter_context(SimulatorThread(SimOptions(tasks=0, seed=9)))
            slack = stack.enter_context(SlackStubThread())
            for name in TASKS:
                fields = {
                    "task_name": name,
                    "last_status": "SUCCESS",
                    "enable": True,
                    "scheduled_type": "DAY",
                }
                sim.call(sim.state.create_task, fields)
            schema = f"t_{secrets.token_hex(6)}"
            with psycopg.connect(postgres_server, autocommit=True) as admin:
                admin.execute(f"CREATE SCHEMA {schema}")
            schemas.append(schema)
            made = Cluster(sim, slack, schema_url(through or postgres_server, schema), tmp_path / schema)
            stack.callback(made.stop)
            return made

        try:
            yield make
        finally:
            stack.close()
            with psycopg.connect(postgres_server, autocommit=True) as admin:
                for schema in schemas:
                    admin.execute(f"DROP SCHEMA {schema} CASCADE")


def story(cluster: Cluster) -> list[dict[str, Any]]:
    """Fail, fail again, fail another, recover: each step waits for what the channel must show after it."""
    cluster.fail("prod-reboot")
    cluster.wait_for_messages(lambda m: len(m) == 1, "the first alert")
    cluster.fail("prod-reboot")
    cluster.wait_for_messages(lambda m: len(m[0]["replies"]) == 1, "the recurrence in the thread")
    cluster.fail("prod-stop")
    cluster.wait_for_messages(lambda m: len(m) == 2, "the second alert")
    cluster.fail("prod-reboot", "SUCCESS")
    cluster.wait_for_messages(lambda m: len(m[0]["replies"]) == 2, "the recovery in the thread")
    cluster.fail("lab-start")  # no rule matches: never shown
    quiet_cycles(cluster, 3)
    return cluster.messages()


def quiet_cycles(cluster: Cluster, count: int) -> None:
    """`count` more cycles, by whichever replica leads meanwhile (after an outage leadership may move)."""
    cluster.wait_for_leader()

    def cycles() -> int:
        return sum(len(replica.events("cycle.done")) for replica in cluster.replicas)

    done = cycles()
    wait_until(lambda: cycles() >= done + count, f"{count} more cycles", details=cluster.describe)


@pytest.mark.parametrize("count", [2, 3])
def test_replicas_show_exactly_what_one_daemon_shows(new_cluster: Callable[..., Cluster], count: int) -> None:
    alone = new_cluster()
    alone.start(1)
    expected = story(alone)

    cluster = new_cluster()
    cluster.start(count)
    leader = cluster.wait_for_leader()
    assert story(cluster) == expected
    assert len(expected) == 2
    assert cluster.leaders() == [leader], "one leader all along"
    for replica in cluster.replicas:
        assert replica.alive
        if replica is not leader:
            assert replica.events("cycle.done") == [], "followers never poll"


def test_a_sigkilled_leader_is_replaced_within_the_lease(new_cluster: Callable[..., Cluster]) -> None:
    cluster = new_cluster()
    cluster.start(3)
    leader = cluster.wait_for_leader()
    cluster.fail("prod-reboot")
    cluster.wait_for_messages(lambda m: len(m) == 1, "the first alert")
    # Killed mid-cycle: the simulator holds the leader's listings for a second each.
    delay = cluster.sim.call(cluster.sim.state.add_fault, "delay", endpoint="list", count=50, seconds=1.0)
    cluster.fail("prod-stop")
    wait_until(lambda: cluster.sim.call(lambda: delay.count) < 50, "the leader to wait on a delayed listing")
    killed_at = leader.kill()
    successor = cluster.wait_for_leader(timeout=cluster.lease.total_seconds() * 3)
    elected = datetime.fromisoformat(successor.events("leader.elected")[-1]["timestamp"])
    assert elected - killed_at < cluster.lease, "a follower took over within the lease"
    cluster.wait_for_messages(lambda m: len(m) == 2, "the second alert, sent by the new leader")
    cluster.sim.call(cluster.sim.state.clear_faults)
    cluster.fail("prod-start")
    cluster.wait_for_messages(lambda m: len(m) == 3, "a third alert")
    quiet_cycles(cluster, 3)
    shown = cluster.messages()
    assert [task_named(m) for m in shown] == ["prod-reboot", "prod-stop", "prod-start"], "nothing lost"
    assert [m["replies"] for m in shown] == [[], [], []], "nothing sent twice"


def test_replicas_whose_database_sessions_end_wait_and_recover(new_cluster: Callable[..., Cluster]) -> None:
    cluster = new_cluster()
    replicas = cluster.start(2)
    cluster.wait_for_started()  # one still connecting when its sessions end refuses to start (exit 1)
    cluster.wait_for_leader()
    cluster.fail("prod-reboot")
    cluster.wait_for_messages(lambda m: len(m) == 1, "the first alert")

    # An outage of a few seconds: every session the replicas open is ended at once.
    cluster.fail("prod-stop")
    ended = 0
    outage_ends = time.monotonic() + 3
    while time.monotonic() < outage_ends:
        ended += cluster.end_sessions()
        time.sleep(0.05)
    assert ended >= 2
    assert any(r.events("leader.lost") for r in replicas), "the leader said it lost leadership"
    cluster.wait_for_leader()
    cluster.wait_for_messages(lambda m: len(m) == 2, "the alert raised during the outage")
    quiet_cycles(cluster, 3)
    shown = cluster.messages()
    assert [task_named(m) for m in shown] == ["prod-reboot", "prod-stop"], "nothing lost"
    assert [m["replies"] for m in shown] == [[], []], "nothing sent twice"
    assert all(r.alive for r in replicas)


def task_named(message: dict[str, Any]) -> str:
    """The one task of TASKS that a message is about."""
    (name,) = [task for task in TASKS if task in message["text"]]
    return name


def test_replicas_cut_off_from_postgresql_wait_and_recover(
    new_cluster: Callable[..., Cluster], postgres_server: str
) -> None:
    """The database unreachable for a few seconds (connections reset, new ones refused): the leader says it
    lost leadership and stops, nobody polls, and afterwards one replica leads and sends what happened
    meanwhile, once."""
    server = urlsplit(postgres_server)
    with TcpProxy(server.hostname or "127.0.0.1", server.port or 5432) as proxy:
        cluster = new_cluster(server._replace(netloc=f"127.0.0.1:{proxy.port}").geturl())
        replicas = cluster.start(2)
        cluster.wait_for_started()
        leader = cluster.wait_for_leader()
        cluster.fail("prod-reboot")
        cluster.wait_for_messages(lambda m: len(m) == 1, "the first alert")

        proxy.cut()
        cluster.fail("prod-stop")
        wait_until(lambda: bool(leader.events("leader.lost")), "the leader to notice", timeout=30)
        cycles = len(leader.events("cycle.done"))
        # Each poll (every second) first checks leadership: three checks refused are three polls skipped.
        unavailable = len(leader.events("leader.unavailable"))
        wait_until(
            lambda: len(leader.events("leader.unavailable")) >= unavailable + 3,
            "three leadership checks without the database",
        )
        assert len(leader.events("cycle.done")) == cycles, "no cycle without the database"
        assert cluster.messages()[1:] == [], "nothing sent without the database"
        proxy.restore()

        cluster.wait_for_leader()
        cluster.wait_for_messages(lambda m: len(m) == 2, "the alert raised during the outage")
        quiet_cycles(cluster, 3)
        shown = cluster.messages()
        assert [task_named(m) for m in shown] == ["prod-reboot", "prod-stop"], "nothing lost"
        assert [m["replies"] for m in shown] == [[], []], "nothing sent twice"
        assert all(r.alive for r in replicas)
