"""Recent request signatures: a repeat within the window is a replay; memory stays bounded."""

from __future__ import annotations

from monitor.chatops.replay import REMEMBER, RecentSignatures


def recent(capacity: int = 100) -> tuple[RecentSignatures, list[float]]:
    now = [1000.0]
    return RecentSignatures(clock=lambda: now[0], capacity=capacity), now


def test_a_signature_is_new_once() -> None:
    signatures, _ = recent()
    assert [signatures.first_time(s) for s in ("v0=a", "v0=a", "v0=b", "v0=a")] == [True, False, True, False]


def test_a_signature_is_forgotten_after_the_window_that_bolt_enforces() -> None:
    """After 11 minutes bolt refuses it by its timestamp (5 minutes either side): it may be forgotten."""
    signatures, now = recent()
    assert signatures.first_time("v0=a")
    now[0] += REMEMBER - 1
    assert not signatures.first_time("v0=a")
    now[0] += 2
    assert signatures.first_time("v0=a")
    assert len(signatures) == 1


def test_memory_is_bounded_by_forgetting_the_oldest() -> None:
    signatures, now = recent(capacity=3)
    for name in ("v0=1", "v0=2", "v0=3", "v0=4"):
        assert signatures.first_time(name)
        now[0] += 1
    assert len(signatures) == 3
    assert signatures.first_time("v0=1")  # the oldest went first
    assert not signatures.first_time("v0=4")
