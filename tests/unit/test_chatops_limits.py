"""The chat app's limits: a token bucket (per person, and for all the app's API requests together)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from monitor.chatops.limits import CappedTransport, PerUserRate, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("takes", "later", "wait"),
    [
        (0, 0.0, 0.0),  # starts full
        (2, 0.0, 0.0),
        (3, 0.0, 1.0),  # the burst spent: one a second
        (3, 0.5, 0.5),  # half a token back after half a second
        (3, 1.0, 0.0),
        (6, 10.0, 1.0),  # a long pause refills up to the burst, never beyond (3 taken after it, 4th waits)
    ],
)
def test_a_token_bucket_gives_a_burst_then_its_rate(takes: int, later: float, wait: float) -> None:
    clock = Clock()
    bucket = TokenBucket(rate=1.0, burst=3, clock=clock)
    for _ in range(min(takes, 3)):
        assert bucket.try_take() == 0
    clock.now += later
    for _ in range(takes - 3):
        assert bucket.try_take() == 0
    assert bucket.try_take() == pytest.approx(wait)


def test_a_refused_take_costs_nothing() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=1.0, burst=1, clock=clock)
    assert bucket.try_take() == 0
    assert [bucket.try_take() for _ in range(3)] == [1.0, 1.0, 1.0]
    clock.now += 1
    assert bucket.try_take() == 0


def test_each_person_has_ten_commands_a_minute() -> None:
    clock = Clock()
    rate = PerUserRate(per_minute=10, clock=clock)
    assert [rate.wait_for("U1") for _ in range(10)] == [0.0] * 10
    assert rate.wait_for("U1") == pytest.approx(6.0)
    assert rate.wait_for("U2") == 0.0
    clock.now += 6
    assert rate.wait_for("U1") == 0.0


async def test_the_capped_transport_sends_a_burst_then_waits_for_tokens() -> None:
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(200)

    bucket = TokenBucket(rate=1000.0, burst=2, clock=Clock())  # a stopped clock: no refill
    async with httpx.AsyncClient(transport=CappedTransport(httpx.MockTransport(answer), bucket)) as client:
        await asyncio.gather(*(client.get(f"http://api.test/{index}") for index in range(5)))
    assert len(sent) == 5
    # All 5 were let through, 3 of them after waiting their turn: the bucket owes 3 tokens.
    assert bucket.try_take() == pytest.approx(4 / 1000)
