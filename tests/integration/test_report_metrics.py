"""Scheduled reports in /metrics, against the Slack stand-in: a report delivered counts as posted and sets its
last-posted time to its message's; a failed post, a failed upload and a refused upload count as failed at
their step; the daemon (the leader) counts what it queues and when each report was due, and a restarted
daemon finds the firing it posted before in the store, so that a report posted looks posted."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.devtools.slackstub import SlackStubOptions, SlackStubThread, start_slack_stub
from monitor.devtools.slackstub.options import DEFAULT_SCOPES
from monitor.devtools.slackstub.runner import SlackStub
from monitor.metrics import REPORT_FAILURE_STEPS, Metrics
from monitor.notify.console import ConsoleNotifier
from monitor.notify.dispatch import Dispatcher
from monitor.reports.queue import latest_firings, queue_due
from monitor.slack.notifier import SlackNotifier
from monitor.slack.report import ReportNotifier, posted_time
from monitor.store import SQLiteStore
from tests.integration.test_report_delivery import FIRE, REPORT, RULES, history
from tests.support.daemon import DaemonProcess, free_port, simulator_with, write_config

NAME = REPORT.name


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    opened = SQLiteStore.open(tmp_path / "state.db")
    history(opened)
    queue_due(opened, [REPORT], RULES, FIRE)
    return opened


@pytest.fixture
def metrics() -> Metrics:
    made = Metrics()
    made.watch_reports([NAME])
    return made


async def deliver(
    stub: SlackStub, store: SQLiteStore, metrics: Metrics, at: datetime = FIRE + timedelta(minutes=5)
) -> None:
    slack = SlackNotifier(stub.client(retry_handlers=[]), per_channel_interval=0)
    receiver = ReportNotifier(slack, observer=metrics)
    await Dispatcher(store, slack, claimer="t", receivers=[receiver], clock=lambda: at).flush()


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(f"workspace_monitor_{name}", {"report": NAME, **labels})


def failed(metrics: Metrics) -> dict[str, float]:
    """The report's failures by step (those not zero)."""
    counts = {step: sample(metrics, "reports_failed_total", step=step) for step in REPORT_FAILURE_STEPS}
    return {step: n for step, n in counts.items() if n}


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    async with start_slack_stub(SlackStubOptions()) as running:
        yield running


async def test_a_delivered_report_counts_as_posted_at_its_messages_time(
    stub: SlackStub, store: SQLiteStore, metrics: Metrics
) -> None:
    assert sample(metrics, "reports_posted_total") == 0
    await deliver(stub, store, metrics)
    await deliver(stub, store, metrics)  # nothing left to send: counted once
    [message, _chart] = stub.state.messages("#desktop-ops")
    assert sample(metrics, "reports_posted_total") == 1
    assert sample(metrics, "report_last_posted_timestamp_seconds") == float(message.ts)
    assert failed(metrics) == {}


async def test_a_refused_upload_counts_as_posted_and_failed_at_the_chart(
    store: SQLiteStore, metrics: Metrics
) -> None:
    """No files:write: the report goes out with a table instead of its chart; the operator can see why."""
    async with start_slack_stub(SlackStubOptions(scopes=DEFAULT_SCOPES - {"files:write"})) as refusing:
        await deliver(refusing, store, metrics)
        [message] = refusing.state.messages("#desktop-ops")
    assert failed(metrics) == {"chart_refused": 1}
    assert sample(metrics, "reports_posted_total") == 1
    assert sample(metrics, "report_last_posted_timestamp_seconds") == float(message.ts)


async def test_a_post_refused_for_good_counts_failed_and_nothing_posted(
    stub: SlackStub, store: SQLiteStore, metrics: Metrics
) -> None:
    stub.state.faults.error("channel_not_found", method="chat.postMessage")
    await deliver(stub, store, metrics)
    assert stub.state.messages("#desktop-ops") == []
    assert failed(metrics) == {"post": 1}
    assert sample(metrics, "reports_posted_total") == 0
    assert sample(metrics, "report_last_posted_timestamp_seconds") == 0


async def test_a_post_that_failed_then_went_out_counts_both(
    stub: SlackStub, store: SQLiteStore, metrics: Metrics
) -> None:
    stub.state.faults.server_error(method="chat.postMessage")
    await deliver(stub, store, metrics)
    assert failed(metrics) == {"post": 1}
    assert sample(metrics, "reports_posted_total") == 0
    await deliver(stub, store, metrics, at=FIRE + timedelta(hours=1))  # after the row's back-off
    assert sample(metrics, "reports_posted_total") == 1
    assert failed(metrics) == {"post": 1}


