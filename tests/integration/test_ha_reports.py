"""A scheduled report across a leader's death: two `workspace-monitor run` replicas on one PostgreSQL state,
the leader SIGKILLed the moment it queues the report (its post still on the way to Slack): the report is in
the channel once, with one chart, a valid PNG whose numbers are the store's."""

from __future__ import annotations

import contextlib
import io
import json
import secrets
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from PIL import Image

from monitor.devtools.sim import SimOptions, SimulatorThread
from monitor.devtools.slackstub import SlackStubThread
from monitor.reports.chart import DATA_KEY
from monitor.store.postgres import PostgresStore
from tests.support.pg import schema_url
from tests.support.replicas import Cluster, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TASKS = ("prod-reboot", "prod-stop", "lab-start")
# Hourly (the most a report may be): the latest firing, within the late limit, is due at once. A week,
# against the week before.
REPORTS = textwrap.dedent(
    """\
    reports:
      - name: hourly
        channel: "#desktop-ops"
        schedule: "0 * * * *"
        days: 7
    """
)


@pytest.fixture
def cluster(postgres_server: str, tmp_path: Path) -> Iterator[Cluster]:
    with contextlib.ExitStack() as stack:
        sim = stack.enter_context(SimulatorThread(SimOptions(tasks=0, seed=9)))
        slack = stack.enter_context(SlackStubThread())
        for name in TASKS:
            fields = {"task_name": name, "last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY"}
            sim.call(sim.state.create_task, fields)
        schema = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {schema}")
        made = Cluster(
            sim, slack, schema_url(postgres_server, schema), tmp_path / schema,
            claim_lease=timedelta(seconds=5), extra_config=REPORTS,
        )  # fmt: skip
        stack.callback(made.stop)
        yield made


def report_messages(cluster: Cluster) -> dict[str, list[dict[str, Any]]]:
    """The channel's report messages, by their outbox fingerprint (`report:<key>`)."""
    snapshot = cluster.slack.call(cluster.slack.state.snapshot)
    found: dict[str, list[dict[str, Any]]] = {}
    for message in snapshot.get("desktop-ops", []):
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if str(payload.get("fingerprint", "")).startswith("report:"):
            found.setdefault(payload["fingerprint"], []).append(message)
    return found


def charts(cluster: Cluster) -> list[bytes]:
    return [f.data or b"" for f in cluster.slack.call(cluster.slack.state.files.shared)]


def test_a_report_due_as_the_leader_dies_is_posted_once(cluster: Cluster) -> None:
    # Two failing tasks: the first cycle fetches their records, which fill the run history.
    cluster.fail("prod-reboot")
    cluster.fail("prod-stop", "SKIP")
    cluster.start(2)
    leader = cluster.wait_for_leader()
    cluster.wait_for_messages(lambda m: len(m) >= 1, "the alerts")
    # The report's post takes Slack 2 s: the leader dies with it on the way (or not yet sent).
    cluster.slack.call(cluster.slack.state.faults.delay, 2.0, method="chat.postMessage")
    wait_until(
        lambda: bool(leader.events("report.queued")), "the leader to queue the report", 90, cluster.describe
    )
    leader.kill()
    key = leader.events("report.queued")[0]["key"]
    fingerprint = f"report:{key}"
    successor = cluster.wait_for_leader(timeout=cluster.lease.total_seconds() * 3)
    assert successor is not leader
    wait_until(lambda: fingerprint in report_messages(cluster) and len(charts(cluster)) >= 1,
               "the report and its chart", 60, cluster.describe)  # fmt: skip
    # The successor took the row over after the claim lease and looked in the channel first.
    wait_until(
        lambda: not _unsent(cluster, fingerprint), "the report's row recorded as sent", 30, cluster.describe
    )
    assert len(report_messages(cluster)[fingerprint]) == 1, "posted once"
    assert _sent_by(cluster, fingerprint).endswith(f":{successor.process.pid}"), "the successor delivered it"
    drawn = json.loads(_png(charts(cluster)[0]).text[DATA_KEY])  # type: ignore[attr-defined]
    assert len(charts(cluster)) == len(report_messages(cluster)), "one chart for each report"
    store = PostgresStore.open(cluster.url)
    try:
        rows = store.task_days(drawn["days"][0], "9999-12-31")
    finally:
        store.close()
    runs = {day: 0 for day in drawn["days"]}
    for row in rows:
        if row.day in runs:
            runs[row.day] += row.runs
    assert drawn["runs"] == [runs[day] for day in drawn["days"]], "the chart's numbers are the store's"
    assert sum(drawn["runs"]) > 0


def _png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG"
    return image


def _sent_by(cluster: Cluster, fingerprint: str) -> str:
    with psycopg.connect(cluster.url, autocommit=True) as db:
        row = db.execute("SELECT claimed_by FROM outbox WHERE fingerprint = %s", (fingerprint,)).fetchone()
    return str(row[0]) if row else ""


def _unsent(cluster: Cluster, fingerprint: str) -> bool:
    with psycopg.connect(cluster.url, autocommit=True) as db:
        row = db.execute(
            "SELECT count(*) FROM outbox WHERE fingerprint = %s AND state <> 'sent'", (fingerprint,)
        ).fetchone()
    return bool(row and row[0])
