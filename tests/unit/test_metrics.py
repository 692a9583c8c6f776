"""Health is judged from the time of the last successful cycle; metrics render in Prometheus text format."""

from __future__ import annotations

import ast
import platform
import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import __version__
from monitor.chatops.commands import Command, command_name
from monitor.metrics import (
    CHATOPS_COMMANDS,
    COMMAND_OUTCOMES,
    CYCLE_OUTCOMES,
    REPORT_FAILURE_STEPS,
    Health,
    Metrics,
)

START = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


@pytest.mark.parametrize(
    ("last_success", "now", "healthy"),
    [
        pytest.param(None, START + 2 * MINUTE, True, id="starting up"),
        pytest.param(None, START + 4 * MINUTE, False, id="never succeeded"),
        pytest.param(START + 5 * MINUTE, START + 7 * MINUTE, True, id="recent success"),
        pytest.param(START + 5 * MINUTE, START + 9 * MINUTE, False, id="cycles stopped succeeding"),
    ],
)
def test_health_follows_the_last_successful_cycle(
    last_success: datetime | None, now: datetime, healthy: bool
) -> None:
    health = Health(poll_interval=MINUTE, started_at=START, last_success=last_success, last_error="HTTP 503")
    ok, reason = health.check(now)
    assert ok is healthy
    if not healthy:
        assert "limit 180s" in reason
        assert "HTTP 503" in reason


def test_metrics_render_with_labels() -> None:
    metrics = Metrics(["prod"])
    metrics.api_observer("prod")("GET /v2/{project_id}/scheduled-tasks", "200")
    metrics.cycle_done("prod", "complete", seconds=0.5, finished=START)
    text = metrics.render().decode()
    endpoint = "GET /v2/{project_id}/scheduled-tasks"
    assert (
        f'workspace_monitor_api_requests_total{{endpoint="{endpoint}",project="prod",status="200"}} 1.0'
        in text
    )
    assert 'workspace_monitor_cycles_total{outcome="complete",project="prod"} 1.0' in text
    assert _value(metrics, "workspace_monitor_last_successful_cycle_timestamp_seconds", project="prod") == (
        START.timestamp()
    )


def test_api_anomalies_are_counted_apart_from_requests() -> None:
    metrics = Metrics(["prod"])
    endpoint = "GET /v2/{project_id}/scheduled-tasks"
    metrics.api_observer("prod")(endpoint, "anomaly:total_count")
    labels = {"project": "prod", "endpoint": endpoint}
    assert _value(metrics, "workspace_monitor_api_anomalies_total", kind="total_count", **labels) == 1
    assert "anomaly" not in "".join(
        line for line in metrics.render().decode().splitlines() if "api_requests_total{" in line
    )


@pytest.mark.parametrize(
    "series",
    [
        *(
            f'workspace_monitor_cycles_total{{outcome="{o}",project="{p}"}} 0.0'
            for p in ("a", "b")
            for o in CYCLE_OUTCOMES
        ),
        'workspace_monitor_cycle_duration_seconds_count{project="b"} 0.0',
        'workspace_monitor_last_successful_cycle_timestamp_seconds{project="a"} 0.0',
        'workspace_monitor_notifications_total{outcome="failed"} 0.0',
        'workspace_monitor_slack_calls_total{method="chat.postMessage",result="rate_limited"} 0.0',
        'workspace_monitor_slack_rate_limited_total{method="chat.postMessage"} 0.0',
        'workspace_monitor_slack_rate_limit_wait_seconds_total{method="chat.update"} 0.0',
        'workspace_monitor_chatops_commands_total{command="silence",outcome="refused"} 0.0',
        'workspace_monitor_chatops_commands_total{command="home",outcome="ok"} 0.0',
        'workspace_monitor_chatops_commands_total{command="retry_button",outcome="api_error"} 0.0',
        'workspace_monitor_chatops_commands_total{command="output_button",outcome="ok"} 0.0',
        'workspace_monitor_chatops_commands_total{command="report",outcome="ok"} 0.0',
        'workspace_monitor_slack_app_connected{mode="none"} 0.0',
    ],
)
def test_label_values_known_in_advance_are_there_at_zero_from_the_start(series: str) -> None:
    """`increase()` over a series that appears at its first event misses that event: the first failure."""
    assert series in Metrics(["a", "b"]).render().decode().splitlines()


@pytest.mark.parametrize(
    "series",
    [
        'workspace_monitor_reports_queued_total{report="weekly"} 0.0',
        'workspace_monitor_reports_posted_total{report="weekly"} 0.0',
        *(
            f'workspace_monitor_reports_failed_total{{report="weekly",step="{s}"}} 0.0'
            for s in REPORT_FAILURE_STEPS
        ),
        'workspace_monitor_report_last_due_timestamp_seconds{report="weekly"} 0.0',
        'workspace_monitor_report_last_posted_timestamp_seconds{report="weekly"} 0.0',
    ],
)
def test_each_configured_report_has_its_series_at_zero(series: str) -> None:
    metrics = Metrics()
    metrics.watch_reports(["weekly"])
    assert series in metrics.render().decode().splitlines()


