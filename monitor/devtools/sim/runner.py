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
from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog
from aiohttp import web

from monitor.devtools.loopback import SHUTDOWN_TIMEOUT, ServerThread, http_url
from monitor.devtools.sim.app import build_app
from monitor.devtools.sim.options import SimOptions
from monitor.devtools.sim.state import SimState

__all__ = ["Simulator", "SimulatorThread", "start_simulator"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Simulator:
    """A running simulator: where it listens and its state."""

    state: SimState
    host: str
    port: int

    @property
    def base_url(self) -> str:
        return http_url(self.host, self.port)


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
    runner = web.AppRunner(build_app(state), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
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


class SimulatorThread(ServerThread[Simulator]):
    """A simulator on its own event loop in a daemon thread, for synchronous code (the official SDK).

    The state lives on that loop: read it freely for assertions, but change it only through `call`, which
    runs the function on the loop and returns its result (or raises its exception).
    """

    def __init__(self, options: SimOptions | None = None) -> None:
        self.options = options or SimOptions()
        super().__init__(lambda: start_simulator(self.options), name="workspace-sim", what="the simulator")

    @property
    def simulator(self) -> Simulator:
        return self.server

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def state(self) -> SimState:
        return self.server.state
