"""Several `workspace-monitor run` processes sharing one PostgreSQL state, one Workspace simulator and one
Slack stand-in: the harness of the HA tests and of bench/ha.py.

Each replica is a real child process with its own working directory, config and JSON log (stderr); the
state URL names the test's schema and an application_name of the cluster's own, so the test can end exactly
these replicas' PostgreSQL sessions (an outage) without touching any other test's.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from monitor.devtools.sim import DEFAULT_ACCESS_KEY, DEFAULT_PROJECT_ID, DEFAULT_SECRET_KEY, SimulatorThread
from monitor.devtools.slackstub import SlackStubThread

__all__ = ["RULES", "Cluster", "Replica", "normalized", "wait_until"]

RULES = """\
rules:
  - name: ops
    match:
      task_name: "prod-*"
    channel: "#ops"
    notify_resolved: true
"""


def wait_until(
    condition: Callable[[], bool], what: str, timeout: float = 30, details: Callable[[], str] = str
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{details()}")


class Replica:
    """One daemon process; `events()` reads its JSON log lines."""

    def __init__(self, workdir: Path, name: str, config: str, env: dict[str, str]) -> None:
        self.name = name
        self.dir = workdir / name
        self.dir.mkdir(parents=True)
        (self.dir / "config.yaml").write_text(config)
        (self.dir / "rules.yaml").write_text(RULES)
        self.err = self.dir / "stderr.txt"
        with (self.dir / "stdout.txt").open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "monitor.cli", "run"], cwd=self.dir, env=env, stdout=out, stderr=err
            )

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        found = []
        for line in self.err.read_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and (name is None or event.get("event") == name):
                found.append(event)
        return found

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def leading(self) -> bool:
        """Alive, and its last word on leadership is that it was elected."""
        changes = ("leader.elected", "leader.lost", "leader.resigned")
        said = [e["event"] for e in self.events() if e.get("event") in changes]
        return self.alive and bool(said) and said[-1] == "leader.elected"

    def kill(self) -> datetime:
        """SIGKILL, as a crash or the OOM killer would; returns when (UTC, as the logs write it)."""
        at = datetime.now().astimezone()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        return at

    def stop(self) -> int:
        self.terminate()
        return self.wait_stopped()

    def terminate(self) -> None:
        """SIGTERM, as systemd stops it; `wait_stopped` waits for the exit."""
        if self.alive:
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self) -> int:
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=30)


@dataclass
class Cluster:
    """Replicas of one deployment against `sim`, `slack` and the PostgreSQL state at `url`."""

    sim: SimulatorThread
    slack: SlackStubThread
    url: str
    workdir: Path
    lease: timedelta = timedelta(seconds=2)
    poll_interval: timedelta = timedelta(seconds=1)
    replicas: list[Replica] = field(default_factory=list)
    #: state.claim_lease (the daemon's default when None); more top-level config sections (`reports:`).
    claim_lease: timedelta | None = None
    extra_config: str = ""

    @property
    def application_name(self) -> str:
        return "wm-" + re.sub(r"\W", "", self.workdir.name)[-40:]

    def state_url(self) -> str:
        return f"{self.url}&application_name={self.application_name}"

    def config(self) -> str:
        return (
            textwrap.dedent(
                f"""\
            workspace:
              endpoint: {self.sim.base_url}
              project_id: {DEFAULT_PROJECT_ID}
              poll_interval: {self.poll_interval.total_seconds():g}s
              retry_attempts: 1
            state:
              url: "{self.state_url()}"
              lease: {self.lease.total_seconds():g}s
              {f"claim_lease: {self.claim_lease.total_seconds():g}s" if self.claim_lease else ""}
            rules: rules.yaml
            slack:
              mode: none
              api_url: {self.slack.api_url}
            """
            )
            + self.extra_config
        )

    def start(self, count: int) -> list[Replica]:
        env = {
            "PATH": os.environ["PATH"],
            "HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY,
            "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY,
            "SLACK_BOT_TOKEN": self.slack.token,
        }
        started = [
            Replica(self.workdir, f"replica-{len(self.replicas) + n}", self.config(), env)
            for n in range(count)
        ]
        self.replicas.extend(started)
        return started

    def leaders(self) -> list[Replica]:
        return [replica for replica in self.replicas if replica.leading]

    def wait_for_started(self, timeout: float = 30) -> None:
        """Until every replica has connected and started: one still importing when the test cuts the
        database off would refuse to start (as it should) and fail the test for the wrong reason."""
        wait_until(
            lambda: all(replica.events("daemon.started") for replica in self.replicas),
            "every replica started",
            timeout,
            self.describe,
        )

    def wait_for_leader(self, timeout: float = 30) -> Replica:
        wait_until(lambda: len(self.leaders()) == 1, "exactly one leader", timeout, self.describe)
        return self.leaders()[0]

    def describe(self, lines: int = 25) -> str:
        """The last log events of every replica but their routine ones, for a failing test's message."""
        routine = {"cycle.done", "leader.unavailable"}
        parts = []
        for replica in self.replicas:
            events = [e for e in replica.events() if e.get("event") not in routine][-lines:]
            cycles = len(replica.events("cycle.done"))
            parts.append(f"{replica.name} (alive: {replica.alive}, cycles: {cycles}):")
            parts += [f"  {json.dumps(event)[:300]}" for event in events]
            other = [line for line in replica.err.read_text().splitlines() if not line.startswith("{")]
            parts += [f"  (not JSON) {line[:300]}" for line in other[-lines:]]
        return "\n".join(parts)

    def stop(self) -> None:
        """Every replica at once: one after another took the sum of their stops."""
        for replica in self.replicas:
            replica.terminate()
        for replica in self.replicas:
            replica.wait_stopped()

    # The outside world.

    def fail(self, task_name: str, status: str = "FAIL") -> None:
        self.sim.call(self.sim.state.add_execution, self.sim.state.task(task_name).id, status)

    def messages(self) -> list[dict[str, Any]]:
        return normalized(self.slack.call(self.slack.state.snapshot))

    def wait_for_messages(self, predicate: Callable[[list[dict[str, Any]]], bool], what: str) -> None:
        wait_until(lambda: predicate(self.messages()), what, details=self.describe)

    def end_sessions(self) -> int:
        """Terminate every PostgreSQL session of these replicas (what a server restart does to them)."""
        with psycopg.connect(self.url, autocommit=True) as admin:
            rows = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                (self.application_name,),
            ).fetchall()
        return len(rows)


def normalized(snapshot: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """What a person sees in the channels, without what differs from run to run (times, ids, ts)."""

    def text(message: dict[str, Any]) -> str:
        return re.sub(r"\d", "0", str(message.get("text", "")))

    return [
        {
            "channel": channel,
            "text": text(message),
            "edits": len(message.get("edits", [])),
            "replies": [text(reply) for reply in message.get("replies", [])],
        }
        for channel, messages in sorted(snapshot.items())
        for message in messages
    ]
