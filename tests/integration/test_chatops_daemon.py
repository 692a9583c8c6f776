"""The chatops app inside `workspace-monitor run` (a real process): it answers `/tasks` over Socket Mode next
to the scheduler, `/healthz` fails while its link to Slack is down, SIGTERM stops it cleanly; and `run` and
`check` refuse, in one line, a Slack mode whose token is missing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.devtools.sim import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from monitor.devtools.sim.runner import SimulatorThread
from monitor.devtools.slackstub import DEFAULT_APP_TOKEN, DEFAULT_TOKEN, SlackStubOptions, SlackStubThread
from monitor.devtools.slackstub.options import DEFAULT_SCOPES
from tests.support.daemon import DaemonProcess, free_port, simulator_with, write_config


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with simulator_with("prod-reboot", "lab-start") as running:
        yield running


@pytest.fixture
def slack() -> Iterator[SlackStubThread]:
    # Rate limits off: the link is dropped and reopened within seconds; Tier 1 opens one a minute.
    with SlackStubThread(SlackStubOptions(rate_limits=False)) as stub:
        yield stub


def health(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_health(port: int, status: int) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        code, text = health(port)
        if code == status:
            return text
        time.sleep(0.1)
    raise AssertionError(f"/healthz never answered {status}")


def wait_response(slack: SlackStubThread, response_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for response in list(slack.state.responses):
            if response["id"] == response_id:
                body: dict[str, object] = response["body"]
                return body
        time.sleep(0.05)
    raise AssertionError(f"no answer at response_url {response_id}")


def ask(
    slack: SlackStubThread,
    text: str,
    response_id: str,
    *,
    user: tuple[str, str] = ("U1", "someone"),
    channel: tuple[str, str] = ("C1", "general"),
) -> str:
    """`/tasks text` from user U1 through Socket Mode; the answer's blocks as text."""
    command = {"user_id": user[0], "user_name": user[1], "channel_id": channel[0], "channel_name": channel[1],
               "command": "/tasks", "text": text, "response_url": slack.stub.response_url(response_id),
               "team_id": "T0STUBTEAM", "api_app_id": "A0STUBAPP1"}  # fmt: skip
    envelope_id = slack.run(slack.stub.socket.send, "slash_commands", command)
    slack.run(slack.stub.socket.ack, envelope_id)
    return str(wait_response(slack, response_id)["blocks"])


