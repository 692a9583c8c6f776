"""A PagerDuty Events API v2 stand-in: a real HTTP server on loopback for the tests and the demo.

It speaks `POST /v2/enqueue` as PagerDuty documents it (PagerDuty/developer-docs,
docs/events-API-v2/01-Overview.md and 02-Trigger-Events.md; https://developer.pagerduty.com/docs/events-api-v2/
trigger-events/): a JSON event with `routing_key` (32 characters), `event_action` (trigger, acknowledge,
resolve), `dedup_key` (at most 255 characters; a trigger without one gets a generated key) and, for a
trigger, `payload` with `summary` (at most 1024 characters), `source` and `severity` (critical, error,
warning, info). The answers are PagerDuty's:

    202 {"status": "success", "message": "Event processed", "dedup_key": "..."}
    400 {"status": "invalid event", "message": "Event object is invalid", "errors": ["..."]}
    429 {"status": "throttled", ...}        (injected: `throttle(n)` answers the next n events so)
    500                                     (injected: `fail(n)`)

Incidents are kept by dedup_key, one per key: a trigger on an open incident is deduplicated (PagerDuty
adds it to the open alert, no new incident); acknowledge and resolve of an unknown or resolved key are
accepted and change nothing; a trigger after the resolve opens a new incident under the same key.
Every accepted event is kept in order (`events`) for assertions.

    with PagerDutyStubThread() as pd:     # pd.server.url, pd.server.incidents, pd.call(pd.server.throttle, 2)
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from monitor.devtools.loopback import SHUTDOWN_TIMEOUT, ServerThread, http_url, reply

__all__ = [
    "ACTIONS",
    "SEVERITIES",
    "Incident",
    "PagerDutyStub",
    "PagerDutyStubThread",
    "start_pagerduty_stub",
]

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
ROUTING_KEY_LENGTH = 32
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024


@dataclass
class Incident:
    """One incident: the number PagerDuty would show, its dedup_key, its status and the actions it got."""

    number: int
    dedup_key: str
    routing_key: str
    summary: str
    status: str = "triggered"  # triggered, acknowledged, resolved
    actions: list[str] = field(default_factory=list)


@dataclass
class PagerDutyStub:
    url: str = ""
    #: Every incident ever opened, in order (a key triggered again after its resolve has two).
    incidents: list[Incident] = field(default_factory=list)
    #: Every accepted event: (event_action, dedup_key), in the order they arrived.
    events: list[tuple[str, str]] = field(default_factory=list)
    requests: int = 0
    _throttle: int = 0
    _fail: int = 0
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def enqueue_url(self) -> str:
        return self.url + "/v2/enqueue"

    def throttle(self, count: int) -> None:
        """Answer the next `count` events 429."""
        self._throttle = count

    def fail(self, count: int) -> None:
        """Answer the next `count` events 500."""
        self._fail = count

    def open_incident(self, dedup_key: str) -> Incident | None:
        for incident in reversed(self.incidents):
            if incident.dedup_key == dedup_key and incident.status != "resolved":
                return incident
        return None

    def incidents_of(self, dedup_key: str) -> list[Incident]:
        return [incident for incident in self.incidents if incident.dedup_key == dedup_key]

    def accept(self, event: Any) -> tuple[int, dict[str, Any]]:
        """Process one event as PagerDuty does: (status, answer)."""
        self.requests += 1
        if self._throttle > 0:
            self._throttle -= 1
            return 429, {
                "status": "throttled",
                "message": "Requests for this service are arriving too quickly.",
            }
        if self._fail > 0:
            self._fail -= 1
            return 500, {"status": "error", "message": "Internal server error"}
        errors = _problems(event)
        if errors:
            return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
        action: str = event["event_action"]
        key: str = event.get("dedup_key") or uuid.uuid4().hex
        incident = self.open_incident(key)
        if action == "trigger" and incident is None:
            incident = Incident(next(self._numbers), key, event["routing_key"], event["payload"]["summary"])
            self.incidents.append(incident)
        if incident is not None:
            incident.actions.append(action)
            if action == "acknowledge":
                incident.status = "acknowledged"
            elif action == "resolve":
                incident.status = "resolved"
        self.events.append((action, key))
        return 202, {"status": "success", "message": "Event processed", "dedup_key": key}


def _problems(event: Any) -> list[str]:
    if not isinstance(event, dict):
        return ["Event must be a JSON object"]
    errors: list[str] = []
    routing_key = event.get("routing_key")
    if not isinstance(routing_key, str) or len(routing_key) != ROUTING_KEY_LENGTH:
        errors.append("'routing_key' is invalid")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    key = event.get("dedup_key")
    if key is not None and (not isinstance(key, str) or len(key) > MAX_DEDUP_KEY):
        errors.append("'dedup_key' is invalid (a string of at most 255 characters)")
    if action in ("acknowledge", "resolve") and not key:
        errors.append("'dedup_key' is missing: acknowledge and resolve need it")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            errors.append("'payload' is missing")
        else:
            summary = payload.get("summary")
            if not isinstance(summary, str) or not summary or len(summary) > MAX_SUMMARY:
                errors.append("'payload.summary' is invalid (1 to 1024 characters)")
            if not isinstance(payload.get("source"), str) or not payload["source"]:
                errors.append("'payload.source' is missing")
            if payload.get("severity") not in SEVERITIES:
                errors.append("'payload.severity' is invalid (critical, error, warning or info)")
    return errors


_STATE = web.AppKey("pagerduty_stub", PagerDutyStub)


async def _enqueue(request: web.Request) -> web.Response:
    stub = request.app[_STATE]
    try:
        event = await request.json()
    except ValueError:
        event = None
    status, answer = stub.accept(event)
    return reply(answer, status)


@contextlib.asynccontextmanager
async def start_pagerduty_stub(host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[PagerDutyStub]:
    """Serve until the block ends."""
    stub = PagerDutyStub()
    app = web.Application()
    app[_STATE] = stub
    app.router.add_post("/v2/enqueue", _enqueue)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    stub.url = http_url(str(bound_host), int(bound_port))
    try:
        yield stub
    finally:
        await runner.cleanup()


class PagerDutyStubThread(ServerThread[PagerDutyStub]):
    """The stand-in on its own event loop in a daemon thread; change it only through `call`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(
            lambda: start_pagerduty_stub(host, port), name="pagerduty-stub", what="the PagerDuty stub"
        )
