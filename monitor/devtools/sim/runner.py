"""Running a simulator: `start_simulator` inside an event loop, or `SimulatorThread` for synchronous callers.

    async with start_simulator(SimOptions(tasks=100)) as sim:
        ...  # sim.base_url, sim.state (mutate it directly: same loop)

    with SimulatorThread(SimOptions(tasks=100)) as sim:
        ...  # sim.base_url; sim.call(sim.state.add_execution, task_id, "FAIL") runs on the server's loop

With `step_seconds` and a scenario, a background task runs one step per interval until the scenario ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import structlog
from aiohttp import web

from monitor.devtools.sim.app import build_app
from monitor.devtools.sim.options import SimOptions
from monitor.devtools.sim.state import SimState

__all__ = ["Simulator", "SimulatorThread", "start_simulator"]

log = structlog.get_logger(__name__)

T = TypeVar("T")
# Requests still running at shutdown (a long `delay` fault) are cancelled after this long.
_SHUTDOWN_TIMEOUT = 1.0
_START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Simulator:
    """A running simulator: where it listens and its state."""

    state: SimState
    host: str
    port: int

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


async def _step_forever(state: SimState, seconds: float) -> None:
    while state.scenario is not None and not state.scenario.done:
        await asyncio.sleep(seconds)
        try:
            state.advance_scenario()
        except ValueError as exc:
            log.warning("sim.scenario_step_failed", error=str(exc))


@contextlib.asynccontextmanager
async def start_simulator(options: SimOptions | None = None) -> AsyncIterator[Simulator]:
    """Serve until the block ends. The state is built (tasks generated) before the port opens."""
    options = options or SimOptions()
    state = SimState(options)
    runner = web.AppRunner(build_app(state), access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
    await runner.setup()
    stepper: asyncio.Task[None] | None = None
    try:
        site = web.TCPSite(runner, options.host, options.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        sim = Simulator(state=state, host=str(host), port=int(port))
        if options.step_seconds and state.scenario is not None:
            stepper = asyncio.create_task(_step_forever(state, options.step_seconds))
        log.info("sim.started", url=sim.base_url, tasks=len(state.tasks))
        yield sim
    finally:
        if stepper is not None:
            stepper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stepper
        await runner.cleanup()
        log.info("sim.stopped")


class SimulatorThread:
    """A simulator on its own event loop in a daemon thread, for synchronous code (the official SDK).

    The state lives on that loop: read it freely for assertions, but change it only through `call`, which
    runs the function on the loop and returns its result (or raises its exception).
    """

    def __init__(self, options: SimOptions | None = None) -> None:
        self.options = options or SimOptions()
        self._sim: Simulator | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="workspace-sim", daemon=True)

    @property
    def simulator(self) -> Simulator:
        if self._sim is None:
            raise RuntimeError("the simulator is not running")
        return self._sim

    @property
    def base_url(self) -> str:
        return self.simulator.base_url

    @property
    def state(self) -> SimState:
        return self.simulator.state

    def start(self) -> SimulatorThread:
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("the simulator did not start")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=_START_TIMEOUT)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(*args, **kwargs)` on the simulator's loop, wait, and return its result."""
        if self._loop is None:
            raise RuntimeError("the simulator is not running")

        async def run() -> T:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=_START_TIMEOUT)

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the starting thread; nothing else would see it
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with start_simulator(self.options) as sim:
            self._sim = sim
            self._ready.set()
            await self._stop.wait()
