"""Slack's rate limits, per method and per workspace, as documented (api.slack.com/apis/rate-limits):

    Tier 1   1+ a minute     apps.connections.open
    Tier 2  20+ a minute     conversations.list, users.list
    Tier 3  50+ a minute     conversations.history, conversations.replies, chat.update
    Tier 4 100+ a minute     chat.postEphemeral, auth.test, views.publish, views.open, views.update,
                             files.getUploadURLExternal, files.completeUploadExternal
    special                  chat.postMessage: "1 message per second per channel", "short bursts >1 allowed"

Each limit is a token bucket: a tier's bucket holds a minute's calls and refills evenly; a channel's posting
bucket holds `POST_BURST` messages and refills one a second. A call finding its bucket empty is answered
HTTP 429 `{"ok": false, "error": "ratelimited"}` with `Retry-After` in whole seconds, and changes nothing.
On by default, as on Slack (`SlackStubOptions.rate_limits`); tests that post faster than Slack allows on
purpose (unpaced, on a clock they move) turn it off. The product paces itself to about one message a second
a channel (`SlackNotifier(per_channel_interval=1.0)`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["METHOD_TIERS", "POST_BURST", "TIER_PER_MINUTE", "RateLimiter"]

TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
METHOD_TIERS = {
    "apps.connections.open": 1,
    "conversations.list": 2,
    "users.list": 2,
    "conversations.history": 3,
    "conversations.replies": 3,
    "chat.update": 3,
    "chat.postEphemeral": 4,
    "auth.test": 4,
    "views.publish": 4,
    "views.open": 4,
    "views.update": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
}
#: How many messages a channel takes at once before the one-a-second limit bites (our reading of "short
#: bursts"; Slack gives no number).
POST_BURST = 3


@dataclass
class _Bucket:
    capacity: float
    per_second: float
    tokens: float
    at: float

    def take(self, now: float) -> float:
        """0 when a call may go now (and it is counted), else the seconds until it may."""
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.per_second


class RateLimiter:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def _bucket(self, key: tuple[str, str], capacity: float, per_second: float, now: float) -> _Bucket:
        # Born full at `now`, the moment of the call: a later reading would put the call before the bucket
        # and take a sliver off a one-call bucket (Tier 1), refusing the very first call.
        if key not in self._buckets:
            self._buckets[key] = _Bucket(capacity, per_second, capacity, now)
        return self._buckets[key]

    def retry_after(self, method: str, channel: str | None) -> int | None:
        """None when the call may go (it is counted); else the Retry-After, in whole seconds."""
        now = self._clock()
        if method == "chat.postMessage":
            wait = self._bucket((method, channel or ""), POST_BURST, 1.0, now).take(now)
        elif method in METHOD_TIERS:
            per_minute = TIER_PER_MINUTE[METHOD_TIERS[method]]
            wait = self._bucket((method, ""), per_minute, per_minute / 60, now).take(now)
        else:
            return None
        return None if wait <= 0 else max(1, math.ceil(wait))

    def clear(self) -> None:
        self._buckets.clear()
