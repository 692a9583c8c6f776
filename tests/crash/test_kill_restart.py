"""Crash safety: `workspace-monitor run` SIGKILLed over and over while failures arrive: 0 lost, 0 duplicated.

The daemon runs as a real process against the Workspace simulator (every request slowed down, so a kill
often lands in the middle of a page fetch) and the Slack stand-in (every chat.postMessage answered late, so
a kill often lands after Slack took a message and before the daemon recorded its ts). Each round starts it,
lets a failure or two arrive, and SIGKILLs it at a moment picked by one of these strategies, in turn:

    fetch     while the first cycle is fetching pages
    persist   right after a cycle persisted state + outbox (the `cycle.done` log line), before delivery
    send      while a chat.postMessage is in flight: Slack will show the message, the daemon never hears
    random    anywhere in the first few seconds

Afterwards a last daemon runs until the outbox is empty, and the channel is read: every failed task must be
in exactly one top-level message (a digest or its own; thread replies and edits aside), counted from the
message metadata that the crash check itself relies on; and, since no task ever recovers here, no thread
reply may say RESOLVED or CLOSED.

Slow (a few minutes for 50 kills): skipped unless WORKSPACE_MONITOR_SLOW=1, which `.ci/run` sets, with
CRASH_KILLS (default 50) kills.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from monitor.decide import alert_fingerprint
from monitor.devtools.sim import DEFAULT_PROJECT_ID, SimOptions, SimulatorThread
from monitor.devtools.slackstub import SlackStubThread
from monitor.slack.message import alerts_in_metadata
from tests.support.daemon import DaemonProcess, write_config

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),  # 50 kills take one to three minutes, depending on the machine's load
    pytest.mark.skipif(not os.environ.get("WORKSPACE_MONITOR_SLOW"), reason="set WORKSPACE_MONITOR_SLOW=1"),
]

KILLS = int(os.environ.get("CRASH_KILLS", "50"))
#: Enough tasks that failures keep arriving until the last kill (about one a round).
TASKS = max(60, 2 * KILLS)
STRATEGIES = ("fetch", "persist", "send", "random")


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    # 30 ms a request: a cycle with a few changed tasks spends a few hundred ms on the wire.
    with SimulatorThread(SimOptions(tasks=0, seed=21, latency_ms=30)) as running:
        for index in range(TASKS):
            fields = {"task_name": f"prod-{index:02d}", "last_status": "SUCCESS", "enable": True,
                      "scheduled_type": "DAY"}  # fmt: skip
            running.call(running.state.create_task, fields)
        yield running


@pytest.fixture
def stub() -> Iterator[SlackStubThread]:
    with SlackStubThread() as running:
        # Every post answers after 0.4 s: a kill in that window leaves a message nobody recorded.
        running.call(running.state.faults.delay, 0.4, None, method="chat.postMessage")
        yield running


def posts(stub: SlackStubThread) -> int:
    return stub.call(lambda: sum(1 for call in stub.state.calls if call.method == "chat.postMessage"))


def unsent(state_db: Path) -> int:
    if not state_db.exists():
        return -1
    with closing(sqlite3.connect(state_db, timeout=10)) as db:
        (count,) = db.execute("SELECT count(*) FROM outbox WHERE state IN ('pending', 'claimed')").fetchone()
    return int(count)


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def kill_at(strategy: str, daemon: DaemonProcess, stub: SlackStubThread, rng: random.Random) -> bool:
    """Wait for this strategy's moment (bounded), then SIGKILL. True when the moment was met."""
    met = True
    if strategy == "fetch":
        daemon.wait_for('"daemon.started"')
        time.sleep(rng.uniform(0.0, 0.3))
    elif strategy == "persist":
        met = wait_until(lambda: '"outbox": 0' not in last_done(daemon), 6)
    elif strategy == "send":
        before = posts(stub)
        met = wait_until(lambda: posts(stub) > before, 6)
        time.sleep(rng.uniform(0.0, 0.3))  # the post is answered after 0.4 s
    else:
        time.sleep(rng.uniform(0.0, 4.0))
    daemon.kill()
    return met


def last_done(daemon: DaemonProcess) -> str:
    lines = [line for line in daemon.text().splitlines() if '"cycle.done"' in line]
    return lines[-1] if lines else '"outbox": 0'


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    tmp_path: Path, sim: SimulatorThread, stub: SlackStubThread
) -> None:
    write_config(
        tmp_path,
        sim.base_url,
        # A dead daemon's claims are taken over after 2 s, not 5 min, so the harness need not wait.
        state="claim_lease: 2s",
        extra=f'slack:\n  mode: none\n  api_url: {stub.api_url}\n  default_channel: "#ops"\n',
    )
    env = {"SLACK_BOT_TOKEN": stub.token}
    rng = random.Random(int(os.environ.get("CRASH_SEED", "7")))
    tasks = [f"prod-{index:02d}" for index in range(TASKS)]
    rng.shuffle(tasks)
    failed: list[str] = []
    strategies: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    for kill in range(KILLS):
        daemon = DaemonProcess(tmp_path, name=f"run{kill:03d}", **env)
        # Failures arrive while it runs: one or two most rounds, until every task has failed once.
        for _ in range(rng.choice((0, 1, 1, 2))):
            if tasks:
                name = tasks.pop()
                sim.call(sim.state.add_execution, sim.state.task(name).id, "FAIL")
                failed.append(name)
        strategy = STRATEGIES[kill % len(STRATEGIES)]
        strategies[strategy] += 1
        if not kill_at(strategy, daemon, stub, rng):
            missed[strategy] += 1
        assert daemon.process.returncode == -9, daemon.text()[-3000:]

    final = DaemonProcess(tmp_path, name="final", **env)
    try:
        final.wait_for('"cycle.done"')
        settled = wait_until(lambda: unsent(tmp_path / "state.db") == 0, 120)
        final.wait_for('"cycle.done"', count=3)
    finally:
        assert final.stop() == 0
    assert settled, f"outbox not empty: {unsent(tmp_path / 'state.db')} rows\n{final.text()[-3000:]}"

    project = DEFAULT_PROJECT_ID
    expected = {alert_fingerprint("ops", project, sim.state.task(name).id): name for name in failed}
    shown: Counter[str] = Counter()
    false_resolutions = 0  # every task here keeps failing: any RESOLVED or CLOSED would be false
    for message in stub.call(stub.state.messages, "ops"):
        for fingerprint, _episode in alerts_in_metadata(message.metadata):
            shown[fingerprint] += 1
        for reply in message.replies:
            kind = ((reply.metadata or {}).get("event_payload") or {}).get("kind")
            false_resolutions += kind in ("RESOLVED", "CLOSED")
    lost = sorted(name for fingerprint, name in expected.items() if shown[fingerprint] == 0)
    duplicated = sorted(expected.get(fp, fp) for fp, count in shown.items() if count > 1)
    unexpected = sorted(fp for fp in shown if fp not in expected)
    print(
        f"\ncrash harness: {KILLS} kills survived ({dict(strategies)}; moment not met: {dict(missed)}), "
        f"{len(expected)} failures, {len(lost)} lost, {len(duplicated)} duplicated, "
        f"{len(unexpected)} unexpected, {false_resolutions} false resolutions, {posts(stub)} posts"
    )
    assert lost == []
    assert duplicated == []
    assert unexpected == []
    assert false_resolutions == 0
