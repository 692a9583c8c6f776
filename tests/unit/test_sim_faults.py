"""Fault specs are validated, queued in order, matched to endpoints, and damage bodies as documented."""

from __future__ import annotations

import json
from typing import Any

import pytest

from monitor.devtools.sim import faults
from monitor.devtools.sim.faults import AFTER_KINDS, BEFORE_KINDS, FaultQueue, parse_fault


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({}, "kind must be one of"),
        ({"kind": "explode"}, "kind must be one of"),
        ({"kind": "status", "endpoint": "nowhere"}, "endpoint must be one of"),
        ({"kind": "status", "count": 0}, "count must be"),
        ({"kind": "status", "status": 99}, "status must be"),
        ({"kind": "delay", "seconds": -1}, "seconds must be"),
        ({"kind": "shift", "mode": "sideways"}, "mode must be"),
        ({"kind": "status", "headers": {"Retry-After": 1}}, "headers must map"),
        ({"kind": "status", "colour": "red"}, "unknown fault fields: colour"),
    ],
)
def test_bad_specs(spec: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_fault(spec)


def test_defaults() -> None:
    assert parse_fault({"kind": "status"}).status == 503
    assert parse_fault({"kind": "html"}).status == 502
    fault = parse_fault({"kind": "drop"})
    assert (fault.endpoint, fault.count, fault.status) == ("any", 1, None)


def test_queue_order_counts_and_endpoints() -> None:
    queue = FaultQueue()
    queue.add(parse_fault({"kind": "status", "endpoint": "show", "status": 500}))
    queue.add(parse_fault({"kind": "status", "endpoint": "any", "status": 429, "count": 2}))
    taken = [queue.take("list", BEFORE_KINDS) for _ in range(3)]
    assert [f.status if f else None for f in taken] == [429, 429, None]
    assert queue.take("show", AFTER_KINDS) is None  # a before-kind never answers an after-phase lookup
    shown = queue.take("show", BEFORE_KINDS)
    assert shown is not None
    assert shown.status == 500
    assert queue.pending() == []


def test_paging_faults_wait_for_a_paged_endpoint() -> None:
    queue = FaultQueue()
    queue.add(parse_fault({"kind": "shift"}))
    queue.add(parse_fault({"kind": "lie_total"}))
    assert queue.take("show", AFTER_KINDS) is None
    lie = queue.take("records", AFTER_KINDS)
    assert lie is not None
    assert lie.kind == "lie_total"
    shift = queue.take("list", AFTER_KINDS)
    assert shift is not None
    assert shift.kind == "shift"


def test_429_defaults_to_the_gateway_throttling_answer() -> None:
    status, headers, body = faults.status_response(parse_fault({"kind": "status", "status": 429}))
    assert status == 429
    assert "Retry-After" not in headers  # not documented to be sent
    assert json.loads(body) == {
        "error_code": "APIGW.0308",
        "error_msg": "The throttling threshold has been reached",
    }


def test_custom_status_body_and_headers() -> None:
    spec = {"kind": "status", "status": 401, "body": {"error_code": "APIGW.0307"}, "headers": {"X-A": "b"}}
    status, headers, body = faults.status_response(parse_fault(spec))
    assert (status, headers["X-A"], json.loads(body)) == (401, "b", {"error_code": "APIGW.0307"})
    _, text_headers, text = faults.status_response(parse_fault({"kind": "status", "body": "oops"}))
    assert text == b"oops"
    assert text_headers["Content-Type"].startswith("text/plain")


def test_wrong_types_and_lie_total() -> None:
    body: dict[str, Any] = {"scheduled_tasks": [{"id": "a"}, {"id": "b"}], "total_count": 2}
    faults.wrong_types("list", body)
    assert body == {"scheduled_tasks": [{"id": 12345}, {"id": "b"}], "total_count": "2"}
    paged: dict[str, Any] = {"tasks_records": [], "total_count": 3}
    faults.lie_total(paged, 10)
    assert paged["total_count"] == 13


def test_truncated_json_does_not_parse() -> None:
    raw = json.dumps({"scheduled_tasks": [{"id": "x" * 40}], "total_count": 1}).encode()
    with pytest.raises(json.JSONDecodeError):
        json.loads(faults.truncate_json(raw))


def test_skip_lets_matching_requests_pass_before_the_fault_fires() -> None:
    queue = FaultQueue()
    queue.add(parse_fault({"kind": "status", "endpoint": "list", "skip": 2}))
    assert queue.take("show", BEFORE_KINDS) is None  # not a match, not counted
    assert queue.take("list", BEFORE_KINDS) is None
    assert queue.take("list", BEFORE_KINDS) is None
    fired = queue.take("list", BEFORE_KINDS)
    assert fired is not None
    assert fired.kind == "status"
    assert queue.take("list", BEFORE_KINDS) is None