def test_the_daemon_answers_over_socket_mode_reloads_admins_and_health_follows_the_link(
    tmp_path: Path, sim: SimulatorThread, slack: SlackStubThread
) -> None:
    port = free_port()
    write_config(
        tmp_path, sim.base_url, extra=f"slack:\n  api_url: {slack.api_url}\nmetrics:\n  listen: {port}\n"
    )
    daemon = DaemonProcess(tmp_path, SLACK_BOT_TOKEN=DEFAULT_TOKEN, SLACK_APP_TOKEN=DEFAULT_APP_TOKEN)
    try:
        daemon.wait_for('"cycle.done"')
        slack.run(slack.stub.socket.wait_connected)
        wait_health(port, 200)
        assert "complete, 0 failing tasks" in ask(slack, "status", "d1")

        # Not an admin yet: refused. Made one in the config, SIGHUP: allowed, without a restart.
        assert "Sorry, only admins" in ask(slack, "silence prod-* 1h", "d2")
        config = tmp_path / "config.yaml"
        config.write_text(config.read_text().replace("slack:\n", "slack:\n  admins: [U1]\n"))
        daemon.process.send_signal(signal.SIGHUP)
        daemon.wait_for('"chatops.reloaded"')
        assert "Silenced:" in ask(slack, "silence prod-* 1h", "d3")

        slack.set_down(True)
        assert "Socket Mode: the connection to Slack is down" in wait_health(port, 503)
        slack.set_down(False)
        wait_health(port, 200)
    finally:
        code = daemon.stop()
    assert code == 0
    logs = daemon.err.read_text()
    assert '"chatops.stopped"' in logs
    assert DEFAULT_APP_TOKEN not in logs
    assert DEFAULT_TOKEN not in logs


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {
        series: float(value)
        for series, value in (line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    }


def test_the_apps_link_commands_and_slack_calls_show_in_metrics(
    tmp_path: Path, sim: SimulatorThread, slack: SlackStubThread
) -> None:
    port = free_port()
    write_config(
        tmp_path, sim.base_url, extra=f"slack:\n  api_url: {slack.api_url}\nmetrics:\n  listen: {port}\n"
    )
    daemon = DaemonProcess(tmp_path, SLACK_BOT_TOKEN=DEFAULT_TOKEN, SLACK_APP_TOKEN=DEFAULT_APP_TOKEN)
    try:
        daemon.wait_for('"cycle.done"')
        slack.run(slack.stub.socket.wait_connected)
        wait_health(port, 200)
        ask(slack, "status", "m1")
        ask(slack, "silence prod-* 1h", "m2")
        up = scrape(port)
        slack.set_down(True)
        wait_health(port, 503)
        down = scrape(port)
    finally:
        assert daemon.stop() == 0
    assert up['workspace_monitor_slack_app_connected{mode="socket"}'] == 1
    assert down['workspace_monitor_slack_app_connected{mode="socket"}'] == 0
    assert up['workspace_monitor_chatops_commands_total{command="status",outcome="ok"}'] == 1
    assert up['workspace_monitor_chatops_commands_total{command="silence",outcome="refused"}'] == 1
    assert (
        up['workspace_monitor_slack_calls_total{method="auth.test",result="ok"}'] >= 1
    )  # the bot token check


def test_names_in_the_config_are_looked_up_to_ids_at_start(tmp_path: Path, sim: SimulatorThread) -> None:
    """Issue 20 #1: `@alice` is alice's member id once looked up (users.list, users:read); someone whose
    user_name is alice is not her; `"#desktop-ops"` is that channel's id, not any channel so named."""
    with SlackStubThread(SlackStubOptions(scopes=DEFAULT_SCOPES | {"users:read"})) as slack:
        access = "  admins: ['@alice', '@nobody']\n  allowed_channels: ['#desktop-ops']\n"
        write_config(tmp_path, sim.base_url, extra=f"slack:\n  api_url: {slack.api_url}\n{access}")
        daemon = DaemonProcess(tmp_path, SLACK_BOT_TOKEN=DEFAULT_TOKEN, SLACK_APP_TOKEN=DEFAULT_APP_TOKEN)
        try:
            logs = daemon.wait_for('"chatops.access_names_resolved"')
            assert "no member is named @nobody: it grants nothing (use the id)" in logs
            slack.run(slack.stub.socket.wait_connected)
            impostor = ask(slack, "silence prod-* 1h", "n1", user=("U0IMPOSTOR", "alice"),
                           channel=("C0OTHERROOM", "desktop-ops"))  # fmt: skip
            assert "Sorry, only admins" in impostor
            assert "Silenced:" in ask(slack, "silence prod-* 1h", "n2", user=("U0DEMOALICE", "alice"))
            assert "Silenced:" in ask(slack, "silence lab-* 1h", "n3", channel=("C0DESKOPS01", "renamed"))
        finally:
            code = daemon.stop()
    assert code == 0


def test_a_rejected_app_token_shows_in_healthz_and_metrics_and_is_logged_once(
    tmp_path: Path, sim: SimulatorThread, slack: SlackStubThread
) -> None:
    """Issue 15 Slack #4, in the real daemon: a revoked xapp- token is one clear error, not a traceback every
    ping interval; /healthz says "Slack app token rejected", the rejections metric counts it."""
    port = free_port()
    write_config(
        tmp_path, sim.base_url, extra=f"slack:\n  api_url: {slack.api_url}\nmetrics:\n  listen: {port}\n"
    )
    daemon = DaemonProcess(
        tmp_path, SLACK_BOT_TOKEN=DEFAULT_TOKEN, SLACK_APP_TOKEN="xapp-1-A0STUBAPP1-revoked"
    )
    try:
        daemon.wait_for('"cycle.done"')
        assert wait_health(port, 503).startswith(
            "Slack app token rejected (invalid_auth): make a new app-level"
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            metrics = answer.read().decode()
        assert (
            'workspace_monitor_slack_token_rejections_total{error="invalid_auth",token="app"} 1.0' in metrics
        )
    finally:
        code = daemon.stop()
    assert code == 0
    logs = daemon.err.read_text()
    assert logs.count('"chatops.token_rejected"') == 1
    assert "Traceback" not in logs
    assert "xapp-1-A0STUBAPP1-revoked" not in logs


def test_run_and_check_refuse_a_mode_without_its_token_in_one_line(
    tmp_path: Path, sim: SimulatorThread
) -> None:
    """Which line each mode's missing token gives is a table (tests/unit/test_chatops_runner.py); here both
    commands show one of them to people: `run` on stderr (its JSON log line says the same for journald) and
    exits 2, `check` among the problems it lists and exits 1."""
    write_config(tmp_path, sim.base_url, extra="slack:\n  mode: socket\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY,
        "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY,
        "SLACK_BOT_TOKEN": DEFAULT_TOKEN,
    }
    line = "slack.mode is socket, but SLACK_APP_TOKEN is not set"
    for command, code in (("check", 1), ("run", 2)):
        result = subprocess.run(
            [sys.executable, "-m", "monitor.cli", command], cwd=tmp_path, env=env,
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == code, result.stderr
        if command == "run":
            [said] = [text for text in result.stderr.splitlines() if text.startswith("workspace-monitor:")]
        else:
            [said] = [text for text in result.stdout.splitlines() if "slack.mode" in text]
        assert line in said
        assert said.endswith("or set slack.mode: none for alerts only")


def test_slack_mode_none_runs_without_tokens(tmp_path: Path, sim: SimulatorThread) -> None:
    write_config(tmp_path, sim.base_url, extra="slack:\n  mode: none\n")
    base = {
        "PATH": "/usr/bin:/bin",
        "HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY,
        "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY,
    }
    result = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "check"],
        cwd=tmp_path,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
