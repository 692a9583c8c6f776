"""Health is judged from the time of the last successful cycle; metrics render in Prometheus text format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.metrics import Health, Metrics

START = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


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
    metrics = Metrics()
    metrics.observe_api("GET /v2/{project_id}/scheduled-tasks", "200")
    metrics.cycles.labels(outcome="complete").inc()
    text = metrics.render().decode()
    endpoint = "GET /v2/{project_id}/scheduled-tasks"
    assert f'workspace_monitor_api_requests_total{{endpoint="{endpoint}",status="200"}} 1.0' in text
    assert 'workspace_monitor_cycles_total{outcome="complete"} 1.0' in text


def test_api_anomalies_are_counted_apart_from_requests() -> None:
    metrics = Metrics()
    metrics.observe_api("GET /v2/{project_id}/scheduled-tasks", "anomaly:total_count")
    text = metrics.render().decode()
    assert (
        'workspace_monitor_api_anomalies_total{endpoint="GET /v2/{project_id}/scheduled-tasks",'
        'kind="total_count"} 1.0' in text
    )
    assert "anomaly" not in "".join(line for line in text.splitlines() if "api_requests_total{" in line)
