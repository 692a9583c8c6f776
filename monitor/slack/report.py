"""Reports in Slack: the message (`render_report`), its text table (`report_table`), and the `report`
receiver that posts them (`ReportNotifier`, the dispatcher's receiver for `report:<channel>` rows).

    1. chat.postMessage: the report (metadata names its outbox fingerprint, so the crash check finds it)
    2. the chart, uploaded in three steps (files.getUploadURLExternal, a POST of the PNG to the URL it gives,
       files.completeUploadExternal sharing it in the channel right after the message); scope files:write
    3. upload refused (no files:write, uploads disabled by the workspace's admins): the message is edited to
       carry the chart's numbers as a text table instead

Each step done is remembered in the receiver's memo (the store's meta table, shared by replicas), so a retry
or a new leader goes on from where the last attempt stopped instead of posting again; a post whose answer
was lost is looked up in the channel's history (`SlackNotifier.find_posted`). Without Slack (the console),
the report is logged as text.

What came of each report is told to a `ReportObserver` (the metrics): posted once its row is done (when its
message went in), failed by step (post, chart, chart_refused: `monitor.metrics.REPORT_FAILURE_STEPS`).
`posted_time` reads the memo for the leader, so a restarted or new leader knows a firing went out already.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import structlog
from slack_sdk.errors import SlackRequestError

from monitor.notify.dispatch import (
    Delivered,
    Memo,
    Notification,
    PermanentDeliveryError,
    Record,
    RetryableDeliveryError,
)
from monitor.reports.chart import chart_data, render_chart
from monitor.slack.blocks import Block, context, header, section
from monitor.slack.message import EVENT_TYPE, SlackMessage
from monitor.slack.mrkdwn import iso_epoch, slack_date, user_text
from monitor.slack.notifier import SlackNotifier
from monitor.store.base import Store

__all__ = [
    "ReportNotifier",
    "ReportObserver",
    "posted_time",
    "render_report",
    "report_table",
    "report_text",
]

log = structlog.get_logger(__name__)

_NAME = 80
_LINES = 10


def _percent(value: object) -> str:
    return "n/a" if not isinstance(value, int | float) else f"{value * 100:.1f}%"


def _trend(item: Mapping[str, Any]) -> str:
    now, before = item.get("rate"), item.get("previous_rate")
    if not isinstance(now, int | float) or not isinstance(before, int | float):
        return ""
    change = (now - before) * 100
    mark = "▲" if change > 0.05 else "▼" if change < -0.05 else "="
    return f" ({mark} {abs(change):.1f} pts from {_percent(before)})"


def _rates(title: str, items: Sequence[Mapping[str, Any]]) -> str:
    lines = [f"*{title}*"]
    for item in items[:_LINES]:
        name = user_text(item.get("name") or "?", _NAME, code=True)
        lines.append(f"`{name}` {item.get('runs', 0)} runs, {_percent(item.get('rate'))}{_trend(item)}")
    if len(items) > _LINES:
        lines.append(f"and {len(items) - _LINES} more")
    if len(lines) == 1:
        lines.append("no runs")
    return "\n".join(lines)


def _alert_lines(title: str, alerts: Mapping[str, Any]) -> str:
    items = alerts.get("items") or []
    lines = [f"*{title}: {alerts.get('count', 0)}*"]
    for item in items:
        name = user_text(item.get("task_name") or item.get("task_id") or "?", _NAME)
        rule = user_text(item.get("rule") or "?", _NAME, code=True)
        epoch = iso_epoch(item.get("since"))
        since = slack_date(epoch) if epoch is not None else "?"
        lines.append(f"• {name} (rule `{rule}`) since {since}")
    if int(alerts.get("count", 0)) > len(items):
        lines.append(f"and {int(alerts.get('count', 0)) - len(items)} more")
    return "\n".join(lines)


def _period(report: Mapping[str, Any]) -> str:
    return f"{report.get('first', '?')} to {report.get('last', '?')}"


def render_report(report: Mapping[str, Any], *, fingerprint: str = "", table: bool = False) -> SlackMessage:
    """The report as one message; `table` adds the chart's numbers as text (when the chart cannot go)."""
    totals = report.get("totals") or {}
    name = str(report.get("report") or "report")
    blocks: list[Block] = [
        header(f"Report {name}: {report.get('days', '?')} days"),
        context(f"{_period(report)}, against the {report.get('days', '?')} days before"),
        section(
            f"*{totals.get('runs', 0)}* runs, *{_percent(totals.get('rate'))}* succeeded{_trend(totals)}; "
            f"{totals.get('fails', 0)} failed, {totals.get('skips', 0)} skipped"
        ),
        section(_rates("Per task type", report.get("by_type") or [])),
        section(_rates("Per rule", report.get("by_rule") or [])),
    ]
    failing = report.get("top_failing") or []
    if failing:
        lines = ["*Top failing tasks*"]
        for item in failing:
            task = user_text(item.get("task_name") or item.get("task_id") or "?", _NAME)
            bad = int(item.get("fails", 0)) + int(item.get("skips", 0))
            lines.append(f"• {task}: {bad} of {item.get('runs', 0)} runs failed or skipped")
        blocks.append(section("\n".join(lines)))
    blocks.append(section(_alert_lines("Alerts still open", report.get("open_alerts") or {})))
    overdue = report.get("overdue") or {}
    if overdue.get("count"):
        blocks.append(section(_alert_lines("Overdue tasks", overdue)))
    if table:
        blocks.append(section(report_table(report)))
    text = (
        f"Report {name}, {_period(report)}: {totals.get('runs', 0)} runs, "
        f"{_percent(totals.get('rate'))} succeeded"
    )
    metadata = {"event_type": EVENT_TYPE, "event_payload": {"fingerprint": fingerprint, "episode": 0,
                                                            "kind": "REPORT"}}  # fmt: skip
    return SlackMessage(text=text, blocks=blocks, metadata=metadata if fingerprint else None)


