"""The control API under `/_stub/` (no authentication, loopback callers only), for the demo and for tests
that drive the stub over HTTP. Each handler is a thin JSON wrapper over the state or the switch.

    GET    /_stub/state          every channel's messages with replies and edits, ephemeral messages,
                                 response_url posts, Home tabs and open modals, as plain data
    GET    /_stub/calls          the call log: method, params, HTTP status, error
    POST   /_stub/reset          forget messages, calls, responses and faults (channels stay)
    GET    /_stub/faults         pending faults
    POST   /_stub/faults         queue a fault object, a list of them, or {"faults": [...]}
    DELETE /_stub/faults         clear pending faults
    POST   /_stub/channels       {"name", "id"?, "member"?, "private"?, "archived"?} -> 201 with the channel
    POST   /_stub/down           {"seconds"?}: stop listening (refused connections) and drop requests on
                                 open connections; back up after `seconds`, or when Python calls `set_down`
                                 (the control API is down too, so nothing over HTTP can bring it back)

Errors answer `{"error": "..."}` with 400 or 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from monitor.devtools.loopback import Handler, guarded, json_body, reply
from monitor.devtools.slackstub.faults import parse_fault
from monitor.devtools.slackstub.server import STATE_KEY, SWITCH_KEY
from monitor.devtools.slackstub.state import StubState

__all__ = ["add_control_routes"]


def _guarded(handler: Callable[[StubState, web.Request], Awaitable[web.Response]]) -> Handler:
    """Loopback callers only; a bad request answers 400."""
    return guarded(STATE_KEY, handler)


async def _state(state: StubState, request: web.Request) -> web.Response:
    return reply(
        {
            "channels": {
                channel.name: {"id": channel.id, "member": channel.member}
                for channel in state.channels.values()
            },
            "messages": state.snapshot(),
            "ephemeral": state.ephemeral,
            "responses": state.responses,
            "orphans": [message.as_dict() for message in state.orphans],
            "views": state.views.snapshot(),
            "down": state.down,
        }
    )


async def _calls(state: StubState, request: web.Request) -> web.Response:
    return reply([call.as_dict() for call in state.calls])


async def _reset(state: StubState, request: web.Request) -> web.Response:
    state.reset()
    return reply({"ok": True})


async def _faults(state: StubState, request: web.Request) -> web.Response:
    return reply(state.faults.pending())


async def _add_faults(state: StubState, request: web.Request) -> web.Response:
    body = await json_body(request)
    if isinstance(body, dict) and "faults" in body:
        body = body["faults"]
    specs = body if isinstance(body, list) else [body]
    if not all(isinstance(spec, dict) for spec in specs):
        raise ValueError("a fault is a JSON object")
    faults = [parse_fault(spec) for spec in specs]  # all valid, or none queued
    for fault in faults:
        state.faults.add(fault)
    return reply(state.faults.pending(), 201)


async def _clear_faults(state: StubState, request: web.Request) -> web.Response:
    state.faults.clear()
    return reply({"ok": True})


async def _add_channel(state: StubState, request: web.Request) -> web.Response:
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].lstrip("#"):
        raise ValueError("give the channel a name")
    channel_id = body.get("id")
    if channel_id is not None and not isinstance(channel_id, str):
        raise ValueError("id must be a string")
    channel = state.add_channel(
        body["name"],
        channel_id,
        member=bool(body.get("member", True)),
        private=bool(body.get("private", False)),
        archived=bool(body.get("archived", False)),
    )
    return reply({"id": channel.id, "name": channel.name, "member": channel.member}, 201)


async def _down(state: StubState, request: web.Request) -> web.Response:
    body = await json_body(request)
    seconds = body.get("seconds") if isinstance(body, dict) else None
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0
    ):
        raise ValueError("seconds must be a non-negative number")
    await request.app[SWITCH_KEY].go_down(float(seconds) if seconds is not None else None)
    return reply({"down": True, "seconds": seconds}, 202)


def add_control_routes(app: web.Application) -> None:
    app.router.add_get("/_stub/state", _guarded(_state))
    app.router.add_get("/_stub/calls", _guarded(_calls))
    app.router.add_post("/_stub/reset", _guarded(_reset))
    app.router.add_get("/_stub/faults", _guarded(_faults))
    app.router.add_post("/_stub/faults", _guarded(_add_faults))
    app.router.add_delete("/_stub/faults", _guarded(_clear_faults))
    app.router.add_post("/_stub/channels", _guarded(_add_channel))
    app.router.add_post("/_stub/down", _guarded(_down))
