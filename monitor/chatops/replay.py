"""Dropping replayed Slack requests: the signatures of recent requests, remembered per replica.

Slack signs every HTTP request (`X-Slack-Signature`, an HMAC of `v0:<timestamp>:<body>`), and bolt refuses
one whose timestamp is more than 5 minutes away from our clock, in either direction
(slack_sdk.signature.SignatureVerifier). Within that window a captured request verifies again: three
identical `silence` requests made three silences. A signature covers the timestamp and the body, so two
genuine requests never share one (Slack's own retries of an event carry a new timestamp), and a signature
seen before is a replay.

A signature is remembered for `REMEMBER` (both sides of the 5-minute window plus a margin for clock skew),
at most `CAPACITY` of them (the oldest forgotten first): a replay older than that is refused by bolt's
timestamp check anyway. Memory stays bounded: 20,000 signatures of 67 characters are ~3 MB.

Per replica: with HA, a request replayed to another replica runs there once more (the ingress normally
sends a client to one replica; the state-changing commands are few and an admin's).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["CAPACITY", "REMEMBER", "RecentSignatures"]

#: Seconds a signature is remembered: 5 minutes either side of the request's timestamp, plus 1 minute.
REMEMBER = 11 * 60.0
CAPACITY = 20_000


@dataclass
class RecentSignatures:
    """`first_time(signature)`: True the first time a signature is seen within `remember` seconds."""

    clock: Callable[[], float]
    remember: float = REMEMBER
    capacity: int = CAPACITY
    _seen: OrderedDict[str, float] = field(default_factory=OrderedDict)

    def first_time(self, signature: str) -> bool:
        now = self.clock()
        while self._seen:
            oldest, seen_at = next(iter(self._seen.items()))
            if now - seen_at < self.remember and len(self._seen) < self.capacity:
                break
            del self._seen[oldest]
        if signature in self._seen:
            return False
        self._seen[signature] = now
        return True

    def __len__(self) -> int:
        return len(self._seen)
