"""A scheduled report, from the store to the Slack stand-in: queued once per firing, posted as one message
(found again after a lost answer), its chart uploaded as a valid PNG whose numbers are the store's; a text
table instead when the upload is refused."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from monitor.config import ReportSettings
from monitor.devtools.slackstub import SlackStubOptions, start_slack_stub
from monitor.devtools.slackstub.options import DEFAULT_SCOPES
from monitor.devtools.slackstub.runner import SlackStub
from monitor.history import Sighting
from monitor.notify.dispatch import Dispatcher
from monitor.reports.chart import DATA_KEY
from monitor.reports.queue import queue_due
from monitor.rules.load import load_rules_text
from monitor.slack.notifier import SlackNotifier
from monitor.slack.report import ReportNotifier
from monitor.store import SQLiteStore

FIRE = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin
REPORT = ReportSettings.model_validate(
    {"name": "weekly", "channel": "#desktop-ops", "schedule": "0 9 * * mon", "zone": "Europe/Berlin"}
)
RULES = load_rules_text('rules:\n  - name: prod\n    channel: "#desktop-ops"\n', "rules.yaml")


def history(store: SQLiteStore) -> None:
    """Three tasks' runs over the week before FIRE: one record a day each, the reboot failing on Mondays."""
    sightings = []
    for number, (name, kind) in enumerate(
        (("prod-reboot", "REBOOT"), ("prod-stop", "STOP"), ("lab", "START"))
    ):
        runs = []
        for day in range(1, 10):
            at = FIRE - timedelta(days=day, hours=number)
            status = (
                "FAIL"
                if kind == "REBOOT" and at.weekday() == 0
                else "SKIP"
                if day == 3 and kind == "STOP"
                else "SUCCESS"
            )
            runs.append((at, status))
        sightings.append(
            Sighting(f"id-{name}", name, kind, FIRE + timedelta(hours=20), "SUCCESS", UTC, tuple(runs))
        )
    store.record_runs("p", sightings, FIRE - timedelta(minutes=5))


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    opened = SQLiteStore.open(tmp_path / "state.db")
    history(opened)
    return opened


async def deliver(stub: SlackStub, store: SQLiteStore, at: datetime = FIRE + timedelta(minutes=5)) -> None:
    slack = SlackNotifier(stub.client(retry_handlers=[]), per_channel_interval=0)
    dispatcher = Dispatcher(store, slack, claimer="t", receivers=[ReportNotifier(slack)], clock=lambda: at)
    await dispatcher.flush()


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    async with start_slack_stub(SlackStubOptions()) as running:
        yield running


def drawn(stub: SlackStub) -> dict[str, Any]:
    [upload] = stub.state.files.shared()
    assert upload.data is not None
    image = Image.open(io.BytesIO(upload.data))
    image.load()
    assert image.format == "PNG"
    return json.loads(image.text[DATA_KEY])  # type: ignore[attr-defined,no-any-return]


def per_day(store: SQLiteStore, first: str, end: str) -> dict[str, tuple[int, int]]:
    days: dict[str, tuple[int, int]] = {}
    for row in store.task_days(first, end):
        runs, bad = days.get(row.day, (0, 0))
        days[row.day] = (runs + row.runs, bad + row.fails + row.skips)
    return days


def rates(days: dict[str, tuple[int, int]], order: Sequence[str]) -> list[float | None]:
    return [None if d not in days else round((days[d][0] - days[d][1]) / days[d][0] * 100, 2) for d in order]


async def test_a_due_report_is_posted_once_with_its_chart(stub: SlackStub, store: SQLiteStore) -> None:
    assert queue_due(store, [REPORT], RULES, FIRE + timedelta(minutes=1)) == ["weekly@2026-03-09T09:00+01:00"]
    assert queue_due(store, [REPORT], RULES, FIRE + timedelta(minutes=2)) == [], (
        "the same firing: queued once"
    )
    await deliver(stub, store)
    await deliver(stub, store)
    [message] = stub.state.messages("#desktop-ops")[:1]
    assert "Report weekly" in message.text
    assert message.metadata is not None
    assert message.metadata["event_payload"]["fingerprint"] == "report:weekly@2026-03-09T09:00+01:00"
    chart = drawn(stub)
    assert len(stub.state.messages("#desktop-ops")) == 2, "the message, then its chart"
    days = per_day(store, "2026-03-02", "2026-03-09")
    assert chart["days"] == [f"2026-03-0{d}" for d in range(2, 9)]
    assert chart["runs"] == [days.get(d, (0, 0))[0] for d in chart["days"]]
    assert chart["success_rate"] == rates(days, chart["days"])
    assert dict(zip(chart["task_types"], chart["failures"], strict=True)) == {
        "REBOOT": 1,
        "STOP": 1,
        "START": 0,
    }


async def test_a_report_posted_whose_answer_was_lost_is_not_posted_again(store: SQLiteStore) -> None:
    """The retry (marked maybe-delivered) looks in the channel's history and finds the report there."""
    async with start_slack_stub(SlackStubOptions()) as stub:
        stub.state.faults.taken_reset(method="chat.postMessage")
        queue_due(store, [REPORT], RULES, FIRE)
        await deliver(stub, store)
        assert len(stub.state.messages("#desktop-ops")) == 1, "posted, the answer lost"
        assert stub.state.files.shared() == []
        await deliver(stub, store, at=FIRE + timedelta(minutes=20))
        messages = stub.state.messages("#desktop-ops")
    assert len(messages) == 2, "the report once, then its chart"
    assert messages[1].files


async def test_a_refused_upload_leaves_the_numbers_as_a_table(store: SQLiteStore) -> None:
    async with start_slack_stub(SlackStubOptions(scopes=DEFAULT_SCOPES - {"files:write"})) as stub:
        queue_due(store, [REPORT], RULES, FIRE)
        await deliver(stub, store)
        [message] = stub.state.messages("#desktop-ops")
        assert stub.state.files.shared() == []
    table = json.dumps(message.blocks)
    assert "day         runs  success" in table
    assert "2026-03-08" in table
