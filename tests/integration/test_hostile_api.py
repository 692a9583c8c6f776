"""A hostile Workspace endpoint over real loopback HTTP: answers that would take the daemon's memory or time.

The server is a bare aiohttp application (not the simulator): it sends exactly the bytes each test wants,
as slowly as it wants.
"""

from __future__ import annotations

import asyncio
import contextlib
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from monitor.engine import Engine
from monitor.notify.payload import is_meta
from monitor.rules.load import load_rules_text
from monitor.selfwatch import SelfWatch
from monitor.store import SQLiteStore
from monitor.workspace.auth import IamPasswordAuth, StaticTokenAuth
from monitor.workspace.client import MAX_ANSWER_BYTES, RetryPolicy, TaskFilter, WorkspaceClient
from monitor.workspace.errors import MalformedResponseError, TransportError

PROJECT = "p" * 32
RULES = """
rules:
  - name: all
    match:
      task_name: "*"
    channel: "#alerts"
"""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def serve(handler: Handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


def client_for(base_url: str, **policy: float) -> WorkspaceClient:
    retry = {"attempts": 1, "wait_initial": 0, "wait_max": 0, "wait_jitter": 0, **policy}
    return WorkspaceClient(
        endpoint=base_url,
        project_id=PROJECT,
        auth=StaticTokenAuth("static-token-value"),
        retry=RetryPolicy(**retry),  # type: ignore[arg-type]
    )


@pytest.fixture
async def bomb_server() -> AsyncIterator[tuple[str, list[int]]]:
    """Answers every request with 2 GB of zeros, gzip-compressed as they are sent (about 2 MB on the wire)."""
    sent: list[int] = [0]

    async def bomb(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
        )
        await response.prepare(request)
        compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        zeros = bytes(1024 * 1024)
        try:
            for _ in range(2048):
                if request.transport is None or request.transport.is_closing():
                    break  # the client hung up: what it should do
                sent[0] += len(zeros)
                await response.write(compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH))
                await asyncio.sleep(0)  # the client shares this event loop
            await response.write(compressor.flush())
        except ConnectionError:
            pass
        return response

    runner, url = await serve(bomb)
    yield url, sent
    await runner.cleanup()


