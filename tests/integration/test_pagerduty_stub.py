"""The PagerDuty stand-in answers Events API v2 as PagerDuty documents it, over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from monitor.devtools.pagerduty import PagerDutyStubThread

KEY = "R" * 32


@pytest.fixture
def pd() -> Iterator[PagerDutyStubThread]:
    with PagerDutyStubThread() as stub:
        yield stub


def _event(action: str, dedup_key: str | None = "fp-1", **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"routing_key": KEY, "event_action": action, **extra}
    if dedup_key is not None:
        event["dedup_key"] = dedup_key
    if action == "trigger":
        event.setdefault("payload", {"summary": "backup failed", "source": "workspace", "severity": "error"})
    return event


def _post(pd: PagerDutyStubThread, body: Any) -> httpx.Response:
    return httpx.post(pd.server.enqueue_url, json=body)


def test_trigger_answers_202_with_the_dedup_key(pd: PagerDutyStubThread) -> None:
    answer = _post(pd, _event("trigger"))
    assert answer.status_code == 202
    assert answer.json() == {"status": "success", "message": "Event processed", "dedup_key": "fp-1"}


def test_trigger_on_an_open_incident_is_deduplicated(pd: PagerDutyStubThread) -> None:
    _post(pd, _event("trigger"))
    _post(pd, _event("trigger"))
    assert len(pd.server.incidents_of("fp-1")) == 1


def test_acknowledge_then_resolve_move_the_incident(pd: PagerDutyStubThread) -> None:
    _post(pd, _event("trigger"))
    _post(pd, _event("acknowledge"))
    assert pd.server.incidents[0].status == "acknowledged"
    _post(pd, _event("resolve"))
    assert pd.server.incidents[0].status == "resolved"
    assert pd.server.incidents[0].actions == ["trigger", "acknowledge", "resolve"]


def test_trigger_after_resolve_opens_a_new_incident(pd: PagerDutyStubThread) -> None:
    for action in ("trigger", "resolve", "trigger"):
        _post(pd, _event(action))
    assert [i.status for i in pd.server.incidents_of("fp-1")] == ["resolved", "triggered"]


@pytest.mark.parametrize(
    "body",
    [
        "not an object",
        {**_event("trigger"), "routing_key": "short"},
        {**_event("trigger"), "event_action": "page"},
        _event("resolve", dedup_key=None),
        {**_event("trigger"), "payload": {"summary": "x", "source": "y", "severity": "fatal"}},
        {**_event("trigger"), "dedup_key": "k" * 256},
    ],
)
def test_an_invalid_event_is_400_and_changes_nothing(pd: PagerDutyStubThread, body: Any) -> None:
    answer = _post(pd, body)
    assert answer.status_code == 400
    assert answer.json()["status"] == "invalid event"
    assert pd.server.incidents == []


def test_throttled_events_are_429_and_not_processed(pd: PagerDutyStubThread) -> None:
    pd.call(pd.server.throttle, 1)
    assert _post(pd, _event("trigger")).status_code == 429
    assert pd.server.incidents == []
    assert _post(pd, _event("trigger")).status_code == 202
