"""The shipped monitoring (monitoring/): the alert rules pass `promtool check rules` and their unit tests
(`promtool test rules`), and every metric an alert or a dashboard panel names is one a live daemon exposes.

promtool comes with Debian's `prometheus` package; without it the promtool tests are skipped, except in CI
(.ci/run sets WORKSPACE_MONITOR_REQUIRE_PROMTOOL=1 and installs the package), where they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.daemon import DaemonProcess, free_port, simulator_with, write_config

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"
ALERTS = MONITORING / "alerts.yaml"
DASHBOARD = MONITORING / "dashboard.json"
#: A report, so that the report series are there (each report configured has them at 0 from the start).
REPORTS = 'reports:\n  - name: weekly\n    channel: "#ops"\n    schedule: "0 9 1 1 *"\n'
#: Series Prometheus records itself for each scrape, not the daemon.
SCRAPE_SERIES = frozenset({"up"})
_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
                       "bool", "offset", "inf", "nan"})  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or a Grafana `label_values(metric, label)` query) reads."""
    values = re.fullmatch(r"\s*label_values\(\s*([A-Za-z_:][\w:]*)\s*(?:\{[^}]*\})?\s*,\s*\w+\s*\)\s*", expr)
    if values:
        return {values.group(1)}
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (label values, regexes)
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges and subqueries
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)  # label lists
    expr = re.sub(r"\$\{?\w+\}?", "", expr)  # Grafana variables ($__rate_interval)
    names = set()
    for found in re.finditer(r"(?<![\w.])[A-Za-z_:][\w:]*", expr):
        if expr[found.end() :].lstrip().startswith("(") or found.group().lower() in _KEYWORDS:
            continue  # a function, or an operator's keyword
        names.add(found.group())
    return names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('up{job="workspace-monitor"} == 0', {"up"}),
        (
            'sum by (job, project) (rate(a_total{outcome="failed"}[15m])) / sum by (job) (rate(a_total[15m]))'
            " > 0.5",
            {"a_total"},
        ),
        (
            "time() - last_seconds > on (job, instance) group_left 3 * interval_seconds",
            {"last_seconds", "interval_seconds"},
        ),
        ('histogram_quantile(0.95, sum by (le) (rate(d_bucket{x=~"$x"}[$__rate_interval])))', {"d_bucket"}),
        ("ts_seconds * 1000 offset 5m > 1e3", {"ts_seconds"}),
        ('label_values(build_info{job=~"$job"}, instance)', {"build_info"}),
        ("min_over_time(backlog[15m]) > 0 and deriv(backlog[15m]) > 0 unless bool x", {"backlog", "x"}),
    ],
)
def test_metric_names_are_read_from_an_expression(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def alert_expressions() -> Iterator[tuple[str, str]]:
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        for rule in group["rules"]:
            yield rule.get("alert") or rule["record"], rule["expr"]


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            yield f"${variable['name']}", query["query"] if isinstance(query, dict) else query


def exposed_names(text: str) -> set[str]:
    return {re.split(r"[{ ]", line, maxsplit=1)[0] for line in text.splitlines() if line and line[0] != "#"}


def test_every_metric_the_alerts_and_the_dashboard_name_is_one_a_live_daemon_exposes(tmp_path: Path) -> None:
    """Scraped right after the daemon's first cycle: every series they read is there from the start (label
    values known in advance are pre-set at 0: the configured report's too), not only once something went
    wrong."""
    port = free_port()
    with simulator_with("prod-reboot") as sim:
        write_config(tmp_path, sim.base_url, extra=f"metrics:\n  listen: {port}\n{REPORTS}")
        daemon = DaemonProcess(tmp_path)
        try:
            daemon.wait_for('"cycle.done"')
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
                exposed = exposed_names(answer.read().decode())
        finally:
            assert daemon.stop() == 0
    used = [*alert_expressions(), *dashboard_expressions()]
    assert len(used) > 20
    missing = {
        f"{where}: {name}"
        for where, expr in used
        for name in metric_names(expr)
        if name not in exposed and name not in SCRAPE_SERIES
    }
    assert not missing, sorted(missing)
    assert {name for _, expr in used for name in metric_names(expr)} >= {
        "workspace_monitor_config_last_reload_successful",
        "workspace_monitor_slack_app_connected",
        "workspace_monitor_last_successful_cycle_timestamp_seconds",
        "workspace_monitor_report_last_due_timestamp_seconds",
        "workspace_monitor_reports_failed_total",
    }


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("WORKSPACE_MONITOR_REQUIRE_PROMTOOL") == "1":
            pytest.fail(
                "promtool is missing: apt-get install prometheus (WORKSPACE_MONITOR_REQUIRE_PROMTOOL=1)"
            )
        pytest.skip("promtool is missing (apt-get install prometheus)")
    return found


@pytest.mark.parametrize(
    "command",
    [["check", "rules", "alerts.yaml"], ["test", "rules", "alerts_test.yaml"]],
    ids=lambda command: " ".join(command[:2]),
)
def test_promtool_passes_the_alert_rules(command: list[str]) -> None:
    result = subprocess.run(
        [promtool(), *command], cwd=MONITORING, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
