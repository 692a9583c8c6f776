"""Injected faults: what each kind is, how a request picks one from the queue, and the body rewrites.

A fault is `{"endpoint": <one of ENDPOINTS, or "any">, "count": n, "kind": ..., ...}` and is used up by
the next `count` matching requests (after letting `skip` pass), first queued first used. Kinds act at one
of two moments:

- before the handler (`status`, `html`, `drop`, `delay`): the request never reaches the handler (except
  `delay`, which only waits first);
- on a successful (200/201) answer (`bad_json`, `wrong_types`, `lie_total`, `shift`): the real answer is
  computed, then damaged. A request that fails anyway (400, 404) does not use up such a fault.

On `/v2` endpoints faults are picked after authentication succeeded, so an unauthenticated probe never eats
a fault meant for the client under test.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

__all__ = [
    "AFTER_KINDS",
    "BEFORE_KINDS",
    "ENDPOINTS",
    "KINDS",
    "Fault",
    "FaultQueue",
    "html_page",
    "lie_total",
    "parse_fault",
    "status_response",
    "truncate_json",
    "wrong_types",
]

ENDPOINTS = (
    "list",
    "show",
    "records",
    "details",
    "token",
    "action",
    "job",
    "script_retry",
    "script_records",
    "script_record",
)
BEFORE_KINDS = frozenset({"status", "html", "drop", "delay"})
AFTER_KINDS = frozenset({"bad_json", "wrong_types", "lie_total", "shift"})
KINDS = BEFORE_KINDS | AFTER_KINDS
# Kinds that only make sense on some endpoints: an "any" lie_total must wait for a paged answer.
_ONLY_ON = {"lie_total": frozenset({"list", "records", "details"}), "shift": frozenset({"list"})}

THROTTLED_BODY = {"error_code": "APIGW.0308", "error_msg": "The throttling threshold has been reached"}


@dataclass
class Fault:
    kind: str
    endpoint: str = "any"
    count: int = 1
    status: int | None = None  # status, html
    body: Any = None  # status: a JSON value, or a str sent as is
    headers: dict[str, str] = field(default_factory=dict)  # status
    seconds: float = 0.0  # delay
    extra: int = 10  # lie_total: how many more than exist (negative: fewer)
    mode: str = "insert"  # shift: insert | remove
    n: int = 1  # shift: how many tasks
    last_status: str = "FAIL"  # shift insert: status of the inserted tasks
    skip: int = 0  # let this many matching requests pass untouched first (to hit page 2, say)

    def applies_to(self, endpoint: str) -> bool:
        if self.endpoint not in ("any", endpoint):
            return False
        return endpoint in _ONLY_ON.get(self.kind, frozenset(ENDPOINTS))

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, {}, "")}


def _int(spec: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer between {low} and {high}")
    return value


def parse_fault(spec: Mapping[str, Any]) -> Fault:
    """Validate one fault object from the control API or a scenario file; ValueError says what is wrong."""
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(sorted(KINDS))}")
    endpoint = spec.get("endpoint", "any")
    if endpoint not in (*ENDPOINTS, "any"):
        raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}, any")
    unknown = set(spec) - {f for f in Fault.__dataclass_fields__}
    if unknown:
        raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
    headers = spec.get("headers", {})
    if not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values()):
        raise ValueError("headers must map names to strings")
    seconds = spec.get("seconds", 0.0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ValueError("seconds must be a non-negative number")
    mode = spec.get("mode", "insert")
    if mode not in ("insert", "remove"):
        raise ValueError("mode must be insert or remove")
    last_status = spec.get("last_status", "FAIL")
    if last_status not in ("SUCCESS", "FAIL", "SKIP"):
        raise ValueError("last_status must be SUCCESS, FAIL or SKIP")
    default_status = 502 if kind == "html" else 503
    status = _int(spec, "status", default_status, 100, 599) if kind in ("status", "html") else None
    return Fault(
        kind=kind,
        endpoint=endpoint,
        count=_int(spec, "count", 1, 1, 1_000_000),
        status=status,
        body=spec.get("body"),
        headers=dict(headers),
        seconds=float(seconds),
        extra=_int(spec, "extra", 10, -1_000_000, 1_000_000),
        mode=mode,
        n=_int(spec, "n", 1, 1, 10_000),
        last_status=last_status,
        skip=_int(spec, "skip", 0, 0, 1_000_000),
    )


class FaultQueue:
    """Pending faults in the order they were queued."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def clear(self) -> None:
        self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        return [f.describe() for f in self._faults]

    def peek(self, endpoint: str, kinds: frozenset[str]) -> Fault | None:
        return next((f for f in self._faults if f.kind in kinds and f.applies_to(endpoint)), None)

    def use(self, fault: Fault) -> None:
        """Count one use of `fault`; it leaves the queue after its last one."""
        fault.count -= 1
        if fault.count <= 0 and fault in self._faults:
            self._faults.remove(fault)

    def take(self, endpoint: str, kinds: frozenset[str]) -> Fault | None:
        fault = self.peek(endpoint, kinds)
        if fault is not None and fault.skip > 0:
            fault.skip -= 1
            return None
        if fault is not None:
            self.use(fault)
        return fault


def status_response(fault: Fault) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a `status` fault; 429 defaults to the gateway's throttling answer, without
    Retry-After (the API does not document sending one; add it with `headers`)."""
    status = fault.status or 503
    headers = dict(fault.headers)
    body: Any = fault.body
    if body is None:
        if status == 429:
            body = THROTTLED_BODY
        else:
            phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
            body = {"error_code": f"SIM.{status}", "error_msg": f"{phrase} (injected by the simulator)"}
    if isinstance(body, str):
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        return status, headers, body.encode()
    headers.setdefault("Content-Type", "application/json;charset=UTF-8")
    return status, headers, json.dumps(body).encode()


def html_page(status: int) -> bytes:
    """What a load balancer in front of the API shows instead of JSON."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return (
        f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


def truncate_json(body: bytes) -> bytes:
    """The first half of a JSON document: a connection that died mid-answer, or a buggy proxy."""
    return body[: max(1, len(body) // 2)]


_LIST_KEYS = ("scheduled_tasks", "tasks_records", "tasks_records_details")


def wrong_types(endpoint: str, body: dict[str, Any]) -> None:
    """Damage the types in place: total_count as a string and the first item's key field as a number."""
    if "total_count" in body:
        body["total_count"] = str(body["total_count"])
    if endpoint in ("show", "job", "script_record"):
        body["id"] = 12345
    elif endpoint in ("action", "script_retry"):
        body["job_id" if endpoint == "action" else "task_id"] = 12345
    elif endpoint == "token" and isinstance(body.get("token"), dict):
        body["token"]["expires_at"] = 1_700_000_000
    for key in _LIST_KEYS:
        items = body.get(key)
        if isinstance(items, list) and items and isinstance(items[0], dict):
            first = items[0]
            if key == "scheduled_tasks":
                first["id"] = 12345
            elif key == "tasks_records":
                first["success_num"] = str(first.get("success_num", 0))
            else:
                first["exec_status"] = 0


def lie_total(body: dict[str, Any], extra: int) -> None:
    if isinstance(body.get("total_count"), int):
        body["total_count"] = max(0, body["total_count"] + extra)
