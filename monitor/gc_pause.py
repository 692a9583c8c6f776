"""Pausing Python's cyclic garbage collector while a poll cycle builds its objects.

A cycle after a mass failure makes hundreds of thousands of small objects (decisions, alert states, payloads)
that live until the cycle ends and are then freed by reference counting; almost none are part of a
reference cycle. With the collector running, allocating them triggers collections that age them into the
oldest generation, and full collections that traverse the whole heap - the listing of every task included -
for nothing, a large share of such a cycle's CPU (bench/findings.md). Paused, they die young and the
collector never sees them; whatever survives is collected as usual once the pause ends.

The pause is process-wide (the collector has one switch), so it is kept to the cycle; nested pauses, and a
collector someone else turned off, are left as they are.

Network I/O inside a cycle is the exception: every HTTP request (httpx, httpcore, anyio) leaves objects in
reference cycles that only the collector frees. A mass failure fetches the records of every failing task, so
with the collector paused that garbage piled up until the cycle ended, a peak RSS growing with the number
of requests (bench/findings.md). `collector_running` turns it back on for such a body.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused", "collector_running"]

#: Pauses of ours in progress (a collector turned off by someone else is not ours to turn on).
_pauses = 0


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the body with the cyclic garbage collector off, and turn it back on after."""
    if not gc.isenabled():
        yield
        return
    global _pauses
    gc.disable()
    _pauses += 1
    try:
        yield
    finally:
        _pauses -= 1
        gc.enable()


@contextmanager
def collector_running() -> Iterator[None]:
    """Inside our pause, run the body with the collector on (I/O whose garbage is cyclic), then pause again.
    Outside a pause of ours - collector on, or turned off by someone else - nothing changes."""
    if gc.isenabled() or not _pauses:
        yield
        return
    gc.enable()
    try:
        yield
    finally:
        if _pauses:  # a concurrent cycle's pause (the switch is process-wide) may have ended meanwhile
            gc.disable()
