"""Socket Mode on the stub: `apps.connections.open` hands out a websocket URL, and this hub speaks the
Socket Mode envelope protocol on it, as Slack does:

    server -> app   {"type": "hello", "num_connections": 1, "connection_info": {"app_id": ...}, ...}
    server -> app   {"envelope_id": "...", "type": "slash_commands" | "interactive" | "events_api",
                     "payload": {...}, "accepts_response_payload": true, "retry_attempt": 0, ...}
    app -> server   {"envelope_id": "...", "payload": {...}?}          the ack, within 3 seconds
    server -> app   {"type": "disconnect", "reason": "refresh_requested" | "link_disabled" | ...}

Websocket pings are answered by aiohttp (autoping), which is how slack_sdk's client tells a live link.
Tests push envelopes with `send` and wait for their acks with `ack`; `received` keeps every frame the app
sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

import structlog
from aiohttp import WSMsgType, web

__all__ = ["SOCKET_KEY", "SOCKET_PATH", "SocketHub", "add_socket_routes"]

log = structlog.get_logger(__name__)

SOCKET_PATH = "/socket/websocket"


class SocketHub:
    """The stub's Socket Mode connections, envelopes sent to them and the acks that came back."""

    def __init__(self, app_id: str = "A0STUBAPP1") -> None:
        self.app_id = app_id
        self.received: list[dict[str, Any]] = []
        #: Connections accepted since the start (a reconnect counts again).
        self.connections = 0
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._changed = asyncio.Condition()

    @property
    def connected(self) -> int:
        return sum(1 for ws in self._sockets if not ws.closed)

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        self.connections += 1
        log.info("slackstub.socket_connected", connections=self.connected)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": self.connected,
                "debug_info": {"host": "slackstub", "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }
        )
        await self._notify()
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    self._received(message.data)
        finally:
            self._sockets.remove(ws)
            await self._notify()
            log.info("slackstub.socket_closed", connections=self.connected)
        return ws

    def _received(self, text: str) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
            frame = {"unreadable": text}
        if not isinstance(frame, dict):
            frame = {"unreadable": text}
        self.received.append(frame)
        waiting = self._acks.get(str(frame.get("envelope_id")))
        if waiting is not None and not waiting.done():
            waiting.set_result(frame)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_connected(self, count: int = 1, within: float = 10.0) -> None:
        """Until at least `count` connections are open (raises TimeoutError)."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: self.connected >= count)

    async def send(self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0) -> str:
        """Push an envelope to the newest open connection; returns its envelope_id."""
        open_sockets = [ws for ws in self._sockets if not ws.closed]
        if not open_sockets:
            raise RuntimeError("no Socket Mode connection is open")
        envelope_id = str(uuid.uuid4())
        self._acks[envelope_id] = asyncio.get_running_loop().create_future()
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": "",
        }
        await open_sockets[-1].send_json(envelope)
        return envelope_id

    async def ack(self, envelope_id: str, within: float = 3.0) -> dict[str, Any]:
        """The app's ack of an envelope (raises TimeoutError after `within` seconds; Slack allows 3)."""
        return await asyncio.wait_for(asyncio.shield(self._acks[envelope_id]), within)

    async def disconnect_all(self, reason: str = "link_disabled") -> None:
        """Say `disconnect` and close every connection, as Slack does on refresh or when an app is off."""
        for ws in list(self._sockets):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_json(
                    {"type": "disconnect", "reason": reason, "debug_info": {"host": "slackstub"}}
                )
            await ws.close()

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        for waiting in self._acks.values():
            waiting.cancel()


SOCKET_KEY = web.AppKey("slack_stub_socket", SocketHub)


async def _socket(request: web.Request) -> web.StreamResponse:
    return await request.app[SOCKET_KEY]._handle(request)


def add_socket_routes(app: web.Application, hub: SocketHub) -> None:
    app[SOCKET_KEY] = hub
    app.router.add_get(SOCKET_PATH, _socket)
