"""How much the chat app may ask of the Workspace API: a rate per person, and a cap for everyone together.

    PerUserRate    each person may run `RATE_PER_USER` commands (typed or page buttons) a minute, in a burst
                   of as many; more get a polite "slow down, try again in N s" and cost the API nothing
    TokenBucket    the app's client sends at most `API_RATE` requests a second after a burst of `API_BURST`
                   (one full listing of 10,000 tasks is ~200 requests): the poller keeps the account's API
                   quota whatever people type. `CappedTransport` makes every request of the app's client
                   wait for a token; the daemon's own polling has its own client and never waits here.

Both are per replica, in memory, on the monotonic clock.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

__all__ = [
    "API_BURST",
    "API_RATE",
    "RATE_PER_USER",
    "CappedTransport",
    "PerUserRate",
    "TokenBucket",
]

RATE_PER_USER = 10  # commands a minute
API_RATE = 25.0  # requests a second
API_BURST = 250
_USERS_KEPT = 10_000


@dataclass
class TokenBucket:
    """`rate` tokens a second up to `burst`; starts full."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    _tokens: float = field(init=False)
    _at: float = field(init=False)

    def __post_init__(self) -> None:
        self._tokens = self.burst
        self._at = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + max(0.0, now - self._at) * self.rate)
        self._at = now

    def try_take(self) -> float:
        """0 when a token was taken, else the seconds until one will be there (nothing taken)."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate

    async def take(self) -> None:
        """A token, waiting as long as it takes. A taker reserves its token at once (the count may go
        negative), so waiting takers are served in order and a crowd cannot starve anyone."""
        self._refill()
        self._tokens -= 1
        if self._tokens < 0:
            await asyncio.sleep(-self._tokens / self.rate)


class PerUserRate:
    """`per_minute` commands a minute for each user id (a burst of as many)."""

    def __init__(self, per_minute: int = RATE_PER_USER, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def wait_for(self, user: str) -> float:
        """0 when `user` may run a command now (and it is counted), else the seconds to wait."""
        bucket = self._buckets.get(user)
        if bucket is None:
            bucket = TokenBucket(self.per_minute / 60.0, self.per_minute, self._clock)
            self._buckets[user] = bucket
            while len(self._buckets) > _USERS_KEPT:  # forgetting someone gives them a full bucket back
                self._buckets.popitem(last=False)
        self._buckets.move_to_end(user)
        return bucket.try_take()


class CappedTransport(httpx.AsyncBaseTransport):
    """An httpx transport whose requests each wait for a token of `bucket` first."""

    def __init__(self, inner: httpx.AsyncBaseTransport, bucket: TokenBucket) -> None:
        self._inner = inner
        self._bucket = bucket

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._bucket.take()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
