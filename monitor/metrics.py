"""Prometheus metrics and `/healthz`, served on a small loopback HTTP endpoint (off unless configured).

    /metrics   cycle duration and outcome, API requests by endpoint and status, open alerts, outbox backlog,
               notifications by outcome, the time of the last successful cycle
    /healthz   200 while cycles keep succeeding; 503 with the reason once none has for 3 poll intervals,
               or while a probe fails (the Slack app's connection is down)

The registry is the daemon's own (not prometheus_client's global one), so tests and several daemons in one
process never share counters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from monitor.config import split_listen

__all__ = ["Health", "Metrics", "start_metrics_server"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        prefix = "workspace_monitor"
        self.cycle_seconds = Histogram(
            f"{prefix}_cycle_duration_seconds",
            "Wall time of one poll cycle",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=self.registry,
        )
        self.cycles = Counter(
            f"{prefix}_cycles", "Poll cycles by outcome (complete, incomplete, failed)", ["outcome"],
            registry=self.registry,
        )  # fmt: skip
        self.api_requests = Counter(
            f"{prefix}_api_requests",
            "Workspace API requests by endpoint and HTTP status (or 'error' without an answer)",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.api_anomalies = Counter(
            f"{prefix}_api_anomalies",
            "Workspace API answers that disagree with themselves, by kind (total_count: the count is not the "
            "number of tasks listed)",
            ["endpoint", "kind"],
            registry=self.registry,
        )
        self.open_alerts = Gauge(f"{prefix}_open_alerts", "Alerts pending or firing", registry=self.registry)
        self.outbox_backlog = Gauge(
            f"{prefix}_outbox_backlog", "Notifications due and not yet delivered", registry=self.registry
        )
        self.notifications = Counter(
            f"{prefix}_notifications", "Notifications by outcome (sent, retrying, failed)", ["outcome"],
            registry=self.registry,
        )  # fmt: skip
        self.slack_token_rejections = Counter(
            f"{prefix}_slack_token_rejections",
            "Slack refusing one of the app's tokens (app: Socket Mode's xapp-, bot: xoxb-), by error",
            ["token", "error"],
            registry=self.registry,
        )
        self.last_success = Gauge(
            f"{prefix}_last_successful_cycle_timestamp_seconds",
            "Unix time of the last cycle that completed",
            registry=self.registry,
        )

    def observe_api(self, endpoint: str, status: str) -> None:
        if status.startswith("anomaly:"):
            self.api_anomalies.labels(endpoint=endpoint, kind=status.removeprefix("anomaly:")).inc()
            return
        self.api_requests.labels(endpoint=endpoint, status=status).inc()

    def token_rejected(self, token: str, error: str) -> None:
        self.slack_token_rejections.labels(token=token, error=error).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


@dataclass
class Health:
    """Whether the daemon is doing its job; `/healthz` answers from `check(now)`."""

    poll_interval: timedelta
    started_at: datetime
    last_success: datetime | None = None
    last_error: str | None = None
    #: Other parts that must work (the Slack app's link): each says why it does not, or None.
    probes: list[Callable[[], str | None]] = field(default_factory=list)

    def check(self, now: datetime) -> tuple[bool, str]:
        for probe in self.probes:
            problem = probe()
            if problem is not None:
                return False, problem
        limit = 3 * self.poll_interval
        since = self.last_success or self.started_at
        if now - since <= limit:
            what = "no cycle finished yet" if self.last_success is None else "cycles succeed"
            return True, f"ok: {what}"
        silent, allowed = int((now - since).total_seconds()), int(limit.total_seconds())
        reason = f"no successful cycle for {silent}s (limit {allowed}s)"
        if self.last_error:
            reason += f"; last error: {self.last_error}"
        return False, reason


def _now() -> datetime:
    return datetime.now(UTC)


def build_app(metrics: Metrics, health: Health, clock: Callable[[], datetime] = _now) -> web.Application:
    async def serve_metrics(_request: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def serve_health(_request: web.Request) -> web.Response:
        ok, reason = health.check(clock())
        return web.Response(status=200 if ok else 503, text=reason + "\n")

    app = web.Application()
    app.router.add_get("/metrics", serve_metrics)
    app.router.add_get("/healthz", serve_health)
    return app


async def start_metrics_server(listen: str, metrics: Metrics, health: Health) -> web.AppRunner:
    """Serve on `host:port` (a bare port means loopback). Stop it with `await runner.cleanup()`."""
    host, port = split_listen(listen)
    runner = web.AppRunner(build_app(metrics, health), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host or "127.0.0.1", port).start()
    return runner
