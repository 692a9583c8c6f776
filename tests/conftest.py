"""Shared fixtures: a running Workspace API simulator (async or in a thread) and a raw HTTP caller for it.

`sim` and `sim_thread` start a small simulator on a free loopback port; `api` calls it with httpx, signing
with AK/SK (the simulator's default or temporary key), sending a token, or sending nothing.

Also for the whole run: hypothesis profiles (`HYPOTHESIS_PROFILE=ci` for a few thousand examples per target,
a small default for developers), and the secret scan (tests/security/secret_scan.py), which fails any test
whose logs, captured subprocess stderr or error messages carry a known secret.
"""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, settings

from monitor.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    DEFAULT_SECURITY_TOKEN,
    DEFAULT_TEMP_ACCESS_KEY,
    DEFAULT_TEMP_SECRET_KEY,
    SimOptions,
    Simulator,
    SimulatorThread,
    start_simulator,
)
from monitor.workspace import signer
from tests.pg import postgres_server, postgres_url
from tests.security.secret_scan import SecretScan

__all__ = ["postgres_server", "postgres_url"]  # PostgreSQL fixtures (tests/pg.py), shared by name

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


def small_options(**overrides: object) -> SimOptions:
    """A simulator small enough to start in milliseconds, with enough FAIL/SKIP tasks to page through."""
    values: dict[str, object] = {"tasks": 60, "fail_rate": 0.5, "skip_rate": 0.1, "seed": 7}
    values.update(overrides)
    return SimOptions(**values)  # type: ignore[arg-type]


def signed_headers(
    method: str,
    url: str,
    *,
    access_key: str = DEFAULT_ACCESS_KEY,
    secret_key: str = DEFAULT_SECRET_KEY,
    security_token: str | None = None,
    project_id: str = DEFAULT_PROJECT_ID,
    now: datetime | None = None,
    body: bytes = b"",
) -> dict[str, str]:
    """Headers that sign `url` (whose query must already be canonical) the way the official SDK does."""
    parts = urlsplit(url)
    pairs = (p.partition("=") for p in parts.query.split("&") if p)
    params = [(unquote(k), unquote(v)) for k, _, v in pairs]
    headers = {
        "Host": parts.netloc,
        "X-Sdk-Date": signer.format_sdk_date(now or datetime.now(UTC)),
        "X-Project-Id": project_id,
        "Content-Type": "application/json",
    }
    if security_token is not None:
        headers["X-Security-Token"] = security_token
    headers["Authorization"] = signer.sign(
        access_key=access_key,
        secret_key=secret_key,
        method=method,
        path=parts.path,
        params=params,
        headers=headers,
        body=body,
    )
    return headers


@dataclass
class Api:
    """Raw calls to a running simulator; the query is sent exactly as signed (canonical order)."""

    base_url: str
    http: httpx.AsyncClient

    def url(self, path: str, params: Sequence[tuple[str, str]] = ()) -> str:
        query = signer.canonical_query(list(params))
        return self.base_url + path + (f"?{query}" if query else "")

    async def get(
        self,
        path: str,
        params: Sequence[tuple[str, str]] = (),
        *,
        auth: str = "aksk",
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        **sign: object,
    ) -> httpx.Response:
        """`auth`: "aksk", "temp" (temporary key + X-Security-Token), "token" (X-Auth-Token) or "none"."""
        url = self.url(path, params)
        sent: dict[str, str] = {}
        if auth == "aksk":
            sent = signed_headers("GET", url, **sign)  # type: ignore[arg-type]
        elif auth == "temp":
            sent = signed_headers(
                "GET",
                url,
                access_key=DEFAULT_TEMP_ACCESS_KEY,
                secret_key=DEFAULT_TEMP_SECRET_KEY,
                security_token=DEFAULT_SECURITY_TOKEN,
                **sign,  # type: ignore[arg-type]
            )
        elif auth == "token":
            sent = {"X-Auth-Token": token or ""}
        sent.update(headers or {})
        return await self.http.get(url, headers=sent)

    def tasks_path(self, suffix: str = "", project_id: str = DEFAULT_PROJECT_ID) -> str:
        return f"/v2/{project_id}/scheduled-tasks{suffix}"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with start_simulator(small_options()) as running:
        yield running


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def http_client() -> httpx.AsyncClient:
    """An httpx client for loopback; sharing one SSL context saves ~70 ms per client (it loads CA files)."""
    return httpx.AsyncClient(trust_env=False, timeout=10, verify=_ssl_context())


@pytest.fixture
async def api(sim: Simulator) -> AsyncIterator[Api]:
    async with http_client() as http:
        yield Api(sim.base_url, http)


@pytest.fixture
def sim_thread() -> Iterator[SimulatorThread]:
    # More tasks than `sim`: the official SDK pages 50 at a time and must need several pages.
    with SimulatorThread(small_options(tasks=130)) as running:
        yield running
