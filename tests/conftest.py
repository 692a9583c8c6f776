"""Shared fixtures and hooks (the helpers they use live in tests/support/): a running Workspace API simulator
(async or in a thread) and a raw HTTP caller for it.

`sim` and `sim_thread` start a small simulator on a free loopback port; `api` calls it with httpx, signing
with AK/SK (the simulator's default or temporary key), sending a token, or sending nothing.

Also for the whole run: hypothesis profiles (`HYPOTHESIS_PROFILE=ci` for a few thousand examples per target,
a small default for developers), and the secret scan (tests/support/secret_scan.py), which fails any test
whose logs, captured subprocess stderr or error messages carry a known secret.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import HealthCheck, settings

from monitor.devtools.sim import Simulator, SimulatorThread, start_simulator
from tests.support.pg import postgres_server, postgres_url
from tests.support.secret_scan import SecretScan
from tests.support.simapi import Api, http_client, small_options

__all__ = ["postgres_server", "postgres_url"]  # PostgreSQL fixtures (tests/support/pg.py), shared by name

# Fuzz targets leave max_examples to the profile. No deadlines: a loaded 2-core CI box is not a bug. CI is
# derandomized (the same examples every run: a red build is a change's doing, not luck); developers' runs
# explore new examples each time and keep failures in .hypothesis/ to replay.
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci",
    max_examples=2000,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_configure(config: pytest.Config) -> None:
    scan = SecretScan()
    scan.install()
    config.pluginmanager.register(scan, "secret-scan")
    config.add_cleanup(scan.uninstall)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with start_simulator(small_options()) as running:
        yield running


@pytest.fixture
async def api(sim: Simulator) -> AsyncIterator[Api]:
    async with http_client() as http:
        yield Api(sim.base_url, http)


@pytest.fixture
def sim_thread() -> Iterator[SimulatorThread]:
    # More tasks than `sim`: the official SDK pages 50 at a time and must need several pages.
    with SimulatorThread(small_options(tasks=130)) as running:
        yield running
