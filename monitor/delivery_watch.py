"""Whether Slack answers the daemon's deliveries, for `/healthz`: `DeliveryWatch` wraps the notifier.

The daemon delivers on its own, beside polling (a Slack that never answers must not stop the cycles), so
polling's health says nothing about delivery. The watch times every delivery: a call still without an
answer after the limit, or calls failing without an answer (a timeout, a dropped or refused connection, a
5xx) for longer than the limit, make `problem()` name Slack. Any answer clears it: a message posted, and
also a rate limit or an error about one channel or message (Slack is there; selfwatch tells the ops
channel about a channel that refuses us).
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from monitor.durations import format_duration
from monitor.notify.dispatch import (
    DeliveryError,
    Memo,
    Notification,
    Notifier,
    Record,
    RetryableDeliveryError,
)

__all__ = ["DeliveryWatch"]

T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(UTC)


class DeliveryWatch:
    """A `Notifier` that remembers whether Slack answers; `problem(limit)` for /healthz."""

    def __init__(self, notifier: Notifier, *, clock: Callable[[], datetime] = _now) -> None:
        self.notifier = notifier
        self._clock = clock
        self._calls = itertools.count()
        self._in_flight: dict[int, datetime] = {}
        self._failing_since: datetime | None = None
        self._last_error: str | None = None

    def problem(self, limit: timedelta) -> str | None:
        """Why delivery is stuck (one line naming Slack), or None."""
        now = self._clock()
        waiting = min(self._in_flight.values(), default=None)
        if waiting is not None and now - waiting > limit:
            return (
                f"Slack has not answered a delivery for {_seconds(now - waiting)} (limit {_seconds(limit)}); "
                "polling goes on, notifications wait in the outbox"
            )
        if self._failing_since is not None and now - self._failing_since > limit:
            failing = _seconds(now - self._failing_since)
            return (
                f"Slack deliveries failing for {failing} (limit {_seconds(limit)}): {self._last_error}; "
                "notifications wait in the outbox"
            )
        return None

    async def _watched(self, call: Awaitable[T]) -> T:
        started = self._clock()
        token = next(self._calls)
        self._in_flight[token] = started
        try:
            result = await call
        except RetryableDeliveryError as exc:
            if exc.retry_after is None:  # no answer, or a broken one: Slack is not taking messages
                self._failing_since = self._failing_since or started
                self._last_error = str(exc)
            else:  # rate limited: Slack is there, pacing us
                self._answered()
            raise
        except DeliveryError:
            self._answered()  # an answer about this channel or message
            raise
        finally:
            del self._in_flight[token]
        self._answered()
        return result

    def _answered(self) -> None:
        self._failing_since = None
        self._last_error = None

    @property
    def kind(self) -> str:
        return self.notifier.kind

    async def deliver(self, notification: Notification, record: Record, memo: Memo) -> None:
        await self._watched(self.notifier.deliver(notification, record, memo))


def _seconds(delta: timedelta) -> str:
    return format_duration(timedelta(seconds=int(delta.total_seconds())))
