"""Injected faults of the Slack stub: what each kind does, and how a call picks one.

A fault is `{"kind": ..., "method": "chat.postMessage" | "response_url" | "any", "count": n | null,
"every": n, "skip": n, ...}`. Every fault counts the calls it matches; it fires on every `every`-th of
them once `skip` have passed, `count` times (null: until cleared). When several could fire, the first
queued fires. Kinds:

    rate_limit    HTTP 429, `Retry-After: retry_after`, body {"ok": false, "error": "ratelimited"}
    server_error  HTTP `status` (500), body {"ok": false, "error": "internal_error"}
    drop          the connection closes without an answer
    delay         wait `seconds`, then answer as usual
    error         HTTP 200 {"ok": false, "error": `error`}: any Slack error code (fatal_error, ...)
    taken_reset   the call is carried out (the message is posted), then the connection closes unanswered
    taken_500     the call is carried out, then HTTP `status` (500) {"ok": false, "error": "internal_error"}

The two `taken_*` kinds are what makes a retried post a duplicate: Slack documents for `internal_error` and
`fatal_error` that "it's possible some aspect of the operation succeeded before the error was raised"
(api.slack.com/methods/chat.postMessage, Errors), and a connection can break after the request was read.

Faults are applied after authentication, so a probe with a bad token never uses up a fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AFTER_KINDS", "KINDS", "FaultPlan", "StubFault", "parse_fault"]

KINDS = ("rate_limit", "server_error", "drop", "delay", "error", "taken_reset", "taken_500")
#: Kinds that let the method run first and spoil only the answer.
AFTER_KINDS = frozenset({"taken_reset", "taken_500"})
_FIELDS = ("kind", "method", "count", "every", "skip", "retry_after", "status", "error", "seconds")


@dataclass
class StubFault:
    kind: str
    method: str = "any"
    count: int | None = 1
    every: int = 1
    skip: int = 0
    retry_after: int = 1  # rate_limit; slack_sdk's retry handler reads it as whole seconds
    status: int = 500  # server_error
    error: str = "fatal_error"  # error
    seconds: float = 0.0  # delay
    seen: int = field(default=0, compare=False)
    fired: int = field(default=0, compare=False)

    def matches(self, method: str) -> bool:
        return self.method in ("any", method)

    def describe(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in (*_FIELDS, "seen", "fired")}


def _int(spec: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer between {low} and {high}")
    return value


def parse_fault(spec: Mapping[str, Any]) -> StubFault:
    """Validate one fault object from the control API; ValueError says what is wrong."""
    unknown = set(spec) - set(_FIELDS)
    if unknown:
        raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    method = spec.get("method", "any")
    if not isinstance(method, str) or not method:
        raise ValueError("method must be a Web API method name, response_url or any")
    count = spec.get("count", 1)
    if count is not None:
        count = _int(spec, "count", 1, 1, 1_000_000)
    error = spec.get("error", "fatal_error")
    if not isinstance(error, str) or not error:
        raise ValueError("error must be a Slack error code")
    seconds = spec.get("seconds", 0.0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 600:
        raise ValueError("seconds must be a number from 0 to 600")
    return StubFault(
        kind=kind,
        method=method,
        count=count,
        every=_int(spec, "every", 1, 1, 1_000_000),
        skip=_int(spec, "skip", 0, 0, 1_000_000),
        retry_after=_int(spec, "retry_after", 1, 0, 3600),
        status=_int(spec, "status", 500, 500, 599),
        error=error,
        seconds=float(seconds),
    )


class FaultPlan:
    """Queued faults, first queued first fired, with shortcuts for the usual ones."""

    def __init__(self) -> None:
        self._faults: list[StubFault] = []

    def add(self, fault: StubFault) -> StubFault:
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        return [fault.describe() for fault in self._faults]

    def take(self, method: str) -> StubFault | None:
        """The fault this call of `method` meets, if any; every matching fault counts the call."""
        chosen: StubFault | None = None
        for fault in list(self._faults):
            if not fault.matches(method):
                continue
            fault.seen += 1
            turn = fault.seen - fault.skip
            if chosen is not None or turn <= 0 or turn % fault.every:
                continue
            chosen = fault
            fault.fired += 1
            if fault.count is not None and fault.fired >= fault.count:
                self._faults.remove(fault)
        return chosen

    # Shortcuts: `count=None` keeps a fault until `clear`.
    def rate_limit(
        self,
        count: int | None = 1,
        *,
        every: int = 1,
        retry_after: int = 1,
        method: str = "any",
        skip: int = 0,
    ) -> StubFault:
        return self.add(StubFault("rate_limit", method, count, every, skip, retry_after=retry_after))

    def server_error(
        self, count: int | None = 1, *, status: int = 500, every: int = 1, method: str = "any", skip: int = 0
    ) -> StubFault:
        return self.add(StubFault("server_error", method, count, every, skip, status=status))

    def drop(self, count: int | None = 1, *, every: int = 1, method: str = "any", skip: int = 0) -> StubFault:
        return self.add(StubFault("drop", method, count, every, skip))

    def delay(
        self, seconds: float, count: int | None = 1, *, every: int = 1, method: str = "any", skip: int = 0
    ) -> StubFault:
        return self.add(StubFault("delay", method, count, every, skip, seconds=seconds))

    def taken_reset(
        self, count: int | None = 1, *, every: int = 1, method: str = "any", skip: int = 0
    ) -> StubFault:
        return self.add(StubFault("taken_reset", method, count, every, skip))

    def taken_500(
        self, count: int | None = 1, *, status: int = 500, every: int = 1, method: str = "any", skip: int = 0
    ) -> StubFault:
        return self.add(StubFault("taken_500", method, count, every, skip, status=status))

    def error(
        self, error: str, count: int | None = 1, *, every: int = 1, method: str = "any", skip: int = 0
    ) -> StubFault:
        return self.add(StubFault("error", method, count, every, skip, error=error))