async def test_a_failed_upload_counts_failed_at_the_chart_and_posts_once(
    stub: SlackStub, store: SQLiteStore, metrics: Metrics
) -> None:
    stub.state.faults.server_error(method="files.getUploadURLExternal")
    await deliver(stub, store, metrics)
    assert failed(metrics) == {"chart": 1}
    assert sample(metrics, "reports_posted_total") == 0, "done once its chart is"
    await deliver(stub, store, metrics, at=FIRE + timedelta(hours=1))
    assert len(stub.state.messages("#desktop-ops")) == 2, "the report once, then its chart"
    assert sample(metrics, "reports_posted_total") == 1


async def test_a_report_logged_to_the_console_is_known_posted_to_the_next_leader(
    store: SQLiteStore, metrics: Metrics
) -> None:
    """Without Slack the report is a log line; the store still says when, as it does for a Slack post."""
    receiver = ReportNotifier(None, observer=metrics)
    await Dispatcher(store, ConsoleNotifier(), claimer="t", receivers=[receiver], clock=lambda: FIRE).flush()
    [firing] = latest_firings([REPORT], FIRE)
    at = posted_time(store, firing.fingerprint)
    assert at is not None
    assert sample(metrics, "report_last_posted_timestamp_seconds") == pytest.approx(at, abs=1e-5)
    assert sample(metrics, "reports_posted_total") == 1


# -- the daemon: the leader's side --------------------------------------------------------------------------


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        lines = answer.read().decode().splitlines()
    return {
        key: float(value)
        for key, _, value in (line.rpartition(" ") for line in lines if line and not line.startswith("#"))
    }


def scraped_once(
    port: int, daemon: DaemonProcess, holds: Callable[[dict[str, float]], bool]
) -> dict[str, float]:
    """The first scrape for which `holds` is true (the leader looks at its reports every 10 s)."""
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        seen = scrape(port)
        if holds(seen):
            return seen
        time.sleep(0.2)
    raise AssertionError(f"never: {sorted(seen.items())[-12:]}\n{daemon.text()[-3000:]}")


def test_the_daemon_counts_the_report_it_queues_and_a_restart_finds_it_posted(tmp_path: Path) -> None:
    """A daily report whose firing was two hours ago: the first daemon queues and posts it (queued 1, posted
    1, last posted after last due); the next daemon on the same state queues nothing and, from the store,
    shows it posted: no report looks due and not posted."""
    fired = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)
    reports = (
        'reports:\n  - name: daily\n    channel: "#reports"\n'
        f'    schedule: "{fired.minute} {fired.hour} * * *"\n    zone: UTC\n'
    )
    port = free_port()
    due = 'workspace_monitor_report_last_due_timestamp_seconds{report="daily"}'
    posted = 'workspace_monitor_report_last_posted_timestamp_seconds{report="daily"}'
    queued = 'workspace_monitor_reports_queued_total{report="daily"}'
    posts = 'workspace_monitor_reports_posted_total{report="daily"}'
    with simulator_with("prod-reboot") as sim, SlackStubThread() as slack:
        slack.stub.state.add_channel("reports")
        slack_section = f"slack:\n  mode: none\n  api_url: {slack.stub.api_url}\n"
        write_config(tmp_path, sim.base_url, extra=f"metrics:\n  listen: {port}\n{slack_section}{reports}")
        for run in ("first", "second"):
            daemon = DaemonProcess(tmp_path, name=run, SLACK_BOT_TOKEN=slack.stub.token)
            try:
                daemon.wait_for('"cycle.done"')
                before = scrape(port)
                assert {queued, posts, posted, due} <= before.keys(), "there from the start"
                if run == "first":
                    seen = scraped_once(port, daemon, lambda s: s[posts] == 1)
                    assert seen[queued] == 1
                else:
                    seen = scraped_once(port, daemon, lambda s: s[posted] > 0)
                    assert seen[queued] == seen[posts] == 0, "queued and posted by the first"
                assert seen[due] == fired.timestamp()
                assert seen[posted] >= seen[due]
            finally:
                assert daemon.stop() == 0
        reported = [m for m in slack.stub.state.messages("reports") if m.metadata]
    assert len(reported) == 1
