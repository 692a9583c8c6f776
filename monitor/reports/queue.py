"""Reports out of the store: `report_payload` builds one (for a firing, or for `/tasks report` on demand),
`queue_due` queues each firing once as an outbox row to the `report` receiver (monitor.slack.report).

The leader runs `queue_due` every minute. A firing's key goes into the store in the same transaction as its
outbox row (`Store.queue_report`), behind the leadership term (PostgreSQL), so across restarts and failover
each firing is queued once; the dispatcher then sends it as it sends alerts (claimed, retried, and looked
for in the channel before a resend).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

import structlog

from monitor.config import ReportSettings
from monitor.decide import DecisionKind
from monitor.reports.build import Scope, build_report, period_days
from monitor.reports.schedule import cron_trigger, latest_fire, period_end, report_key
from monitor.rules.index import RuleSet
from monitor.store.base import OutboxEntry, Store

__all__ = ["REPORT_CHANNEL_PREFIX", "Firing", "latest_firings", "queue_due", "report_payload", "scope_of"]

log = structlog.get_logger(__name__)

#: Report rows go to the `report` receiver (notify.dispatch routes by a channel's `kind:`).
REPORT_CHANNEL_PREFIX = "report:"


def scope_of(report: ReportSettings) -> Scope:
    return Scope(rules=report.scope.rules, tasks=report.scope.tasks, projects=report.scope.projects)


def report_payload(
    store: Store, ruleset: RuleSet | None, *, name: str, end: date, days: int, scope: Scope
) -> dict[str, Any]:
    """The report of the `days` days before `end`, from the store's run history and open alerts."""
    before, first, end_day = period_days(end, days)
    # The period day by day (the daily series), the period before per task (its totals are all it shows).
    rows = [*store.task_totals(before, first), *store.task_days(first, end_day)]
    open_alerts = store.load_open_alerts().values()
    return build_report(
        name=name, end=end, days=days, rows=rows, ruleset=ruleset, open_alerts=open_alerts, scope=scope
    )


class Firing(NamedTuple):
    """A report's latest firing: what is due now (queued once, under `key`)."""

    report: ReportSettings
    fire: datetime
    key: str

    @property
    def fingerprint(self) -> str:
        """Its outbox row's fingerprint (what the receiver's memo and the crash check know it by)."""
        return f"report:{self.key}"


def latest_firings(reports: Sequence[ReportSettings], now: datetime) -> list[Firing]:
    """Each report's latest firing within the late limit (`schedule.latest_fire`); none for a report whose
    latest is older."""
    firings = []
    for report in reports:
        fire = latest_fire(cron_trigger(report.schedule, report.zone), now)
        if fire is not None:
            firings.append(Firing(report, fire, report_key(report.name, fire)))
    return firings


def queue_due(
    store: Store, reports: Sequence[ReportSettings], ruleset: RuleSet | None, now: datetime
) -> list[str]:
    """Queue every report whose latest firing is not queued yet; the keys queued now."""
    queued = []
    for firing in latest_firings(reports, now):
        report, fire, key = firing
        if store.report_queued(key):
            continue
        payload = report_payload(
            store, ruleset, name=report.name, end=period_end(fire), days=report.days, scope=scope_of(report)
        )
        payload["key"] = key
        entry = OutboxEntry(
            fingerprint=firing.fingerprint,
            episode=0,
            kind=DecisionKind.REPORT,
            channel=REPORT_CHANNEL_PREFIX + report.channel,
            payload=payload,
            created_at=now,
            group_key=firing.fingerprint,
        )
        if store.queue_report(key, entry):
            log.info("report.queued", report=report.name, key=key, runs=payload["totals"]["runs"])
            queued.append(key)
    return queued
