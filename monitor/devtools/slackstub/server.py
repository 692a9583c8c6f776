"""The HTTP face of the stub: `/api/{method}` as Slack's Web API, `/response/{id}` as a response_url.

Every API call goes through `_api`:

    down? drop the connection -> read parameters (query, then a JSON or form body) -> token (Bearer header,
    or `token` in a form body or query) -> not_authed / invalid_auth -> missing_scope (`scopes`) -> injected
    fault -> the method
    (`api.METHODS`; unknown_method otherwise) -> HTTP 200 with {"ok": ...}, or what a `taken_*` fault puts
    in its place once the method has run -> the call log

As on Slack, application errors are HTTP 200 with `ok: false`; only faults answer 429 or 5xx. A JSON body's
`token` field is ignored: Slack takes tokens of JSON requests from the Authorization header only.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import structlog
from aiohttp import web

from monitor.devtools.slackstub.api import METHODS
from monitor.devtools.slackstub.blockkit import block_kit_problems
from monitor.devtools.slackstub.faults import AFTER_KINDS, StubFault
from monitor.devtools.slackstub.scopes import check_scopes
from monitor.devtools.slackstub.state import SlackError, StubCall, StubState

__all__ = ["STATE_KEY", "SWITCH_KEY", "Switch", "add_api_routes"]

log = structlog.get_logger(__name__)

STATE_KEY = web.AppKey("slack_stub_state", StubState)


class Switch:
    """Takes the stub off the network and back: stops listening (new connections are refused) and drops
    requests arriving on connections kept alive from before. Set up by the runner, which owns the site."""

    def __init__(self, state: StubState) -> None:
        self.state = state
        self._stop: Callable[[], Awaitable[None]] | None = None
        self._start: Callable[[], Awaitable[None]] | None = None
        self._timer: asyncio.Task[None] | None = None

    def attach(self, stop: Callable[[], Awaitable[None]], start: Callable[[], Awaitable[None]]) -> None:
        """How to stop and resume listening, once the runner has a site."""
        self._stop, self._start = stop, start

    async def go_down(self, seconds: float | None = None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.state.down:
            self.state.down = True
            if self._stop is not None:
                await self._stop()
            log.info("slackstub.down", seconds=seconds)
        if seconds is not None:
            self._timer = asyncio.create_task(self._up_after(seconds))

    async def go_up(self) -> None:
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
        self._timer = None
        if self.state.down:
            if self._start is not None:
                await self._start()
            self.state.down = False
            log.info("slackstub.up")

    async def _up_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.go_up()

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


SWITCH_KEY = web.AppKey("slack_stub_switch", Switch)


def _drop(request: web.Request) -> NoReturn:
    """Close the connection without a word; raising CancelledError makes aiohttp skip writing an answer."""
    if request.transport is not None:
        request.transport.close()
    raise asyncio.CancelledError


def _answer(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        body, status=status, headers=headers, dumps=lambda v: json.dumps(v, ensure_ascii=False)
    )


async def _params(request: web.Request) -> tuple[dict[str, Any], str | None]:
    """The call's parameters and the token found among them (form and query only)."""
    params: dict[str, Any] = dict(request.query)
    token = params.pop("token", None)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise SlackError("invalid_json") from None
            if not isinstance(body, dict):
                raise SlackError("invalid_json")
            body.pop("token", None)
            params.update(body)
        else:
            form = await request.post()
            fields = {key: value for key, value in form.items() if isinstance(value, str)}
            token = fields.pop("token", token)
            params.update(fields)
    return params, token


def _token(request: web.Request, from_params: str | None) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip() or None
    return from_params


async def _faulted(fault: StubFault, request: web.Request) -> web.Response | None:
    """The answer an injected fault gives instead of the method's, or None to answer as usual (a delay, and
    the `taken_*` kinds, which spoil the answer only after the method ran: see `_spoiled`)."""
    if fault.kind in AFTER_KINDS:
        return None
    if fault.kind == "rate_limit":
        return _answer({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(fault.retry_after)})
    if fault.kind == "server_error":
        return _answer({"ok": False, "error": "internal_error"}, fault.status)
    if fault.kind == "error":
        return _answer({"ok": False, "error": fault.error})
    if fault.kind == "drop":
        _drop(request)
    await asyncio.sleep(fault.seconds)  # delay
    return None


def _channel_key(state: StubState, params: dict[str, Any]) -> str:
    """The channel a call is about, by id when the stub knows the name (posts take either)."""
    ref = str(params.get("channel") or "")
    try:
        return state.channel(ref).id
    except KeyError:
        return ref


