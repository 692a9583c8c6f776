"""A report as a Slack message (monitor.slack.report): valid Block Kit within its limits, task names and rule
names escaped (a task called `<!channel>` pings nobody), open alerts dated for each reader, the table when
asked for, the report's outbox fingerprint in its metadata."""

from __future__ import annotations

import json

from monitor.reports.build import build_report
from monitor.slack.report import render_report, report_table
from tests.support.slack import assert_valid
from tests.unit.test_reports_build import END, ROWS, RULES, day, opened

HOSTILE = "<!channel> *bold* `x` & co"


def report_with_hostile_names() -> dict[str, object]:
    rows = [*ROWS, day(HOSTILE, "2026-03-04", 3, fails=3)]
    return build_report(
        name="weekly", end=END, days=7, rows=rows, ruleset=RULES, open_alerts=[opened(HOSTILE)]
    )


def test_a_report_is_valid_block_kit_and_escapes_names() -> None:
    message = render_report(report_with_hostile_names(), fingerprint="report:weekly@x", table=True)
    assert_valid(message)
    text = json.dumps(message.blocks)
    assert "<!channel>" not in text
    assert "&lt;!channel&gt;" in text
    assert message.metadata == {
        "event_type": "workspace_monitor_alert",
        "event_payload": {"fingerprint": "report:weekly@x", "episode": 0, "kind": "REPORT"},
    }


def test_open_alerts_are_dated_for_each_reader() -> None:
    text = json.dumps(render_report(report_with_hostile_names()).blocks)
    assert "<!date^1772668800^{date_short_pretty} {time}|" in text  # 2026-03-05 00:00 UTC


def test_the_table_is_added_only_when_asked_for() -> None:
    report = report_with_hostile_names()
    assert "day         runs  success" not in json.dumps(render_report(report).blocks)
    assert report_table(report).startswith("```day         runs  success\n2026-03-02      2   50.0%")