def report_table(report: Mapping[str, Any]) -> str:
    """What the chart draws, as a text table in a code block."""
    data = chart_data(report)
    lines = ["day         runs  success"]
    for day, runs, rate in zip(data["days"], data["runs"], data["success_rate"], strict=True):
        shown = "   n/a" if rate is None else f"{rate:5.1f}%"
        lines.append(f"{day}  {runs:5d}  {shown}")
    lines.append("")
    lines.append("task type          failures")
    for kind, failures in zip(data["task_types"], data["failures"], strict=True):
        lines.append(f"{str(kind)[:18]:<18} {failures:8d}")
    body = "\n".join(lines).replace("`", "'")
    return "```" + user_text(body, 2900, one_line=False, code=True) + "```"


def report_text(report: Mapping[str, Any]) -> str:
    """The report as plain lines (the console, a log)."""
    totals = report.get("totals") or {}
    return (
        f"report {report.get('report')}: {_period(report)}: {totals.get('runs', 0)} runs, "
        f"{_percent(totals.get('rate'))} succeeded ({totals.get('fails', 0)} failed, "
        f"{totals.get('skips', 0)} skipped)"
    )


class ReportObserver(Protocol):
    """Told what came of each report (`monitor.metrics.Metrics` is one)."""

    def report_posted(self, name: str, at: float) -> None:
        """Report `name` delivered; its message went into the channel at `at` (a Unix time)."""

    def report_failed(self, name: str, step: str) -> None:
        """An attempt to deliver report `name` failed at `step` (post, chart, chart_refused)."""


class _Unobserved:
    def report_posted(self, name: str, at: float) -> None:
        pass

    def report_failed(self, name: str, step: str) -> None:
        pass


def posted_time(store: Store, fingerprint: str) -> float | None:
    """When the report row `fingerprint` (`report:<key>`) had its message posted (Slack's ts, a Unix time),
    from the receiver's memo; None when it has not been (or went to the console)."""
    known = store.get_meta(f"{ReportNotifier.kind}.{fingerprint}.ts")
    try:
        return float(known.partition(" ")[2]) if known else None
    except ValueError:
        return None


