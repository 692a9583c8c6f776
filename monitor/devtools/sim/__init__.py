"""The Workspace API simulator: a real HTTP server on loopback for the demo, the tests and the benchmarks.

It answers the scheduled-task API (list, show, records, record details) with the official wire format,
verifies AK/SK signatures and IAM tokens like the gateway, and lets tests inject faults and change tasks
over time. Start it with `start_simulator` (async) or `SimulatorThread` (sync); `workspace-monitor simulate`
runs it from the command line (`cli.py`).

Modules, one job each: `options` (settings and default credentials), `entities` (tasks and records),
`data` (deterministic generation), `schedule` (next run times), `wire` (JSON shapes), `query` (parameters,
filters, paging), `auth` (signatures, tokens), `faults` (fault kinds), `edits` (field validation), `scenario`
(scripted steps), `stats`, `state` (all of it, and every mutation), `server` (API handlers), `control`
(`/_sim/` API), `app` (routes), `runner` (starting and stopping), `cli`.
"""

from monitor.devtools.sim.faults import Fault
from monitor.devtools.sim.options import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_IAM_DOMAIN,
    DEFAULT_IAM_PASSWORD,
    DEFAULT_IAM_USER,
    DEFAULT_PROJECT_ID,
    DEFAULT_REGION,
    DEFAULT_SECRET_KEY,
    DEFAULT_SECURITY_TOKEN,
    DEFAULT_TEMP_ACCESS_KEY,
    DEFAULT_TEMP_SECRET_KEY,
    SimOptions,
)
from monitor.devtools.sim.runner import Simulator, SimulatorThread, start_simulator
from monitor.devtools.sim.state import SimState, UnknownTask

__all__ = [
    "DEFAULT_ACCESS_KEY",
    "DEFAULT_IAM_DOMAIN",
    "DEFAULT_IAM_PASSWORD",
    "DEFAULT_IAM_USER",
    "DEFAULT_PROJECT_ID",
    "DEFAULT_REGION",
    "DEFAULT_SECRET_KEY",
    "DEFAULT_SECURITY_TOKEN",
    "DEFAULT_TEMP_ACCESS_KEY",
    "DEFAULT_TEMP_SECRET_KEY",
    "Fault",
    "SimOptions",
    "SimState",
    "Simulator",
    "SimulatorThread",
    "UnknownTask",
    "start_simulator",
]
