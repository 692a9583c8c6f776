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

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from monitor.devtools.loopback import SHUTDOWN_TIMEOUT, ServerThread, http_url
from monitor.devtools.slackstub.control import add_control_routes
from monitor.devtools.slackstub.options import SlackStubOptions
from monitor.devtools.slackstub.server import STATE_KEY, SWITCH_KEY, Switch, add_api_routes
from monitor.devtools.slackstub.socket import SOCKET_KEY, SOCKET_PATH, SocketHub, add_socket_routes
from monitor.devtools.slackstub.state import StubState

__all__ = ["SlackStub", "SlackStubThread", "build_app", "start_slack_stub"]

log = structlog.get_logger(__name__)


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
        return http_url(self.host, self.port)

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
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
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
    state.upload_url = f"{stub.base_url}/upload"
    log.info("slackstub.started", url=stub.base_url)
    try:
        yield stub
    finally:
        await switch.close()
        await stub.socket.close()
        await runner.cleanup()
        log.info("slackstub.stopped")


class SlackStubThread(ServerThread[SlackStub]):
    """A stub on its own event loop in a daemon thread, for synchronous code (slack_sdk's WebClient, bolt).

    The state lives on that loop: read it freely for assertions, but change it only through `call` (or
    `run`, for a coroutine function: `stub.run(stub.stub.socket.send, ...)`).
    """

    def __init__(self, options: SlackStubOptions | None = None) -> None:
        self.options = options or SlackStubOptions()
        super().__init__(lambda: start_slack_stub(self.options), name="slack-stub", what="the Slack stub")

    @property
    def stub(self) -> SlackStub:
        return self.server

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def api_url(self) -> str:
        return self.server.api_url

    @property
    def token(self) -> str:
        return self.server.token

    @property
    def state(self) -> StubState:
        return self.server.state

    def set_down(self, down: bool, *, seconds: float | None = None) -> None:
        self.run(self.stub.set_down, down, seconds=seconds)
