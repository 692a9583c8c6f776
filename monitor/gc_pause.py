"""Pausing Python's cyclic garbage collector while a poll cycle builds its objects.

A cycle after a mass failure makes hundreds of thousands of small objects (decisions, alert states, payloads)
that live until the cycle ends and are then freed by reference counting; almost none are part of a
reference cycle. With the collector running, allocating them triggers collections that age them into the
oldest generation, and full collections that traverse the whole heap - the listing of every task included -
for nothing: `bench/engine.py` measured that as half the CPU of such a cycle. Paused, they die young and the
collector never sees them; whatever survives is collected as usual once the pause ends.

The pause is process-wide (the collector has one switch), so it is kept to the cycle; nested pauses, and a
collector someone else turned off, are left as they are.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the body with the cyclic garbage collector off, and turn it back on after."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
