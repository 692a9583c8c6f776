"""Prometheus metrics and `/healthz`, served on a small loopback HTTP endpoint (off unless configured).

    /metrics   per project: cycle duration and outcome, API requests by endpoint and status, the time of the
               last successful cycle; open alerts, outbox backlog, notifications by outcome; Slack calls by
               method and result, 429s and the waits they asked for, the /tasks app's link; chatops commands
               by name and outcome; build info; whether the last config (re)load worked, and when;
               scheduled reports (`reports:`) by name: queued, posted, failed (and at which step), when each
               was last due and last posted
    /healthz   200 while every project's cycles keep succeeding; 503 naming the project once one has not
               succeeded for 3 poll intervals, or while a probe fails (the Slack app's connection is down)

Every label value known in advance is there from the start at 0 (`cycles_total{project,outcome}`, ...), so
that `increase()` sees the first failure. No `_created` series (disable_created_metrics). The metric
names and what they mean are listed in the README's Metrics section; monitoring/ holds alerts and a
dashboard over them (a test scrapes a live daemon and checks every name they use is exposed).

The registry is the daemon's own (not prometheus_client's global one), so tests and several daemons in one
process never share counters.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from monitor import __version__
from monitor.chatops.tokens import TOKEN_ERRORS
from monitor.config import split_listen
from monitor.workspace.client import LIST_ENDPOINT

__all__ = [
    "CHATOPS_COMMANDS",
    "COMMAND_OUTCOMES",
    "CYCLE_OUTCOMES",
    "REPORT_FAILURE_STEPS",
    "SLACK_RESULTS",
    "Health",
    "Metrics",
    "start_metrics_server",
]

# `_created` series double every counter's and histogram's series count and nobody graphs them. Process-wide
# in prometheus_client (it is a module flag): this module is the only one that registers metrics.
disable_created_metrics()  # type: ignore[no-untyped-call]

PREFIX = "workspace_monitor"
CYCLE_OUTCOMES = ("complete", "incomplete", "failed")
NOTIFICATION_OUTCOMES = ("sent", "retrying", "failed")
#: What a Slack Web API call came to (`SlackNotifier._call`): ok; rate_limited (429); rejected (this message:
#: too long, bad blocks); refused (the channel or the token, for good); error (any other Slack error, 5xx);
#: network (no answer: refused connection, timeout, dropped connection, unreadable answer).
SLACK_RESULTS = ("ok", "rate_limited", "rejected", "refused", "error", "network")
#: The Slack methods the notifier calls, present at 0 from the start.
SLACK_METHODS = ("chat.postMessage", "chat.update", "conversations.history", "conversations.replies")
#: `/tasks` commands (`monitor.chatops.commands.command_name`), the alert buttons (on messages and the Home
#: tab; the Silence menu and its Custom form are `silence_button`), the Home tab's builds (`home`: each time
#: someone opens it), text that is no command.
CHATOPS_COMMANDS = (
    "help", "list_tasks", "failed", "show", "alerts", "silence", "silences", "unsilence", "ack", "status",
    "retry", "report", "ack_button", "silence_button", "retry_button", "output_button", "home", "unparsed",
)  # fmt: skip
#: ok; refused (may not change alerts, or asks what this daemon does not do: retries off, a task type with
#: no retry); invalid (not a command, or naming what is not there: an unknown time interval, silence or
#: alert, no firing alert to retry); rate_limited (too many a minute);
#: api_error / store_error (answered with the failure; api_error is also a Home tab Slack did not take).
COMMAND_OUTCOMES = ("ok", "refused", "invalid", "rate_limited", "api_error", "store_error")
#: Where a scheduled report's delivery failed (`monitor.slack.report`): post (the message did not go out: the
#: row is retried, or given up for good); chart (the chart's upload failed: retried); chart_refused (the
#: upload was refused, no files:write or uploads disabled: the message carries the numbers as a table).
REPORT_FAILURE_STEPS = ("post", "chart", "chart_refused")


class _AppLink(Collector):
    """`slack_app_connected{mode}`: read from the app when Prometheus scrapes (1 while it can answer)."""

    def __init__(self) -> None:
        self.mode = "none"
        self.connected: Callable[[], bool] = lambda: False

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            f"{PREFIX}_slack_app_connected",
            "1 while the /tasks app can answer (socket: connected to Slack; http: listening), else 0; "
            "mode none: no app, always 0",
            labels=["mode"],
        )
        family.add_metric([self.mode], 1.0 if self.connected() else 0.0)
        yield family


class Metrics:
    def __init__(self, projects: Sequence[str] = ()) -> None:
        self.registry = CollectorRegistry()
        prefix = PREFIX
        self.build_info = Gauge(
            f"{prefix}_build_info", "Always 1: the version running and its Python", ["version", "python"],
            registry=self.registry,
        )  # fmt: skip
        self.build_info.labels(version=__version__, python=platform.python_version()).set(1)
        self.poll_interval = Gauge(
            f"{prefix}_poll_interval_seconds", "workspace.poll_interval as configured now",
            registry=self.registry,
        )  # fmt: skip
        self.cycle_seconds = Histogram(
            f"{prefix}_cycle_duration_seconds",
            "Wall time of one project's poll cycle",
            ["project"],
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=self.registry,
        )
        self.cycles = Counter(
            f"{prefix}_cycles", "Poll cycles by project and outcome (complete, incomplete, failed)",
            ["project", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.api_requests = Counter(
            f"{prefix}_api_requests",
            "Workspace API requests by project, endpoint and HTTP status (or 'error' without an answer)",
            ["project", "endpoint", "status"],
            registry=self.registry,
        )
        self.api_anomalies = Counter(
            f"{prefix}_api_anomalies",
            "Workspace API answers that disagree with themselves, by kind (total_count: the count is not the "
            "number of tasks listed)",
            ["project", "endpoint", "kind"],
            registry=self.registry,
        )
        self.last_success = Gauge(
            f"{prefix}_last_successful_cycle_timestamp_seconds",
            "Unix time of the project's last cycle that completed (0 until its first)",
            ["project"],
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
        for outcome in NOTIFICATION_OUTCOMES:
            self.notifications.labels(outcome=outcome)
        self.slack_token_rejections = Counter(
            f"{prefix}_slack_token_rejections",
            "Slack refusing one of the app's tokens (app: Socket Mode's xapp-, bot: xoxb-), by error",
            ["token", "error"],
            registry=self.registry,
        )
        for token in ("app", "bot"):
            for error in sorted(TOKEN_ERRORS):
                self.slack_token_rejections.labels(token=token, error=error)
        self.slack_calls = Counter(
            f"{prefix}_slack_calls",
            "Slack Web API calls (the notifier's and the /tasks app's) by method and result ("
            + ", ".join(SLACK_RESULTS)
            + ")",
            ["method", "result"],
            registry=self.registry,
        )
        self.slack_rate_limited = Counter(
            f"{prefix}_slack_rate_limited", "Slack answers 429 (ratelimited), by method", ["method"],
            registry=self.registry,
        )  # fmt: skip
        self.slack_rate_limit_wait = Counter(
            f"{prefix}_slack_rate_limit_wait_seconds",
            "Seconds Slack's 429 answers asked to wait (Retry-After), by method",
            ["method"],
            registry=self.registry,
        )
        for method in SLACK_METHODS:
            for result in SLACK_RESULTS:
                self.slack_calls.labels(method=method, result=result)
            self.slack_rate_limited.labels(method=method)
            self.slack_rate_limit_wait.labels(method=method)
        self.app_link = _AppLink()
        self.registry.register(self.app_link)
        self.chatops_commands = Counter(
            f"{prefix}_chatops_commands",
            "/tasks commands and buttons by command and outcome (" + ", ".join(COMMAND_OUTCOMES) + ")",
            ["command", "outcome"],
            registry=self.registry,
        )
        for command in CHATOPS_COMMANDS:
            for outcome in COMMAND_OUTCOMES:
                self.chatops_commands.labels(command=command, outcome=outcome)
        self.reload_successful = Gauge(
            f"{prefix}_config_last_reload_successful",
            "1 when the last load of config and rules (start or SIGHUP) worked, 0 when it was rejected",
            registry=self.registry,
        )
        self.reload_timestamp = Gauge(
            f"{prefix}_config_last_reload_timestamp_seconds",
            "Unix time of the last load of config and rules (start or SIGHUP), whether it worked or not",
            registry=self.registry,
        )
        self.reload_success_timestamp = Gauge(
            f"{prefix}_config_last_reload_success_timestamp_seconds",
            "Unix time of the last load of config and rules that worked",
            registry=self.registry,
        )
        self.reports_queued = Counter(
            f"{prefix}_reports_queued", "Scheduled report firings queued (by the leader), by report",
            ["report"], registry=self.registry,
        )  # fmt: skip
        self.reports_posted = Counter(
            f"{prefix}_reports_posted", "Scheduled reports delivered (message and chart or table), by report",
            ["report"], registry=self.registry,
        )  # fmt: skip
        self.reports_failed = Counter(
            f"{prefix}_reports_failed",
            "Scheduled report delivery attempts that failed, by report and step ("
            + ", ".join(REPORT_FAILURE_STEPS)
            + ")",
            ["report", "step"],
            registry=self.registry,
        )
        self.report_last_due = Gauge(
            f"{prefix}_report_last_due_timestamp_seconds",
            "Unix time of the report's latest firing (its schedule) as the leader saw it (0: none yet)",
            ["report"],
            registry=self.registry,
        )
        self.report_last_posted = Gauge(
            f"{prefix}_report_last_posted_timestamp_seconds",
            "Unix time the report's latest posted firing went into its channel, posted by this replica or "
            "found in the store by the leader (0: none known)",
            ["report"],
            registry=self.registry,
        )
        #: What `report_last_posted` shows, by report (prometheus_client has no public read of a gauge).
        self._posted_at: dict[str, float] = {}
        self.watch_projects(projects)

    def watch_reports(self, names: Iterable[str]) -> None:
        """Each report's series at 0 (its names come from `reports:`, at start and on reload)."""
        for name in names:
            self.reports_queued.labels(report=name)
            self.reports_posted.labels(report=name)
            for step in REPORT_FAILURE_STEPS:
                self.reports_failed.labels(report=name, step=step)
            self.report_last_due.labels(report=name)
            self.report_last_posted.labels(report=name)

    def report_queued(self, name: str) -> None:
        self.reports_queued.labels(report=name).inc()

    def report_due(self, name: str, at: float) -> None:
        """The report's latest firing (a Unix time)."""
        self.report_last_due.labels(report=name).set(at)

    def report_posted(self, name: str, at: float) -> None:
        """A report delivered; `at`: when its message went into the channel (a Unix time)."""
        self.reports_posted.labels(report=name).inc()
        self.report_seen_posted(name, at)

    def report_seen_posted(self, name: str, at: float) -> None:
        """A firing known posted (by this replica, or found in the store): the gauge moves forward only."""
        if at > self._posted_at.get(name, 0.0):
            self._posted_at[name] = at
            self.report_last_posted.labels(report=name).set(at)

    def report_posted_at(self, name: str) -> float:
        """When the report was last known posted (0: not known)."""
        return self._posted_at.get(name, 0.0)

    def report_failed(self, name: str, step: str) -> None:
        self.reports_failed.labels(report=name, step=step).inc()

    def watch_projects(self, projects: Iterable[str]) -> None:
        """Each project's series at 0, so that its first failure counts as an increase."""
        for project in projects:
            for outcome in CYCLE_OUTCOMES:
                self.cycles.labels(project=project, outcome=outcome)
            self.cycle_seconds.labels(project=project)
            self.api_anomalies.labels(project=project, endpoint=LIST_ENDPOINT, kind="total_count")
            self.last_success.labels(project=project)

    def api_observer(self, project: str) -> Callable[[str, str], None]:
        """What a project's Workspace client calls after each request: (endpoint, status)."""

        def observe(endpoint: str, status: str) -> None:
            self.observe_api(endpoint, status, project=project)

        return observe

    def observe_api(self, endpoint: str, status: str, *, project: str = "") -> None:
        if status.startswith("anomaly:"):
            kind = status.removeprefix("anomaly:")
            self.api_anomalies.labels(project=project, endpoint=endpoint, kind=kind).inc()
            return
        self.api_requests.labels(project=project, endpoint=endpoint, status=status).inc()

    def cycle_done(self, project: str, outcome: str, *, seconds: float | None = None,
                   finished: datetime | None = None) -> None:  # fmt: skip
        """One project's cycle: its outcome; for one that finished, how long it took and when."""
        self.cycles.labels(project=project, outcome=outcome).inc()
        if seconds is not None:
            self.cycle_seconds.labels(project=project).observe(seconds)
        if finished is not None:
            self.last_success.labels(project=project).set(finished.timestamp())

    def token_rejected(self, token: str, error: str) -> None:
        self.slack_token_rejections.labels(token=token, error=error).inc()

    def slack_call(self, method: str, result: str, retry_after: float | None = None) -> None:
        """A Slack Web API call's result; a 429 with the seconds it asked to wait."""
        self.slack_calls.labels(method=method, result=result).inc()
        if result == "rate_limited":
            self.slack_rate_limited.labels(method=method).inc()
            if retry_after:
                self.slack_rate_limit_wait.labels(method=method).inc(retry_after)

    def chatops_command(self, command: str, outcome: str) -> None:
        self.chatops_commands.labels(command=command, outcome=outcome).inc()

    def watch_app(self, mode: str, connected: Callable[[], bool]) -> None:
        """The /tasks app's link, read at each scrape."""
        self.app_link.mode, self.app_link.connected = mode, connected

    def reloaded(self, ok: bool, at: datetime) -> None:
        """A load of config and rules (at start, on SIGHUP): whether it worked, and when."""
        self.reload_successful.set(1 if ok else 0)
        self.reload_timestamp.set(at.timestamp())
        if ok:
            self.reload_success_timestamp.set(at.timestamp())

    def render(self) -> bytes:
        return generate_latest(self.registry)