class ReportNotifier:
    """The `report` receiver: rows whose channel is `report:<slack channel>`."""

    kind = "report"

    def __init__(
        self,
        slack: SlackNotifier | None,
        *,
        chart: Callable[[Mapping[str, Any]], bytes] = render_chart,
        observer: ReportObserver | None = None,
    ):
        self._slack = slack
        self._chart = chart
        self.observer: ReportObserver = observer or _Unobserved()

    async def deliver(self, notification: Notification, record: Record, memo: Memo) -> None:
        channel = notification.channel.partition(":")[2]
        for row in notification.rows:
            report = row.entry.payload
            name = str(report.get("report") or "report")
            fingerprint = row.entry.fingerprint
            if self._slack is None:
                log.info("report.posted", channel=channel, text=report_text(report))
                now = time.time()
                # When, for `posted_time`: a restarted leader then knows this firing went out too.
                memo.set(fingerprint + ".ts", f"console {now:.6f}")
                record(Delivered((row.id,), channel, "console"))
                self.observer.report_posted(name, now)
                continue
            step = "post"
            try:
                where, ts = await self._message(self._slack, channel, fingerprint, report, memo,
                                                uncertain=row.id in notification.uncertain)  # fmt: skip
                step = "chart"
                if memo.get(fingerprint + ".chart") is None:
                    done = await self._chart_or_table(self._slack, where, ts, fingerprint, report)
                    if done == "table":
                        self.observer.report_failed(name, "chart_refused")
                    memo.set(fingerprint + ".chart", done)
            except Exception:
                self.observer.report_failed(name, step)
                raise
            record(Delivered((row.id,), where, ts))
            self.observer.report_posted(name, _unix(ts))

    async def _message(
        self, slack: SlackNotifier, channel: str, fingerprint: str, report: Mapping[str, Any], memo: Memo,
        *, uncertain: bool,
    ) -> tuple[str, str]:  # fmt: skip
        """Where the report's message is: posted before (memo, or found in the channel), or posted now."""
        known = memo.get(fingerprint + ".ts")
        if known:
            where, _, ts = known.partition(" ")
            return where, ts
        found = await slack.find_posted(channel, fingerprint, 0) if uncertain else None
        if found is not None:
            where, ts = found.channel, found.ts
        else:
            message = render_report(report, fingerprint=fingerprint)
            answer = await slack.call("chat_postMessage", channel, **message.post_kwargs(channel))
            where, ts = str(answer["channel"]), str(answer["ts"])
        memo.set(fingerprint + ".ts", f"{where} {ts}")
        return where, ts

    async def _chart_or_table(
        self, slack: SlackNotifier, channel: str, ts: str, fingerprint: str, report: Mapping[str, Any]
    ) -> str:
        """Upload the chart into the channel (its file id), or, when uploads are refused, edit the message
        to carry the table ("table")."""
        png = await asyncio.to_thread(self._chart, report)
        name = str(report.get("report") or "report")
        try:
            answer = await slack.call(
                "files_upload_v2", channel, content=png, filename=f"{name}-{report.get('first', '')}.png",
                title=f"Report {name}: {report.get('first', '')} to {report.get('last', '')}",
                alt_txt="Success rate per day, failures per task type", channel=channel,
            )  # fmt: skip
        except SlackRequestError as exc:  # the POST of the bytes to the upload URL failed
            raise RetryableDeliveryError(f"slack file upload: {exc}", maybe_delivered=False) from None
        except PermanentDeliveryError as exc:
            log.warning("report.chart_refused", channel=channel, error=str(exc), fallback="a text table")
            message = render_report(report, fingerprint=fingerprint, table=True)
            await slack.call("chat_update", channel, **message.update_kwargs(channel, ts))
            return "table"
        file = answer.get("file") or {}
        return str(file.get("id") or "uploaded")


def _unix(ts: str) -> float:
    """A Slack message ts ("1712345678.000100") as a Unix time; now when it is not one."""
    try:
        return float(ts)
    except ValueError:
        return time.time()
