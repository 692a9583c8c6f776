"""`workspace-monitor run` as systemd would run it: a real process on a 1-second schedule, with signals."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.decide import DecisionKind
from monitor.devtools.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_SECRET_KEY,
    SimulatorThread,
)
from monitor.devtools.slackstub import SlackStubThread
from monitor.store import CycleChanges, OutboxEntry, SQLiteStore
from tests.support.daemon import RULES, DaemonProcess, free_port, simulator_with, write_config


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with simulator_with("prod-reboot", "lab-start") as running:
        yield running


def test_alerts_once_over_many_cycles_and_stops_cleanly(tmp_path: Path, sim: SimulatorThread) -> None:
    write_config(tmp_path, sim.base_url)
    daemon = DaemonProcess(tmp_path)
    try:
        daemon.wait_for('"cycle.done"')
        sim.call(sim.state.add_execution, sim.state.task("prod-reboot").id, "FAIL")
        daemon.wait_for("new alert: prod-reboot", stream="out")
        daemon.wait_for('"cycle.done"', count=5)
    finally:
        code = daemon.stop()
    assert code == 0
    assert daemon.out.read_text().count("new alert: prod-reboot") == 1
    assert '"daemon.stopped"' in daemon.err.read_text()
    assert DEFAULT_SECRET_KEY not in daemon.err.read_text() + daemon.out.read_text()


def sent_earlier(tmp_path: Path, ages: dict[str, timedelta]) -> None:
    """A state file whose outbox holds one row per fingerprint, sent that long ago."""
    now = datetime.now(UTC)
    with SQLiteStore.open(tmp_path / "state.db") as store:
        entries = [
            OutboxEntry(fingerprint, 1, DecisionKind.NEW, "#ops", {"text": fingerprint}, now - age)
            for fingerprint, age in ages.items()
        ]
        store.apply_cycle(CycleChanges(outbox=entries))
        for row in store.pending_outbox(now=now):
            sent_at = now - ages[row.entry.fingerprint]
            store.claim_outbox(row.id, claimer="earlier", now=sent_at)
            store.mark_sent([row.id], channel="C1", ts="1.0", now=sent_at)


def with_retention(tmp_path: Path, sim: SimulatorThread, retention: str) -> None:
    write_config(tmp_path, sim.base_url)
    config = (tmp_path / "config.yaml").read_text()
    (tmp_path / "config.yaml").write_text(
        config.replace("state:\n", f"state:\n  outbox_retention: {retention}\n")
    )


def outbox_fingerprints(tmp_path: Path) -> list[str]:
    with closing(sqlite3.connect(tmp_path / "state.db")) as db:
        return [row[0] for row in db.execute("SELECT fingerprint FROM outbox ORDER BY id")]


def test_notifications_sent_longer_ago_than_the_retention_leave_the_state_file(
    tmp_path: Path, sim: SimulatorThread
) -> None:
    """At start (then hourly) the daemon deletes outbox rows sent before state.outbox_retention; newer ones
    and the alert state stay."""
    sent_earlier(tmp_path, {"f-old": timedelta(days=3), "f-new": timedelta(hours=1)})
    with_retention(tmp_path, sim, "2d")
    daemon = DaemonProcess(tmp_path)
    try:
        logs = daemon.wait_for('"state.pruned"')
    finally:
        code = daemon.stop()
    assert code == 0
    assert '"outbox_rows": 1' in logs
    assert '"retention": "2d"' in logs
    assert outbox_fingerprints(tmp_path) == ["f-new"]


def test_a_retention_of_0_keeps_every_notification(tmp_path: Path, sim: SimulatorThread) -> None:
    sent_earlier(tmp_path, {"f-ancient": timedelta(days=400)})
    with_retention(tmp_path, sim, "0")
    daemon = DaemonProcess(tmp_path)
    try:
        logs = daemon.wait_for('"cycle.done"', count=3)  # leadership, and with it the first prune, came first
    finally:
        code = daemon.stop()
    assert code == 0
    assert '"state.pruned"' not in logs
    assert outbox_fingerprints(tmp_path) == ["f-ancient"]


def test_a_broken_rule_file_is_refused_at_start(tmp_path: Path, sim: SimulatorThread) -> None:
    write_config(tmp_path, sim.base_url)
    (tmp_path / "rules.yaml").write_text("rules:\n  - name: x\n    severity: urgent\n")
    daemon = DaemonProcess(tmp_path)
    assert daemon.process.wait(timeout=30) == 2
    assert "rules.yaml:3: rule 'x': severity" in daemon.err.read_text()


def test_reload_keeps_the_old_rules_when_the_new_ones_are_broken(
    tmp_path: Path, sim: SimulatorThread
) -> None:
    write_config(tmp_path, sim.base_url)
    daemon = DaemonProcess(tmp_path)
    try:
        daemon.wait_for('"cycle.done"')
        (tmp_path / "rules.yaml").write_text("rules:\n  - name: x\n    chanel: '#ops'\n")
        daemon.process.send_signal(signal.SIGHUP)
        daemon.wait_for('"config.reload_failed"')
        sim.call(sim.state.add_execution, sim.state.task("prod-reboot").id, "FAIL")
        daemon.wait_for("new alert: prod-reboot", stream="out")  # the old rules still alert

        (tmp_path / "rules.yaml").write_text(RULES.replace("prod-*", "lab-*"))
        daemon.process.send_signal(signal.SIGHUP)
        daemon.wait_for('"config.reloaded"')
        sim.call(sim.state.add_execution, sim.state.task("lab-start").id, "FAIL")
        daemon.wait_for("new alert: lab-start", stream="out")
    finally:
        assert daemon.stop() == 0
    assert "rules.yaml:3" in daemon.err.read_text()


def test_an_api_outage_does_not_stop_the_schedule(tmp_path: Path, sim: SimulatorThread) -> None:
    write_config(tmp_path, sim.base_url)
    sim.call(sim.state.add_fault, "status", endpoint="list", status=503, count=40)
    daemon = DaemonProcess(tmp_path)
    try:
        daemon.wait_for('"cycle.failed"')
        sim.call(sim.state.clear_faults)
        sim.call(sim.state.add_execution, sim.state.task("prod-reboot").id, "FAIL")
        daemon.wait_for("new alert: prod-reboot", stream="out", timeout=30)
    finally:
        assert daemon.stop() == 0


def test_speaks_the_systemd_notify_protocol(tmp_path: Path, sim: SimulatorThread) -> None:
    """READY once started, STATUS after each cycle, WATCHDOG pings, STOPPING on SIGTERM."""
    write_config(tmp_path, sim.base_url)
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(path)
        listener.settimeout(20)
        daemon = DaemonProcess(tmp_path, NOTIFY_SOCKET=path, WATCHDOG_USEC="400000")
        messages: list[str] = []
        try:
            while (
                not any(m.startswith("STATUS=last cycle") for m in messages)
                or messages.count("WATCHDOG=1") < 2
            ):
                messages.append(listener.recv(4096).decode())
        finally:
            assert daemon.stop() == 0
        while True:
            try:
                listener.settimeout(0.5)
                messages.append(listener.recv(4096).decode())
            except TimeoutError:
                break
    assert messages[0].startswith("READY=1\nSTATUS=started; polling every 1s") or "READY=1" in "".join(
        messages
    )
    assert any(m.startswith("STATUS=last cycle") and "failing tasks (complete)" in m for m in messages)
    assert "STOPPING=1\nSTATUS=stopping" in messages


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
def test_the_unit_file_verifies_and_is_well_hardened(tmp_path: Path) -> None:
    unit = (Path(__file__).parents[2] / "systemd" / "workspace-monitor.service").read_text()
    # verify checks that ExecStart exists and EnvironmentFile can be read; point them at this checkout.
    unit = unit.replace("/opt/workspace-monitor/bin/workspace-monitor", sys.executable)
    unit = unit.replace("EnvironmentFile=/etc/", "EnvironmentFile=-/etc/")
    path = tmp_path / "workspace-monitor.service"
    path.write_text(unit)
    verify = subprocess.run(
        [str(SYSTEMD_ANALYZE), "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    assert verify.returncode == 0, verify.stderr
    security = subprocess.run(
        [str(SYSTEMD_ANALYZE), "security", "--offline=true", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    exposure = float(security.stdout.rsplit("Overall exposure level for", 1)[1].split(":")[1].split()[0])
    assert exposure <= 1.2, security.stdout


def test_metrics_and_health_on_loopback(tmp_path: Path, sim: SimulatorThread) -> None:
    port = free_port()
    write_config(tmp_path, sim.base_url, extra=f"metrics:\n  listen: {port}\n")
    daemon = DaemonProcess(tmp_path)
    try:
        daemon.wait_for('"cycle.done"', count=2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            assert answer.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    finally:
        assert daemon.stop() == 0
    assert 'workspace_monitor_cycles_total{outcome="complete",project="' in text
    assert 'status="200"' in text
    assert "workspace_monitor_open_alerts" in text


def test_sigterm_during_a_paced_flush_sends_everything_and_strands_no_claim(
    tmp_path: Path, sim: SimulatorThread
) -> None:
    """A stop that lands while messages are being paced out to a channel lets the flush finish (within its
    bound) instead of cancelling it: every notification is sent, none left claimed for the next start."""
    names = [f"prod-batch-{n}" for n in range(3)]
    for name in names:
        fields = {"task_name": name, "last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY"}
        sim.call(sim.state.create_task, fields)
    with SlackStubThread() as stub:
        stub.stub.state.add_channel("ops")
        write_config(tmp_path, sim.base_url, extra=f"slack:\n  mode: none\n  api_url: {stub.stub.api_url}\n")
        # One message per task (group_by task_name): paced at about one a second in one channel.
        (tmp_path / "rules.yaml").write_text(RULES + "    group_by: [task_name]\n")
        daemon = DaemonProcess(tmp_path, SLACK_BOT_TOKEN=stub.stub.token)
        try:
            daemon.wait_for('"cycle.done"')
            for name in names:
                sim.call(sim.state.add_execution, sim.state.task(name).id, "FAIL")
            # Stop as soon as the first of the three is in Slack: the other two are still to be paced out.
            deadline = time.monotonic() + 20
            while not stub.stub.state.messages("ops") and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            code = daemon.stop()
        posted = stub.stub.state.messages("ops")
    assert code == 0
    assert sorted(name for name in names if any(name in str(m.blocks) for m in posted)) == names
    with closing(sqlite3.connect(tmp_path / "state.db")) as db:
        assert db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall() == [("sent", 3)]


def test_an_operators_day_with_slack_reloads_and_a_clean_stop(tmp_path: Path, sim: SimulatorThread) -> None:
    """The daemon against the simulator and the Slack stand-in: an alert posted; SIGHUP with a changed rule
    file routes the next one to a new channel; SIGHUP with a broken file keeps the rules in force; SIGTERM
    exits 0; and no secret appears in any log line or output."""
    sim.call(sim.state.create_task, {"task_name": "prod-stop", "last_status": "SUCCESS", "enable": True,
                                     "scheduled_type": "DAY"})  # fmt: skip
    with SlackStubThread() as stub:
        for channel in ("ops", "lab-ops"):
            stub.stub.state.add_channel(channel)
        write_config(tmp_path, sim.base_url, extra=f"slack:\n  mode: none\n  api_url: {stub.stub.api_url}\n")
        daemon = DaemonProcess(tmp_path, SLACK_BOT_TOKEN=stub.stub.token)

        def posted(channel: str, name: str) -> None:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if any(name in str(m.blocks) for m in stub.stub.state.messages(channel)):
                    return
                time.sleep(0.1)
            raise AssertionError(f"no message about {name} in #{channel}:\n{daemon.err.read_text()[-3000:]}")

        try:
            daemon.wait_for('"cycle.done"')
            sim.call(sim.state.add_execution, sim.state.task("prod-reboot").id, "FAIL")
            posted("ops", "prod-reboot")

            lab_rule = '  - name: lab\n    match:\n      task_name: "lab-*"\n    channel: "#lab-ops"\n'
            (tmp_path / "rules.yaml").write_text(RULES + lab_rule)
            daemon.process.send_signal(signal.SIGHUP)
            daemon.wait_for('"config.reloaded"')
            sim.call(sim.state.add_execution, sim.state.task("lab-start").id, "FAIL")
            posted("lab-ops", "lab-start")

            (tmp_path / "rules.yaml").write_text("rules:\n  - name: lab\n    severity: urgent\n")
            daemon.process.send_signal(signal.SIGHUP)
            daemon.wait_for('"config.reload_failed"')
            sim.call(sim.state.add_execution, sim.state.task("prod-stop").id, "FAIL")
            posted("ops", "prod-stop")  # the rules in force still route it
        finally:
            code = daemon.stop()
        everything = daemon.err.read_text() + daemon.out.read_text()
        ops = stub.stub.state.messages("ops")
        lab = stub.stub.state.messages("lab-ops")
    assert code == 0
    assert '"daemon.stopped"' in everything
    assert "rules.yaml:3" in everything  # the broken file's problem, with its line
    assert [len(ops), len(lab)] == [2, 1]
    for secret in (DEFAULT_SECRET_KEY, stub.stub.token):
        assert secret not in everything


def test_missing_credentials_are_refused_before_the_state_file_is_made(
    tmp_path: Path, sim: SimulatorThread
) -> None:
    write_config(tmp_path, sim.base_url)
    process = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "run"],
        cwd=tmp_path, env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert process.returncode == 2
    assert "refusing to start: no Huawei Cloud credentials" in process.stderr
    assert not (tmp_path / "state.db").exists()


def test_an_unusable_state_location_is_refused_by_check_and_run(tmp_path: Path, sim: SimulatorThread) -> None:
    write_config(tmp_path, sim.base_url)
    (tmp_path / "blocker").write_text("a file where a directory should be")
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text().replace(f"{tmp_path}/state.db", f"{tmp_path}/blocker/state.db"))
    env = {"PATH": os.environ["PATH"], "HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY,
           "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY}  # fmt: skip
    for command, code in (("check", 1), ("run", 2)):
        process = subprocess.run(
            [sys.executable, "-m", "monitor.cli", command],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert process.returncode == code, process.stderr
        assert "blocker is not a directory" in process.stdout + process.stderr
