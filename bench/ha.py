"""Failover time: the leader of two `workspace-monitor run` replicas is SIGKILLed, how long until the new
leader's first complete cycle? Ten kills; median and max against the lease (target: median < 2x lease).

Real processes against the Workspace simulator, the Slack stand-in and the PostgreSQL server on 127.0.0.1:5432
(database `test`, or $WORKSPACE_MONITOR_TEST_POSTGRES), in a schema of its own that is dropped afterwards.
After each kill a fresh replica is started and given time to settle, so every kill finds a warm follower.

    .venv/bin/python bench/ha.py [--kills 10] [--lease 4] [--poll-interval 5]
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository: tests/ holds the harness

from monitor.devtools.sim import SimOptions, SimulatorThread
from monitor.devtools.slackstub import SlackStubThread
from monitor.logs import configure_logging
from tests.support.pg import DEFAULT_SERVER, schema_url
from tests.support.replicas import Cluster, Replica, wait_until


def first_cycle_after(replica: Replica, moment: datetime) -> datetime:
    """When `replica` finished its first cycle after `moment` (waiting for it)."""

    def cycles() -> list[datetime]:
        stamps = (datetime.fromisoformat(e["timestamp"]) for e in replica.events("cycle.done"))
        return [stamp for stamp in stamps if stamp > moment]

    wait_until(lambda: bool(cycles()), f"a cycle by {replica.name}", timeout=60)
    return cycles()[0]


def settled(replica: Replica) -> bool:
    """Started, and has asked for leadership at least once (its first check runs at start)."""
    return bool(replica.events("daemon.started")) and replica.alive


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--lease", type=float, default=4.0, help="state.lease, seconds")
    parser.add_argument("--poll-interval", type=float, default=5.0, help="workspace.poll_interval, seconds")
    args = parser.parse_args()
    configure_logging("warning")  # the simulator's and the stand-in's request logs would drown the figures
    server = os.environ.get("WORKSPACE_MONITOR_TEST_POSTGRES", DEFAULT_SERVER)
    lease = timedelta(seconds=args.lease)
    schema = f"bench_ha_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    failovers: list[float] = []
    try:
        with (
            tempfile.TemporaryDirectory() as scratch,
            SimulatorThread(SimOptions(tasks=200, fail_rate=0.05, seed=3)) as sim,
            SlackStubThread() as slack,
        ):
            cluster = Cluster(
                sim,
                slack,
                schema_url(server, schema),
                Path(scratch) / schema,
                lease=lease,
                poll_interval=timedelta(seconds=args.poll_interval),
            )
            try:
                cluster.start(2)
                for kill in range(1, args.kills + 1):
                    leader = cluster.wait_for_leader(timeout=60)
                    first_cycle_after(leader, datetime.fromisoformat("2000-01-01T00:00:00+00:00"))
                    followers = [r for r in cluster.replicas if r.alive and r is not leader]
                    wait_until(lambda: all(map(settled, followers)), "the followers to start", 60)  # noqa: B023
                    # Every follower has checked since it started; the random part puts the kill anywhere in
                    # the followers' check period (every lease/2), not always at one phase of it.
                    time.sleep(args.lease + random.uniform(0, args.lease / 2))
                    killed_at = leader.kill()
                    successor = cluster.wait_for_leader(timeout=60)
                    seconds = (first_cycle_after(successor, killed_at) - killed_at).total_seconds()
                    failovers.append(seconds)
                    handover = f"{leader.name} -> {successor.name}"
                    print(f"kill {kill:2d}: {handover}, first cycle after {seconds:.2f}s", flush=True)
                    cluster.start(1)
            finally:
                cluster.stop()
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
    median, worst = statistics.median(failovers), max(failovers)
    print(
        f"failover over {len(failovers)} kills (lease {args.lease:g}s, poll every {args.poll_interval:g}s): "
        f"median {median:.2f}s, max {worst:.2f}s; median = {median / args.lease:.2f}x lease "
        f"(target < 2x): {'met' if median < 2 * args.lease else 'MISSED'}"
    )
    return 0 if median < 2 * args.lease else 1


if __name__ == "__main__":
    sys.exit(main())