def _spoiled(fault: StubFault | None, call: StubCall, request: web.Request) -> web.Response | None:
    """After the method was carried out: the answer a `taken_*` fault gives instead of the method's."""
    if fault is None or fault.kind not in AFTER_KINDS:
        return None
    call.error = fault.kind
    if fault.kind == "taken_reset":
        call.status = 0
        _drop(request)
    return _answer({"ok": False, "error": "internal_error"}, fault.status)


async def _api(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    if state.down:
        _drop(request)
    method = request.match_info["method"]
    call = StubCall(method, {}, 200)
    state.calls.append(call)
    try:
        params, form_token = await _params(request)
        call.params = params
        token = _token(request, form_token)
        if token is None:
            raise SlackError("not_authed")
        # Slack keeps token types apart: app-level tokens only open Socket Mode connections.
        wants_app_token = method == "apps.connections.open"
        if token in (state.options.tokens if wants_app_token else state.options.app_tokens):
            raise SlackError("not_allowed_token_type")
        if token not in (state.options.app_tokens if wants_app_token else state.options.tokens):
            raise SlackError("invalid_auth")
        if not wants_app_token:
            check_scopes(state, method, params)
        if state.options.rate_limits:
            wait = state.rate.retry_after(method, _channel_key(state, params))
            if wait is not None:
                call.status, call.error = 429, "ratelimited"
                return _answer({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(wait)})
        fault = state.faults.take(method)
        if fault is not None:
            log.info("slackstub.fault", method=method, kind=fault.kind)
            call.error = fault.kind
            answer = await _faulted(fault, request)
            if answer is not None:
                call.status = answer.status
                return answer
            call.error = None
        handler = METHODS.get(method)
        if handler is None:
            raise SlackError("unknown_method", req_method=method)
        body = handler(state, params)
        spoiled = _spoiled(fault, call, request)
        if spoiled is not None:
            call.status = spoiled.status
            return spoiled
        # Slack names the token's scopes on every answer (api.slack.com/authentication/oauth-v2).
        return _answer(body, headers={"X-OAuth-Scopes": ",".join(sorted(state.options.scopes))})
    except SlackError as exc:
        call.error = exc.error
        return _answer(exc.body())
    except asyncio.CancelledError:
        call.status, call.error = 0, call.error or "cancelled"
        raise


async def _response_url(request: web.Request) -> web.StreamResponse:
    """What a slash command's handler posts to its response_url: recorded as JSON (or form/text) body."""
    state = request.app[STATE_KEY]
    if state.down:
        _drop(request)
    call = StubCall("response_url", {}, 200)
    state.calls.append(call)
    fault = state.faults.take("response_url")
    if fault is not None:
        call.error = fault.kind
        answer = await _faulted(fault, request)
        if answer is not None:
            call.status = answer.status
            return answer
        call.error = None
    text = await request.text()
    body: Any
    try:
        body = json.loads(text) if text.strip() else {}
    except ValueError:
        body = text
    call.params = body if isinstance(body, dict) else {"body": body}
    refused = _refused_response(state, request.match_info["response_id"], body)
    if refused is not None:
        call.status, call.error = refused.status, refused.text
        return refused
    state.record_response(request.match_info["response_id"], body)
    spoiled = _spoiled(fault, call, request)
    if spoiled is not None:
        call.status = spoiled.status
        return spoiled
    return web.Response(text="ok", content_type="text/plain")


def _refused_response(state: StubState, response_id: str, body: Any) -> web.Response | None:
    """A response_url spent (5 uses), expired (30 minutes), or given blocks Slack would refuse."""
    spent = state.use_response_url(response_id)
    if spent is not None:
        return web.Response(status=404, text=spent, content_type="text/plain")
    blocks = body.get("blocks") if isinstance(body, dict) else None
    invalid = blocks is not None and (not isinstance(blocks, list) or bool(block_kit_problems(blocks)))
    if invalid and state.options.validate_blocks:
        return web.Response(status=400, text="invalid_blocks", content_type="text/plain")
    return None


async def _upload(request: web.Request) -> web.StreamResponse:
    """The second step of an upload: the file's bytes POSTed to the URL files.getUploadURLExternal gave,
    raw or multipart (field `file`); Slack answers 200 "OK - <length>" (see slackstub/files.py)."""
    state = request.app[STATE_KEY]
    if state.down:
        _drop(request)
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        field = form.get("file")
        data = field.file.read() if isinstance(field, web.FileField) else str(field or "").encode()
    else:
        data = await request.read()
    if not state.files.receive(request.match_info["file_id"], data):
        return web.Response(status=404, text="file_not_found", content_type="text/plain")
    return web.Response(text=f"OK - {len(data)}", content_type="text/plain")


def add_api_routes(app: web.Application) -> None:
    app.router.add_route("*", "/api/{method}", _api)
    app.router.add_post("/upload/{file_id}", _upload)
    app.router.add_post("/response/{response_id}", _response_url)
