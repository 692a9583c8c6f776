"""bench/steady.py's probe inside the daemon it measures: Python imports `sitecustomize` at start-up, and
steady.py puts this directory first on the child's PYTHONPATH with `STEADY_PROBE_OUT` set.

It starts tracemalloc at once (so every object is accounted for, not only those made after some point),
then a thread writes one JSON line to `STEADY_PROBE_OUT` every `STEADY_PROBE_EVERY` seconds: the monotonic
time, the traced total's lowest and highest value since the last line (read every 50 ms: the lowest is
the daemon between cycles, the highest mid-cycle), and `rest`: the traced total read once the daemon is
back at rest (`rested`: within 512 KB of that lowest; it waits up to 3 s) and `gc.collect()` has freed the
cyclic garbage, i.e. what is alive. Once the file `STEADY_PROBE_OUT` + ".start" exists (the bench's
warm-up is over), every `STEADY_PROBE_SITES_EVERY` seconds a line also carries the traced size and block
count of every allocation site (file:line, and the innermost line of monitor/ in its stack of
`STEADY_PROBE_FRAMES` frames), counted at that moment: counting a heap of tens of MB holds
the GIL for a while, so it is done rarely and never during the daemon's start. Without `STEADY_PROBE_OUT`
it does nothing. Nothing of the product imports it.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
import tracemalloc

#: Allocations of the probe and of the import machinery are not the daemon's.
_IGNORED = (
    tracemalloc.__file__,
    __file__,
    "<frozen importlib._bootstrap>",
    "<frozen importlib._bootstrap_external>",
)


def _sites() -> dict[str, list[int]]:
    """Size and blocks of each site (file:line). Grouped here over the raw traces: the Snapshot's own
    `statistics` and `filter_traces` build objects per trace in Python, over a minute for a million traces
    on a loaded machine, against about a second for this loop."""
    traces = tracemalloc._get_traces()  # what take_snapshot() wraps: (domain, size, frames, nframes)
    by_frames: dict[object, list[int]] = {}
    for trace in traces:
        found = by_frames.get(trace[2])
        if found is None:
            by_frames[trace[2]] = [trace[1], 1]
        else:
            found[0] += trace[1]
            found[1] += 1
    sites: dict[str, list[int]] = {}
    for frames, (size, count) in by_frames.items():
        stack: tuple[tuple[str, int], ...] = frames or (("<unknown>", 0),)  # type: ignore[assignment]
        filename, lineno = stack[0]  # the innermost frame first
        if filename in _IGNORED:
            continue
        key = f"{filename}:{lineno}"
        # And the innermost line of ours that led there: who keeps allocating what stays.
        ours = next((f"{name}:{line}" for name, line in stack if "/monitor/" in name), None)
        if ours is not None and ours != key:
            key = f"{key} <- {ours}"
        site = sites.setdefault(key, [0, 0])
        site[0] += size
        site[1] += count
    return sites


#: Between cycles the traced total is back near the window's lowest: within this much of it is "at rest".
_REST_MARGIN = 512 * 1024
#: How long to wait for the daemon to be at rest before reading anyway (the line says it did not rest).
_REST_WAIT = 3.0


def _await_rest(low: float) -> bool:
    deadline = time.monotonic() + _REST_WAIT
    while tracemalloc.get_traced_memory()[0] > low + _REST_MARGIN:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def _run(path: str, every: float, sites_every: float) -> None:
    sites_due = float("inf")
    with open(path, "a", encoding="utf-8") as out:
        while True:
            low, high = float("inf"), 0
            until = time.monotonic() + every
            while time.monotonic() < until:
                traced = tracemalloc.get_traced_memory()[0]
                low, high = min(low, traced), max(high, traced)
                time.sleep(0.05)
            # At rest between cycles, with the cyclic garbage collected (the daemon pauses the collector
            # during cycles, so garbage waits for the next full collection): what is left is what lives.
            rested = _await_rest(low)
            gc.collect()
            line: dict[str, object] = {
                "t": time.monotonic(),
                "low": low,
                "high": high,
                "rest": tracemalloc.get_traced_memory()[0],
                "rested": rested,
            }
            if sites_due == float("inf") and os.path.exists(path + ".start"):
                sites_due = time.monotonic()
            if time.monotonic() >= sites_due:
                line["sites"] = _sites()
                sites_due += sites_every
            out.write(json.dumps(line) + "\n")
            out.flush()
            del line  # the counts of every site are MBs: not to be read as the daemon's in the next line


def _start() -> None:
    path = os.environ.get("STEADY_PROBE_OUT")
    if not path:
        return
    tracemalloc.start(int(os.environ.get("STEADY_PROBE_FRAMES", "8")))
    every = float(os.environ.get("STEADY_PROBE_EVERY", "5"))
    sites_every = float(os.environ.get("STEADY_PROBE_SITES_EVERY", "30"))
    threading.Thread(target=_run, args=(path, every, sites_every), name="steady-probe", daemon=True).start()


_start()