def test_a_reports_last_posted_time_only_moves_forward() -> None:
    """The leader's look in the store (an older firing) never hides a later post of this replica."""
    metrics = Metrics()
    metrics.report_posted("weekly", START.timestamp())
    metrics.report_seen_posted("weekly", (START - MINUTE).timestamp())
    assert metrics.report_posted_at("weekly") == START.timestamp()
    assert _value(metrics, "workspace_monitor_report_last_posted_timestamp_seconds", report="weekly") == (
        START.timestamp()
    )
    assert _value(metrics, "workspace_monitor_reports_posted_total", report="weekly") == 1


def test_no_created_series() -> None:
    metrics = Metrics(["a"])
    metrics.cycle_done("a", "failed")
    assert "_created" not in metrics.render().decode()


def test_build_info_names_the_version_and_python() -> None:
    text = Metrics().render().decode()
    assert (
        f'workspace_monitor_build_info{{python="{platform.python_version()}",version="{__version__}"}} 1.0'
        in (text)
        or f'workspace_monitor_build_info{{version="{__version__}",python="{platform.python_version()}"}} 1.0'
        in text
    )


def test_a_rejected_reload_says_so_and_keeps_the_last_good_ones_time() -> None:
    metrics = Metrics()
    metrics.reloaded(True, START)
    metrics.reloaded(False, START + MINUTE)
    assert _value(metrics, "workspace_monitor_config_last_reload_successful") == 0
    assert (
        _value(metrics, "workspace_monitor_config_last_reload_timestamp_seconds")
        == (START + MINUTE).timestamp()
    )
    assert (
        _value(metrics, "workspace_monitor_config_last_reload_success_timestamp_seconds") == START.timestamp()
    )
    metrics.reloaded(True, START + 2 * MINUTE)
    assert _value(metrics, "workspace_monitor_config_last_reload_successful") == 1


def test_a_429_counts_the_call_the_rate_limit_and_the_wait_it_asked_for() -> None:
    metrics = Metrics()
    metrics.slack_call("chat.postMessage", "rate_limited", 30.0)
    metrics.slack_call("chat.postMessage", "ok", None)
    labels = {"method": "chat.postMessage"}
    assert _value(metrics, "workspace_monitor_slack_calls_total", result="rate_limited", **labels) == 1
    assert _value(metrics, "workspace_monitor_slack_calls_total", result="ok", **labels) == 1
    assert _value(metrics, "workspace_monitor_slack_rate_limited_total", **labels) == 1
    assert _value(metrics, "workspace_monitor_slack_rate_limit_wait_seconds_total", **labels) == 30.0


def test_the_app_link_is_read_at_each_scrape() -> None:
    metrics = Metrics()
    link = {"up": False}
    metrics.watch_app("socket", lambda: link["up"])
    assert _value(metrics, "workspace_monitor_slack_app_connected", mode="socket") == 0
    link["up"] = True
    assert _value(metrics, "workspace_monitor_slack_app_connected", mode="socket") == 1


@pytest.mark.parametrize("command", typing.get_args(Command))
def test_every_command_has_its_series(command: type) -> None:
    assert command_name(command.__new__(command)) in CHATOPS_COMMANDS


def _counted_names() -> set[tuple[str, str]]:
    """Every (name, value) the chatops package counts by a literal: `on_command("home", "ok")` gives
    ("command", "home") and ("outcome", "ok"); a `button="ack_button"` argument gives ("command", ...)."""
    found: set[tuple[str, str]] = set()
    for path in (Path(__file__).parents[2] / "monitor" / "chatops").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "on_command":
                for kind, arg in zip(("command", "outcome"), node.args, strict=False):
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.add((kind, arg.value))
            for keyword in node.keywords:
                value = keyword.value
                if (
                    keyword.arg == "button"
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                ):
                    found.add(("command", value.value))
    return found


def test_every_name_the_app_counts_has_its_series_from_the_start() -> None:
    """A command, button or outcome counted under a name not created at zero (the Home tab's `home` once)
    makes its first `increase()` miss, and an outcome outside COMMAND_OUTCOMES is a series nobody graphs."""
    counted = _counted_names()
    assert ("command", "home") in counted  # the scan sees the app
    assert ("outcome", "refused") in counted
    known = {("command", c) for c in CHATOPS_COMMANDS} | {("outcome", o) for o in COMMAND_OUTCOMES}
    assert counted - known == set()


def test_with_several_projects_healthz_names_the_one_that_is_stale() -> None:
    health = Health(poll_interval=MINUTE, started_at=START)
    health.watch_projects(["beijing", "shanghai"])
    for minute in range(10):
        health.succeeded("beijing", START + minute * MINUTE)
        health.failed("shanghai", "HTTP 403")
    ok, reason = health.check(START + 9 * MINUTE)
    assert not ok
    assert reason == "project shanghai: no successful cycle for 540s (limit 180s); last error: HTTP 403"


def test_with_several_projects_healthz_is_ok_while_each_succeeds() -> None:
    health = Health(poll_interval=MINUTE, started_at=START)
    health.watch_projects(["beijing", "shanghai"])
    health.succeeded("beijing", START + 5 * MINUTE)
    health.succeeded("shanghai", START + 6 * MINUTE)
    assert health.check(START + 7 * MINUTE) == (True, "ok: cycles succeed")
