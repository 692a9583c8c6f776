"""A report's numbers (monitor.reports.build) from daily summary rows, and its chart (a valid PNG carrying
the numbers it draws)."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

from PIL import Image

from monitor.decide import AlertState, AlertStatus
from monitor.history import TaskDay
from monitor.reports.build import Scope, build_report, period_days, rate
from monitor.reports.chart import DATA_KEY, chart_data, render_chart
from monitor.rules.load import load_rules_text

END = date(2026, 3, 9)  # a Monday: the week before is 03-02 .. 03-08
RULES = load_rules_text(
    'rules:\n  - name: prod\n    match: {task_name: "prod-*"}\n  - name: rest\n', "rules.yaml"
)


def day(task: str, on: str, runs: int, fails: int = 0, skips: int = 0, kind: str = "REBOOT") -> TaskDay:
    return TaskDay("p", f"id-{task}", on, kind, task, runs, fails, skips)


def opened(task: str, rule: str = "prod", last_status: str = "FAIL") -> AlertState:
    at = datetime(2026, 3, 5, tzinfo=UTC)
    return AlertState(
        f"fp-{task}", rule, "p", f"id-{task}", task, AlertStatus.FIRING, 1, last_status, None, None, 1, 1,
        at, at, at, 1, last_status, None, None, "failing",
    )  # fmt: skip


ROWS = [
    day("prod-reboot", "2026-02-24", 4, fails=2),  # the week before
    day("prod-reboot", "2026-03-02", 2, fails=1),
    day("prod-reboot", "2026-03-03", 2),
    day("prod-stop", "2026-03-03", 4, skips=1, kind="STOP"),
    day("lab-start", "2026-03-08", 10, fails=5, kind="START"),
    day("lab-start", "2026-03-09", 10, fails=10, kind="START"),  # the end day: not in the period
]


def test_period_days() -> None:
    assert period_days(END, 7) == ("2026-02-23", "2026-03-02", "2026-03-09")


def test_rate_is_none_without_runs() -> None:
    assert (rate(0, 0, 0), rate(4, 1, 1)) == (None, 0.5)


def test_totals_against_the_period_before() -> None:
    report = build_report(name="weekly", end=END, days=7, rows=ROWS, ruleset=RULES, open_alerts=())
    assert report["totals"] == {"runs": 18, "fails": 6, "skips": 1, "rate": 0.6111, "previous_rate": 0.5}


def test_per_task_type_and_per_rule() -> None:
    report = build_report(name="weekly", end=END, days=7, rows=ROWS, ruleset=RULES, open_alerts=())
    assert [(t["name"], t["runs"], t["rate"], t["previous_rate"]) for t in report["by_type"]] == [
        ("REBOOT", 4, 0.75, 0.5),
        ("START", 10, 0.5, None),
        ("STOP", 4, 0.75, None),
    ]
    assert [(r["name"], r["runs"], r["rate"]) for r in report["by_rule"]] == [
        ("prod", 8, 0.75),
        ("rest", 10, 0.5),
    ]


def test_top_failing_tasks_most_failures_first() -> None:
    report = build_report(name="weekly", end=END, days=7, rows=ROWS, ruleset=RULES, open_alerts=())
    assert [(t["task_name"], t["fails"] + t["skips"]) for t in report["top_failing"]] == [
        ("lab-start", 5),
        ("prod-reboot", 1),
        ("prod-stop", 1),
    ]


def test_scope_by_rule_glob_and_project() -> None:
    by_rule = build_report(name="w", end=END, days=7, rows=ROWS, ruleset=RULES, open_alerts=(),
                           scope=Scope(rules=("prod",)))  # fmt: skip
    assert (by_rule["totals"]["runs"], [r["name"] for r in by_rule["by_rule"]]) == (8, ["prod"])
    by_glob = build_report(name="w", end=END, days=7, rows=ROWS, ruleset=RULES, open_alerts=(),
                           scope=Scope(tasks=("lab-*",)))  # fmt: skip
    assert by_glob["totals"]["runs"] == 10
    elsewhere = build_report(name="w", end=END, days=7, rows=ROWS, ruleset=RULES, open_alerts=(),
                             scope=Scope(projects=("other",)))  # fmt: skip
    assert elsewhere["totals"]["runs"] == 0
    assert elsewhere["totals"]["rate"] is None


def test_open_and_overdue_alerts_in_scope() -> None:
    alerts = [opened("prod-reboot"), opened("prod-stop", last_status="OVERDUE"), opened("lab-start", "rest")]
    report = build_report(name="w", end=END, days=7, rows=ROWS, ruleset=RULES, open_alerts=alerts,
                          scope=Scope(rules=("prod",)))  # fmt: skip
    assert report["open_alerts"]["count"] == 2
    assert [a["task_name"] for a in report["overdue"]["items"]] == ["prod-stop"]


def test_every_day_of_the_period_is_in_the_series() -> None:
    report = build_report(name="w", end=END, days=7, rows=ROWS, ruleset=RULES, open_alerts=())
    assert [(d["day"], d["runs"], d["rate"]) for d in report["daily"]] == [
        ("2026-03-02", 2, 0.5), ("2026-03-03", 6, 0.8333), ("2026-03-04", 0, None), ("2026-03-05", 0, None),
        ("2026-03-06", 0, None), ("2026-03-07", 0, None), ("2026-03-08", 10, 0.5),
    ]  # fmt: skip


def test_the_chart_is_a_png_carrying_what_it_draws() -> None:
    report = build_report(name="weekly", end=END, days=7, rows=ROWS, ruleset=RULES, open_alerts=())
    image = Image.open(io.BytesIO(render_chart(report)))
    image.load()
    assert (image.format, image.size) == ("PNG", (1000, 400))
    drawn = json.loads(image.text[DATA_KEY])  # type: ignore[attr-defined]
    assert drawn == chart_data(report)
    assert drawn["success_rate"][:2] == [50.0, 83.33]
    assert dict(zip(drawn["task_types"], drawn["failures"], strict=True)) == {
        "START": 5,
        "REBOOT": 1,
        "STOP": 1,
    }


def test_the_period_before_may_come_as_totals_per_task() -> None:
    """The store hands the period before as one row per task (Store.task_totals): the same report."""
    before = [r for r in ROWS if r.day < "2026-03-02"]
    totals = [TaskDay("p", "id-prod-reboot", "2026-02-23", "REBOOT", "prod-reboot",
                      sum(r.runs for r in before), sum(r.fails for r in before), 0)]  # fmt: skip
    rows = [*totals, *(r for r in ROWS if r.day >= "2026-03-02")]
    by_day = build_report(name="w", end=END, days=7, rows=ROWS, ruleset=RULES, open_alerts=())
    assert build_report(name="w", end=END, days=7, rows=rows, ruleset=RULES, open_alerts=()) == by_day