async def test_a_gzip_bomb_is_a_bad_answer_and_costs_no_memory(bomb_server: tuple[str, list[int]]) -> None:
    url, sent = bomb_server
    tracemalloc.start()
    try:
        async with client_for(url) as client:
            with pytest.raises(MalformedResponseError, match=r"larger than 4 MB decoded"):
                await client.fetch_tasks(TaskFilter(last_status="FAIL"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * MAX_ANSWER_BYTES
    assert sent[0] < 64 * 1024**2  # the client stopped reading long before the end (of 2 GB)


# A slow-loris API (issue 20: one byte every 5 s stopped polling forever, without the ops meta-alert).
# Scaled down: a byte every 50 ms against a 0.3 s deadline, so that httpx's per-read timeout never trips.

GAP = 0.05
DEADLINE = 0.3
PAGE_DEADLINE_FAR_ABOVE_GAP = 5.0


@pytest.fixture
async def slow_loris() -> AsyncIterator[tuple[str, list[int]]]:
    """Answers 200 at once, then its JSON one byte every GAP seconds, without end."""
    requests: list[int] = [0]

    async def drip(request: web.Request) -> web.StreamResponse:
        requests[0] += 1
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            await response.write(b'{"scheduled_tasks": [')
            while request.transport is not None and not request.transport.is_closing():
                await response.write(b" ")
                await asyncio.sleep(GAP)
        return response

    runner, url = await serve(drip)
    yield url, requests
    await runner.cleanup()


async def test_a_request_that_never_finishes_is_a_transport_failure(
    slow_loris: tuple[str, list[int]],
) -> None:
    url, requests = slow_loris
    async with WorkspaceClient(
        endpoint=url,
        project_id=PROJECT,
        auth=StaticTokenAuth("static-token-value"),
        timeout=DEADLINE,
        retry=RetryPolicy(attempts=2, wait_initial=0, wait_max=0, wait_jitter=0),
    ) as client:
        with pytest.raises(TransportError, match=r"no complete answer within 0.3 s"):
            await client.fetch_tasks(TaskFilter(last_status="FAIL"))
    assert requests[0] == 2  # retried once, as any transport failure


async def test_a_slow_loris_api_fires_the_meta_alert_after_outage_cycles(
    slow_loris: tuple[str, list[int]], tmp_path: Path
) -> None:
    url, _ = slow_loris
    store = SQLiteStore.open(tmp_path / "state.db")
    selfwatch = SelfWatch(store, ops_channel="#ops", threshold=3)
    async with WorkspaceClient(
        endpoint=url,
        project_id=PROJECT,
        auth=StaticTokenAuth("static-token-value"),
        timeout=DEADLINE,
        retry=RetryPolicy(attempts=1),
    ) as client:
        engine = Engine(
            client=client,
            store=store,
            ruleset=load_rules_text(RULES, "rules.yaml"),
            project=PROJECT,
            default_channel="#alerts",
        )
        for cycle in range(1, 4):
            with pytest.raises(TransportError) as caught:
                await engine.run_cycle()
            selfwatch.cycle_failed(caught.value)
            meta = [
                row
                for row in store.pending_outbox(now=datetime.now(UTC), limit=10)
                if is_meta(row.entry.payload)
            ]
            assert len(meta) == (1 if cycle == 3 else 0)
    assert "no complete answer" in meta[0].entry.payload["error"]
    store.close()


async def test_a_cycle_of_slow_answers_ends_at_its_deadline(tmp_path: Path) -> None:
    """Each page answers within the request deadline, but there are many: the cycle's own deadline ends it,
    as an API failure."""

    async def slow_pages(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(GAP)
        offset = int(request.query.get("offset", "0"))
        tasks = [{"id": f"t-{offset + i}", "last_status": "FAIL"} for i in range(50)]
        return web.json_response({"scheduled_tasks": tasks, "total_count": 10_000})

    runner, url = await serve(slow_pages)
    store = SQLiteStore.open(tmp_path / "state.db")
    try:
        async with WorkspaceClient(
            endpoint=url,
            project_id=PROJECT,
            auth=StaticTokenAuth("static-token-value"),
            # Far above a page's GAP, so that only the cycle's deadline can end the cycle, even on a machine
            # so loaded that one page takes several GAPs.
            timeout=PAGE_DEADLINE_FAR_ABOVE_GAP,
            concurrency=1,
            retry=RetryPolicy(attempts=1),
        ) as client:
            engine = Engine(
                client=client,
                store=store,
                ruleset=load_rules_text(RULES, "rules.yaml"),
                project=PROJECT,
                default_channel="#alerts",
                cycle_deadline=0.5,
            )
            with pytest.raises(TransportError, match=r"the cycle did not finish within 0.5 s"):
                await engine.run_cycle()
        assert store.load_open_alerts() == {}  # nothing half-decided was stored
    finally:
        store.close()
        await runner.cleanup()


async def test_an_iam_that_never_finishes_a_token_is_a_transport_failure(
    slow_loris: tuple[str, list[int]],
) -> None:
    url, _ = slow_loris
    auth = IamPasswordAuth(
        iam_endpoint=url,
        username="ops",
        password="pw-secret",
        domain="acme",
        project_id=PROJECT,
        http=httpx.AsyncClient(timeout=DEADLINE),
    )
    async with WorkspaceClient(
        endpoint=url,
        project_id=PROJECT,
        auth=auth,
        timeout=DEADLINE,
        retry=RetryPolicy(attempts=1),
        closing=[auth._http],
    ) as client:
        with pytest.raises(TransportError, match=r"no IAM token within 0.3 s"):
            await client.fetch_tasks(TaskFilter(last_status="FAIL"))


async def test_a_gzip_bomb_from_iam_is_a_bad_answer(bomb_server: tuple[str, list[int]]) -> None:
    url, sent = bomb_server
    auth = IamPasswordAuth(
        iam_endpoint=url, username="ops", password="pw-secret", domain="acme", project_id=PROJECT,
        http=httpx.AsyncClient(timeout=10),
    )  # fmt: skip
    async with WorkspaceClient(
        endpoint=url, project_id=PROJECT, auth=auth, retry=RetryPolicy(attempts=1), closing=[auth._http]
    ) as client:
        with pytest.raises(MalformedResponseError, match=r"larger than 4 MB decoded"):
            await client.fetch_tasks(TaskFilter(last_status="FAIL"))
    assert sent[0] < 64 * 1024**2
