"""A Slack that takes connections and never answers must not stop polling (issue 20 #12).

The daemon as a process, its Slack the project's stand-in with every call delayed past the client's timeout
(accepted, never answered): the cycles keep running at their interval while a post hangs, a task that fails
and recovers meanwhile is seen (its alert opened and resolved in the state), and /healthz says Slack is the
problem, not the Workspace API. Before, `poll()` waited for the delivery: one cycle took as long as the
timeouts added up, and health blamed the cycles.
"""

from __future__ import annotations

import socket
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from monitor.devtools.sim import SimOptions, SimulatorThread
from monitor.devtools.slackstub import SlackStubThread
from tests.support.daemon import DaemonProcess, write_config


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(SimOptions(tasks=0, seed=8)) as running:
        for name in ("prod-a", "prod-b"):
            fields = {"task_name": name, "last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY"}
            running.call(running.state.create_task, fields)
        yield running


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def until(condition: Callable[[], bool], what: str, daemon: DaemonProcess, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}\n{daemon.text()[-4000:]}")


def alert_status(state: Path, task_name: str) -> str | None:
    with closing(sqlite3.connect(f"file:{state}?mode=ro", uri=True)) as db:
        row = db.execute("SELECT status FROM alerts WHERE task_name = ?", (task_name,)).fetchone()
    return None if row is None else str(row[0])


def healthz(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def test_a_black_holed_slack_never_holds_up_polling(tmp_path: Path, sim: SimulatorThread) -> None:
    port = free_port()
    with SlackStubThread() as stub:
        stub.call(
            stub.state.faults.delay, 600, None
        )  # every call accepted, none answered (the client gives up)
        write_config(tmp_path, sim.base_url, extra=(
            f"metrics:\n  listen: {port}\nslack:\n  mode: none\n  api_url: {stub.api_url}\n"
            "  default_channel: '#fallback'\n"
        ))  # fmt: skip
        sim.call(sim.state.add_execution, sim.state.task("prod-a").id, "FAIL")
        daemon = DaemonProcess(tmp_path, SLACK_BOT_TOKEN=stub.token)
        try:
            until(lambda: stub.state.count("chat.postMessage") >= 1, "the alert's post to hang", daemon)
            hung_at = daemon.text().count('"cycle.done"')
            daemon.wait_for('"cycle.done"', count=hung_at + 3)  # 1 s polls go on while the post hangs

            state = tmp_path / "state.db"
            sim.call(sim.state.add_execution, sim.state.task("prod-b").id, "FAIL")
            until(lambda: alert_status(state, "prod-b") == "firing", "prod-b's failure to be seen", daemon)
            sim.call(sim.state.add_execution, sim.state.task("prod-b").id, "SUCCESS")
            until(lambda: alert_status(state, "prod-b") == "resolved", "prod-b's recovery to be seen", daemon)

            until(lambda: healthz(port)[0] == 503, "/healthz to fail", daemon)  # after 3 poll intervals
            status, reason = healthz(port)
            assert status == 503
            assert "Slack" in reason
            assert "cycle" not in reason, reason  # the cycles are fine
            assert stub.state.count("chat.postMessage", ok=True) == 0
        finally:
            assert daemon.stop() == 0
