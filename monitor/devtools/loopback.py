"""What both stand-ins (the Workspace simulator, the Slack stand-in) share: a server on its own event loop in
a daemon thread for synchronous callers, and the control API's guard (loopback callers only, errors as JSON).

    class SimulatorThread(ServerThread[Simulator]):    # .start(), .stop(), .call(fn, ...), .run(coro_fn, ...)
        def __init__(self, options):
            super().__init__(lambda: start_simulator(options), name="workspace-sim", what="the simulator")

    app.router.add_get("/_sim/stats", guarded(STATE_KEY, _stats, {UnknownTask: 404}))
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from aiohttp import web

__all__ = [
    "SHUTDOWN_TIMEOUT",
    "START_TIMEOUT",
    "Handler",
    "ServerThread",
    "guarded",
    "http_url",
    "is_loopback",
    "json_body",
    "reply",
]

S = TypeVar("S")
T = TypeVar("T")
# How long starting, stopping, or a call onto the server's loop may take before the caller gives up.
START_TIMEOUT = 30.0
# Requests still running at shutdown (a long `delay` fault) are cancelled after this long.
SHUTDOWN_TIMEOUT = 1.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ServerThread(Generic[S]):
    """A server on its own event loop in a daemon thread, for synchronous code (the official SDKs, bolt).

    `serve` is the server's async context manager (`start_simulator(options)`); what it yields is `server`.
    The server's state lives on that loop: read it freely for assertions, but change it only through `call`
    (a plain function) or `run` (a coroutine function), which run on the loop and return the result.
    """

    def __init__(self, serve: Callable[[], AbstractAsyncContextManager[S]], *, name: str, what: str) -> None:
        self._serve_factory = serve
        self._what = what
        self._server: S | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def server(self) -> S:
        if self._server is None:
            raise RuntimeError(f"{self._what} is not running")
        return self._server

    def start(self) -> Self:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError(f"{self._what} did not start")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=START_TIMEOUT)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(*args, **kwargs)` on the server's loop, wait, and return its result."""

        async def run() -> T:
            return fn(*args, **kwargs)

        return self.run(run)

    def run(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
        """Await `fn(*args, **kwargs)` on the server's loop, wait, and return its result."""
        if self._loop is None:
            raise RuntimeError(f"{self._what} is not running")
        return asyncio.run_coroutine_threadsafe(fn(*args, **kwargs), self._loop).result(timeout=START_TIMEOUT)

    def __enter__(self) -> Self:
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
        async with self._serve_factory() as server:
            self._server = server
            self._ready.set()
            await self._stop.wait()


def http_url(host: str, port: int) -> str:
    """The base URL of a server listening on `host` (an IPv6 address in brackets) and `port`."""
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


def reply(body: Any, status: int = 200) -> web.Response:
    """A JSON answer, non-ASCII kept as it is."""
    return web.json_response(body, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False))


def is_loopback(remote: str | None) -> bool:
    """Whether a request's peer address is on this machine (None or garbage is not)."""
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


def guarded(
    state_key: web.AppKey[S],
    handler: Callable[[S, web.Request], Awaitable[web.Response]],
    statuses: Mapping[type[Exception], int] | None = None,
) -> Handler:
    """A control API handler: refuse callers not on this machine (403), call `handler` with the app's state,
    and turn the exceptions in `statuses` (then any ValueError, 400) into `{"error": "..."}` answers."""
    errors: dict[type[Exception], int] = {**(statuses or {}), ValueError: 400}
    caught = tuple(errors)

    async def wrapper(request: web.Request) -> web.StreamResponse:
        if not is_loopback(request.remote):
            return reply({"error": "the control API only answers loopback callers"}, 403)
        try:
            return await handler(request.app[state_key], request)
        except caught as exc:
            status = next(code for kind, code in errors.items() if isinstance(exc, kind))
            return reply({"error": str(exc)}, status)

    return wrapper


async def json_body(request: web.Request) -> Any:
    """The request's JSON body, `{}` when empty; ValueError (a 400 under `guarded`) when not JSON."""
    text = await request.text()
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except ValueError:
        raise ValueError("the body is not JSON") from None
