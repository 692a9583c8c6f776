"""The Workspace simulator as a process of its own for benchmarks: `simulator(tasks, latency_ms)`.

Kept apart from poll.py so a benchmark child that needs only this does not import the official SDK (tens of
megabytes of RSS that are not the monitor's).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["free_port", "simulator", "stop"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def simulator(
    tasks: int, latency_ms: float, *, fail_rate: float = 1.0, seed: int = 1, start_timeout: float = 60
) -> Iterator[str]:
    """`workspace-monitor simulate` as a child process (its CPU and memory are its own); yields its base URL
    once it answers. Generating 100,000 tasks takes a while: `start_timeout` seconds are allowed."""
    port = free_port()
    command = [
        sys.executable, "-m", "monitor.cli", "simulate", "--port", str(port), "--tasks", str(tasks),
        "--fail-rate", str(fail_rate), "--skip-rate", "0", "--seed", str(seed),
        "--latency-ms", str(latency_ms),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_sim/stats", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the simulator did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], grace: float = 10) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds: the simulator's state is disposable, and at 100,000 tasks
    (~700 MB of objects) the interpreter's own teardown after a clean stop took 10.4 s on a loaded 2-core
    machine, which made the scaling benchmark fail after its last point was measured."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
