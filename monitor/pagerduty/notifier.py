"""The PagerDuty receiver: each outbox row of a `pagerduty:` channel becomes one Events API v2 event.

    NEW                  -> trigger      (an incident opens; a NEW episode after a resolve opens a new one)
    ACKNOWLEDGED         -> acknowledge  (acked in Slack: `queue_acknowledge`)
    RESOLVED, CLOSED     -> resolve
    anything else        -> nothing sent; the row is recorded as done (a RECURRED or REPEAT of an open
                            alert is the incident PagerDuty already pages for)

The `dedup_key` is the alert's fingerprint, so sending an event again (a retry after a timeout, a restart
before the row was recorded) changes nothing at PagerDuty: a trigger on an open incident is deduplicated,
and a resolve of a resolved one is accepted and ignored. That is why this receiver never looks before
sending, as Slack's does.

Errors, as the dispatcher reads them: 429 and 5xx, or no answer -> `RetryableDeliveryError` (the outbox
retries, after Retry-After when PagerDuty gives one); any other 4xx -> `PermanentDeliveryError` (the row
fails and selfwatch posts a meta-alert: a wrong routing key or a refused event does not heal by itself).
Events are paced (`interval` between two requests). The routing key is a secret: it is never logged and
never part of an error's text.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import httpx
import structlog

from monitor.decide import DecisionKind
from monitor.engine import PAGERDUTY_CHANNEL
from monitor.notify.dispatch import (
    Delivered,
    Memo,
    Notification,
    PermanentDeliveryError,
    Record,
    RetryableDeliveryError,
)
from monitor.notify.text import summary_line
from monitor.store.base import CycleChanges, OutboxEntry, OutboxRow, Store
from monitor.workspace.bodies import ACCEPT_ENCODING, read_capped
from monitor.workspace.errors import MalformedResponseError

__all__ = [
    "ACTIONS",
    "DEFAULT_EVENTS_URL",
    "ROUTING_KEY",
    "PagerDutyNotifier",
    "event_for",
    "incident_key",
    "queue_acknowledge",
]

log = structlog.get_logger(__name__)

DEFAULT_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
#: An Events API v2 integration key: 32 characters (letters and digits).
ROUTING_KEY = re.compile(r"[A-Za-z0-9]{32}")
ACTIONS: Mapping[DecisionKind, str] = {
    DecisionKind.NEW: "trigger",
    DecisionKind.ACKNOWLEDGED: "acknowledge",
    DecisionKind.RESOLVED: "resolve",
    DecisionKind.CLOSED: "resolve",
}
#: PagerDuty's severities; a rule's (critical, warning, info) are among them.
SEVERITIES = ("critical", "error", "warning", "info")
#: PagerDuty's limit on payload.summary.
MAX_SUMMARY = 1024


def incident_key(fingerprint: str) -> str:
    """The memo key (under `pagerduty.`) holding the episode whose incident is open, "" when none is."""
    return f"incident.{fingerprint}"


def queue_acknowledge(
    store: Store, fingerprint: str, now: datetime, *, pages: Callable[[str], bool] = lambda rule: False
) -> bool:
    """An alert acknowledged in Slack: queue its acknowledge (through the outbox, as every event) when its
    incident is open, or when its rule pages (`pages(rule_name)`) and the trigger may still be on its way (a
    429 or a 5xx being retried): the row waits behind the trigger, and the receiver sends it only if an
    incident of that episode is open by then. Whether one was queued."""
    episode = store.get_meta(f"{PagerDutyNotifier.kind}.{incident_key(fingerprint)}")
    if not episode:
        alert = store.load_alerts([fingerprint]).get(fingerprint)
        if alert is None or alert.closed_at is not None or not pages(alert.rule_name):
            return False
        episode = str(alert.episode)
    entry = OutboxEntry(
        fingerprint, int(episode), DecisionKind.ACKNOWLEDGED, PAGERDUTY_CHANNEL, {"kind": "ACKNOWLEDGED"}, now
    )
    store.apply_cycle(CycleChanges(outbox=[entry]))
    return True


def event_for(row: OutboxRow, routing_key: str) -> dict[str, Any] | None:
    """The event a row becomes, None when its kind pages nobody."""
    action = ACTIONS.get(row.entry.kind)
    if action is None:
        return None
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": row.entry.fingerprint,
    }
    if action == "trigger":
        payload = row.entry.payload
        severity = payload.get("severity")
        event["payload"] = {
            "summary": summary_line(payload)[:MAX_SUMMARY] or row.entry.fingerprint,
            "source": str(payload.get("project") or "workspace-monitor"),
            "severity": severity if severity in SEVERITIES else "error",
            "custom_details": {"rule": payload.get("rule"), "task": payload.get("task")},
        }
    return event


class PagerDutyNotifier:
    kind = "pagerduty"

    def __init__(
        self,
        routing_key: str,
        events_url: str = DEFAULT_EVENTS_URL,
        *,
        client: httpx.AsyncClient | None = None,
        interval: float = 0.2,
        timeout: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._routing_key = routing_key
        self.events_url = events_url
        self._client = client or httpx.AsyncClient(timeout=timeout)
        # httpx's timeouts are per read: an answer trickling in a byte at a time never trips them. One
        # deadline for the whole exchange (the lock is held meanwhile: every page waits behind it).
        self._deadline = timeout
        self._interval = interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._last = 0.0
        self._lock = asyncio.Lock()

    async def deliver(self, notification: Notification, record: Record, memo: Memo) -> None:
        for row in notification.rows:
            event = event_for(row, self._routing_key)
            # An acknowledge only for an incident of this episode, open now: its trigger went out before (the
            # outbox keeps an alert's events in order), or never did (silenced, refused): nothing to ack.
            if (
                event is not None
                and event["event_action"] == "acknowledge"
                and memo.get(incident_key(row.entry.fingerprint)) != str(row.entry.episode)
            ):
                event = None
            if event is not None:
                await self._send(event)
                # Which episode has an incident open: what an ack in Slack is escalated for.
                opened = str(row.entry.episode) if event["event_action"] == "trigger" else ""
                if event["event_action"] != "acknowledge":
                    memo.set(incident_key(row.entry.fingerprint), opened)
            record(Delivered((row.id,), notification.channel, event["event_action"] if event else "skipped"))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _send(self, event: dict[str, Any]) -> None:
        action = event["event_action"]
        async with self._lock:
            wait = self._last + self._interval - self._monotonic()
            if wait > 0:
                await self._sleep(wait)
            try:
                async with asyncio.timeout(self._deadline):
                    status, headers, body = await self._post(event)
            except httpx.HTTPError as exc:
                raise RetryableDeliveryError(f"pagerduty {action}: {type(exc).__name__}") from None
            except TimeoutError:
                # Sent again later: the dedup_key makes a repeat the same incident.
                raise RetryableDeliveryError(
                    f"pagerduty {action}: no complete answer within {self._deadline:g} s"
                ) from None
            finally:
                self._last = self._monotonic()
        if 200 <= status < 300:
            log.info("pagerduty.event_sent", action=action, dedup_key=event["dedup_key"])
            return
        if status == 429 or status >= 500:
            raise RetryableDeliveryError(
                f"pagerduty {action}: HTTP {status}", retry_after=_retry_after(headers.get("Retry-After"))
            )
        raise PermanentDeliveryError(f"pagerduty {action}: HTTP {status} {_reason(body)}")

    async def _post(self, event: dict[str, Any]) -> tuple[int, httpx.Headers, bytes]:
        """The answer's status, headers and body; the body read no further than MAX_ANSWER_BYTES decoded
        (a bigger one, or a gzip bomb, is dropped: the status says what happened)."""
        async with self._client.stream(
            "POST", self.events_url, json=event, headers=ACCEPT_ENCODING
        ) as answer:
            try:
                body = await read_capped(answer, "pagerduty events")
            except MalformedResponseError:
                body = b""
            return answer.status_code, answer.headers, body


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _reason(raw: bytes) -> str:
    """PagerDuty's own words (`invalid event: ...`); never the request, which holds the routing key."""
    try:
        body = json.loads(raw)
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    errors = body.get("errors")
    detail = "; ".join(str(e) for e in errors) if isinstance(errors, list) else str(body.get("message", ""))
    return f"{body.get('status', '')}: {detail}"[:300]
