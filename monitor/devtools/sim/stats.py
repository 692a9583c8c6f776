"""Request counters per endpoint and status, and the most `/v2` requests ever in flight at once.

The client's tests read `max_in_flight` to check their concurrency bound, so a request counts as in flight
from the moment the server sees it (before the simulated latency) until its answer is written.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

__all__ = ["Stats"]


class Stats:
    def __init__(self) -> None:
        self._requests: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._faults: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0

    def enter(self) -> None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        self.in_flight -= 1

    def record(self, endpoint: str, status: int | str) -> None:
        self._requests[endpoint][str(status)] += 1

    def fault(self, kind: str) -> None:
        self._faults[kind] += 1

    def count(self, endpoint: str, status: int | str | None = None) -> int:
        """Requests seen on `endpoint` (with that status, when given)."""
        counts = self._requests.get(endpoint, Counter())
        return sum(counts.values()) if status is None else counts[str(status)]

    def reset(self) -> None:
        """Forget the counts; the high-water mark restarts from what is in flight now."""
        self._requests.clear()
        self._faults.clear()
        self.max_in_flight = self.in_flight

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": {endpoint: dict(counts) for endpoint, counts in sorted(self._requests.items())},
            "total": sum(sum(c.values()) for c in self._requests.values()),
            "faults_injected": dict(self._faults),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }
