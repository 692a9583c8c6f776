"""The console notifier (the daemon's output without Slack): one alert line stays one line."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from monitor.decide import DecisionKind
from monitor.notify.console import ConsoleNotifier
from monitor.store.base import MessageRef, OutboxEntry, OutboxRow, OutboxState

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def row(name: str) -> OutboxRow:
    payload = {
        "kind": "NEW",
        "severity": "critical",
        "rule": "ops",
        "task": {"id": "t-1", "name": name, "type": "REBOOT", "last_status": "FAIL"},
    }
    entry = OutboxEntry("f", 1, DecisionKind.NEW, "#ops", payload, NOW)
    return OutboxRow(1, entry, OutboxState.PENDING, 0, NOW)


async def test_lines_are_never_wrapped_at_the_console_width() -> None:
    """Under systemd stdout is the journal, and rich's width is 80: a wrapped alert would be two entries."""
    out = io.StringIO()
    notifier = ConsoleNotifier(Console(file=out, width=40))
    name = "prod-nightly-reboot-of-the-whole-fleet-in-region-ap-southeast-3"
    await notifier.update(MessageRef("f", 1, "#ops", "1.000001"), row(name))
    [line] = out.getvalue().splitlines()
    assert name in line
    assert len(line) > 40
