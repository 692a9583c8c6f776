"""A hostile Workspace endpoint over real loopback HTTP: answers that would take the daemon's memory or time.

The server is a bare aiohttp application (not the simulator): it sends exactly the bytes each test wants,
as slowly as it wants.
"""

from __future__ import annotations

import asyncio
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from monitor.workspace.auth import StaticTokenAuth
from monitor.workspace.client import MAX_ANSWER_BYTES, RetryPolicy, TaskFilter, WorkspaceClient
from monitor.workspace.errors import MalformedResponseError

PROJECT = "p" * 32
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