@dataclass
class Health:
    """Whether the daemon is doing its job; `/healthz` answers from `check(now)`.

    `last_success` and `last_error` are any project's (what `/tasks status` shows); `projects` holds each
    watched project's last success, so that one project failing every cycle fails /healthz by name while
    the others succeed."""

    poll_interval: timedelta
    started_at: datetime
    last_success: datetime | None = None
    last_error: str | None = None
    #: Other parts that must work (the Slack app's link): each says why it does not, or None.
    probes: list[Callable[[], str | None]] = field(default_factory=list)
    #: Each watched project's last successful cycle (None: none yet) and last error.
    projects: dict[str, datetime | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def watch_projects(self, names: Iterable[str]) -> None:
        for name in names:
            self.projects.setdefault(name, None)

    def succeeded(self, project: str, at: datetime) -> None:
        self.projects[project] = at
        self.errors.pop(project, None)
        self.last_success, self.last_error = at, None

    def failed(self, project: str, error: str) -> None:
        self.projects.setdefault(project, None)
        self.errors[project] = error
        self.last_error = error

    def check(self, now: datetime) -> tuple[bool, str]:
        for probe in self.probes:
            problem = probe()
            if problem is not None:
                return False, problem
        limit = 3 * self.poll_interval
        if not self.projects:
            return self._judge(now, self.last_success, self.last_error, limit)
        stale = []
        for name, last in self.projects.items():
            ok, reason = self._judge(now, last, self.errors.get(name), limit)
            if not ok:
                stale.append(f"project {name}: {reason}" if len(self.projects) > 1 else reason)
        if stale:
            return False, "; ".join(stale)
        what = "no cycle finished yet" if self.last_success is None else "cycles succeed"
        return True, f"ok: {what}"

    def _judge(
        self, now: datetime, last: datetime | None, error: str | None, limit: timedelta
    ) -> tuple[bool, str]:
        since = last or self.started_at
        if now - since <= limit:
            what = "no cycle finished yet" if last is None else "cycles succeed"
            return True, f"ok: {what}"
        silent, allowed = int((now - since).total_seconds()), int(limit.total_seconds())
        reason = f"no successful cycle for {silent}s (limit {allowed}s)"
        if error:
            reason += f"; last error: {error}"
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
