"""Running a Slack stub: `start_slack_stub` in an event loop, or `SlackStubThread` for synchronous callers.

async with start_slack_stub(SlackStubOptions(strict_channels=True)) as stub:
    client = stub.client()                      # AsyncWebClient(token=..., base_url=stub.api_url)
    await client.chat_postMessage(channel="#desktop-ops", text="hi")
    stub.state.messages("desktop-ops")          # what Slack would show
    stub.state.faults.rate_limit(2, retry_after=0)
    await stub.set_down(True)                   # connections refused until set_down(False)

with SlackStubThread() as stub:
    ...  # stub.api_url; stub.call(stub.state.faults.drop) runs on the server's loop
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import structlog
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from monitor.devtools.slackstub.control import add_control_routes
from monitor.devtools.slackstub.options import SlackStubOptions
from monitor.devtools.slackstub.server import STATE_KEY, SWITCH_KEY, Switch, add_api_routes
from monitor.devtools.slackstub.socket import SOCKET_KEY, SOCKET_PATH, SocketHub, add_socket_routes
from monitor.devtools.slackstub.state import StubState

__all__ = ["SlackStub", "SlackStubThread", "build_app", "start_slack_stub"]

log = structlog.get_logger(__name__)

T = TypeVar("T")
# Requests still running at shutdown (a long `delay` fault) are cancelled after this long.
_SHUTDOWN_TIMEOUT = 1.0
_START_TIMEOUT = 30.0


def build_app(state: StubState) -> web.Application:
    app = web.Application()
    app[STATE_KEY] = state
    app[SWITCH_KEY] = Switch(state)
    add_api_routes(app)
    add_control_routes(app)
    add_socket_routes(app, SocketHub(state.options.app_id))
    return app


@dataclass(frozen=True)
class SlackStub:
    """A running stub: where it listens, its state, and its on/off switch."""

    state: StubState
    host: str
    port: int
    switch: Switch
    #: Socket Mode: the connections `apps.connections.open` leads to, envelopes and acks.
    socket: SocketHub = field(default_factory=SocketHub)

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        """What slack_sdk calls `base_url` (with the trailing slash it needs)."""
        return f"{self.base_url}/api/"

    @property
    def token(self) -> str:
        return sorted(self.state.options.tokens)[0]

    def response_url(self, response_id: str = "r1") -> str:
        """A response_url as a slash command or an action carries it (valid 5 uses, 30 minutes from now)."""
        self.state.issue_response_url(response_id)
        return f"{self.base_url}/response/{response_id}"

    def client(self, token: str | None = None, **kwargs: Any) -> AsyncWebClient:
        """A slack_sdk client talking to this stub (create it inside the loop that will use it)."""
        return AsyncWebClient(token=token or self.token, base_url=self.api_url, **kwargs)

    async def set_down(self, down: bool, *, seconds: float | None = None) -> None:
        """Refuse connections (and drop requests on open ones) until `set_down(False)` or `seconds` pass."""
        if down:
            await self.switch.go_down(seconds)
        else:
            await self.switch.go_up()


@contextlib.asynccontextmanager
async def start_slack_stub(options: SlackStubOptions | None = None) -> AsyncIterator[SlackStub]:
    """Serve until the block ends."""
    options = options or SlackStubOptions()
    state = StubState(options)
    app = build_app(state)
    switch = app[SWITCH_KEY]
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
    await runner.setup()
    site = web.TCPSite(runner, options.host, options.port, reuse_address=True)
    await site.start()
    host, port = runner.addresses[0][:2]
    sites = [site]

    async def stop_listening() -> None:
        await sites.pop().stop()
        await app[SOCKET_KEY].close()  # Socket Mode links drop with the rest of Slack

    async def listen_again() -> None:
        # The same port again: clients configured with the stub's URL must find it back.
        again = web.TCPSite(runner, str(host), int(port), reuse_address=True)
        await again.start()
        sites.append(again)

    switch.attach(stop_listening, listen_again)
    stub = SlackStub(state=state, host=str(host), port=int(port), switch=switch, socket=app[SOCKET_KEY])
    state.socket_url = f"ws://{stub.base_url.removeprefix('http://')}{SOCKET_PATH}"
    log.info("slackstub.started", url=stub.base_url)
    try:
        yield stub
    finally:
        await switch.close()
        await stub.socket.close()
        await runner.cleanup()
        log.info("slackstub.stopped")


class SlackStubThread:
    """A stub on its own event loop in a daemon thread, for synchronous code (slack_sdk's WebClient, bolt).

    The state lives on that loop: read it freely for assertions, but change it only through `call`.
    """

    def __init__(self, options: SlackStubOptions | None = None) -> None:
        self.options = options or SlackStubOptions()
        self._stub: SlackStub | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="slack-stub", daemon=True)

    @property
    def stub(self) -> SlackStub:
        if self._stub is None:
            raise RuntimeError("the Slack stub is not running")
        return self._stub

    @property
    def base_url(self) -> str:
        return self.stub.base_url

    @property
    def api_url(self) -> str:
        return self.stub.api_url

    @property
    def token(self) -> str:
        return self.stub.token

    @property
    def state(self) -> StubState:
        return self.stub.state

    def start(self) -> SlackStubThread:
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("the Slack stub did not start")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=_START_TIMEOUT)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(*args, **kwargs)` on the stub's loop, wait, and return its result."""
        if self._loop is None:
            raise RuntimeError("the Slack stub is not running")

        async def run() -> T:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=_START_TIMEOUT)

    def run(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
        """Await `fn(*args, **kwargs)` on the stub's loop (e.g. `stub.run(stub.stub.socket.send, ...)`)."""
        if self._loop is None:
            raise RuntimeError("the Slack stub is not running")
        future = asyncio.run_coroutine_threadsafe(fn(*args, **kwargs), self._loop)
        return future.result(timeout=_START_TIMEOUT)

    def set_down(self, down: bool, *, seconds: float | None = None) -> None:
        if self._loop is None:
            raise RuntimeError("the Slack stub is not running")
        future = asyncio.run_coroutine_threadsafe(self.stub.set_down(down, seconds=seconds), self._loop)
        future.result(timeout=_START_TIMEOUT)

    def __enter__(self) -> SlackStubThread:
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
        async with start_slack_stub(self.options) as stub:
            self._stub = stub
            self._ready.set()
            await self._stop.wait()
