"""The aiohttp application: the Workspace API and IAM token endpoints, behind one request pipeline.

Every API request goes through `_serve`:

    in-flight count (/v2 only) -> latency -> authentication (401) and project check (403) (/v2 only)
    -> a queued "before" fault (status, html, drop, delay) -> random 5xx (error_rate, /v2 only)
    -> the endpoint's answer (400 bad parameter, 400 unknown task/record: 404 with not_found_status=404)
    -> a queued "after" fault on a 2xx answer (bad_json, wrong_types, lie_total, shift) -> stats and log

Errors use the API's `{"error_code", "error_msg"}` body. The codes (the API documents few; the WKS ones marked
* are the simulator's own choice):

    400 WKS.0001*   bad or missing query parameter (the message names it)
    401 APIGW.0301  "Incorrect IAM authentication information: <why>" (signature, key, date, token)
    401 APIGW.0307  "The token must be updated." (an issued IAM token past its expiry)
    403 WKS.0005*   "project id mismatch": the path's project is not the credential's (or X-Project-Id's)
    403 WKS.0004*   a write by a read-only user (`state.jobs.read_only`): "Policy doesn't allow <action> ..."
    400 WKS.0001    a write's body is not JSON or lacks/mistypes a field (desktops/action, script retry)
    400 WKS.0001    unknown job or script record ("... does not exist.")
    400 WKS.0001    unknown task ("The scheduled task does not exist.") or execution record: the API documents
                    only 200/400/500 for these endpoints, Huawei's Terraform provider expects that message for
                    a deleted task, and other Workspace APIs answer a missing object with 400 WKS.0001
    404 WKS.0130*   the same, with `SimOptions.not_found_status=404` (WKS.0131* for a record)
    404 APIGW.0101  no such API (any other path under /v2 or /v3)
    429 APIGW.0308  only when injected (the `status` fault), without Retry-After unless the fault adds it
    5xx SIM.<code>  injected faults and `error_rate`

`app.py` puts these routes and the control API (`control.py`) together.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import structlog
from aiohttp import web

import monitor.devtools.sim.faults as faults
import monitor.devtools.sim.wire as wire
from monitor.devtools.sim.auth import AuthFailure, IamFailure
from monitor.devtools.sim.entities import SimTask
from monitor.devtools.sim.jobs import script_record_body
from monitor.devtools.sim.query import (
    ParamError,
    TaskFilters,
    parse_page,
    parse_query,
    parse_task_filters,
    slice_page,
)
from monitor.devtools.sim.state import SimState

__all__ = ["JSON_TYPE", "STATE_KEY", "add_api_routes", "add_fallback_routes"]

log = structlog.get_logger(__name__)

STATE_KEY = web.AppKey("sim_state", SimState)
JSON_TYPE = "application/json;charset=UTF-8"
TASK_LIMIT = 50
RECORD_LIMIT = 100
_PROJECT_MISMATCH = "WKS.0005"
_PERMISSION_DENIED = "WKS.0004"
_BAD_PARAMETER = "WKS.0001"
_TASK_NOT_FOUND = "WKS.0130"
_RECORD_NOT_FOUND = "WKS.0131"
_NO_SUCH_API = "APIGW.0101"


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    filters: TaskFilters | None = None  # the list endpoint's filters, for the shift fault


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.answer = Answer(status, wire.error_body(code, message))


Compute = Callable[[SimState, web.Request, bytes], Answer]


def _response(status: int, body: bytes, headers: dict[str, str]) -> web.Response:
    headers = {"Content-Type": JSON_TYPE, **headers, "X-Request-Id": uuid.uuid4().hex}
    return web.Response(status=status, body=body, headers=headers)


def _json(answer: Answer) -> web.Response:
    return _response(answer.status, json.dumps(answer.body, ensure_ascii=False).encode(), answer.headers)


class _Dropped(Exception):
    """A drop fault: the connection must close without an answer."""


def _drop(request: web.Request) -> NoReturn:
    """Close the connection without a word; raising CancelledError makes aiohttp skip writing an answer."""
    if request.transport is not None:
        request.transport.close()
    raise asyncio.CancelledError


def _check_project(request: web.Request, project_id: str) -> None:
    in_path = request.match_info["project_id"]
    in_header = request.headers.get("X-Project-Id")
    if in_path != project_id or (in_header is not None and in_header != in_path):
        raise ApiError(
            403,
            _PROJECT_MISMATCH,
            "project id mismatch: the credential is not valid in this project",
        )


async def _before_fault(state: SimState, request: web.Request, endpoint: str) -> web.Response | None:
    fault = state.faults.take(endpoint, faults.BEFORE_KINDS)
    if fault is None:
        return None
    state.stats.fault(fault.kind)
    log.info("sim.fault_injected", endpoint=endpoint, kind=fault.kind, status=fault.status)
    if fault.kind == "status":
        status, headers, body = faults.status_response(fault)
        return _response(status, body, headers)
    if fault.kind == "html":
        status = fault.status or 502
        return _response(status, faults.html_page(status), {"Content-Type": "text/html"})
    if fault.kind == "drop":
        raise _Dropped
    await asyncio.sleep(fault.seconds)  # delay: then answer as usual
    return None


def _after_fault(state: SimState, endpoint: str, answer: Answer) -> web.Response:
    fault = state.faults.take(endpoint, faults.AFTER_KINDS)
    if fault is None:
        return _json(answer)
    state.stats.fault(fault.kind)
    log.info("sim.fault_injected", endpoint=endpoint, kind=fault.kind)
    if fault.kind == "wrong_types":
        faults.wrong_types(endpoint, answer.body)
    elif fault.kind == "lie_total":
        faults.lie_total(answer.body, fault.extra)
    elif fault.kind == "shift" and answer.filters is not None:
        # The page already answered is the old list; the next request sees the shifted one.
        state.shift(fault, answer.filters)
    raw = json.dumps(answer.body, ensure_ascii=False).encode()
    if fault.kind == "bad_json":
        raw = faults.truncate_json(raw)
    return _response(answer.status, raw, answer.headers)


async def _serve(request: web.Request, endpoint: str, compute: Compute) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    v2 = endpoint != "token"
    started = time.perf_counter()
    status: int | str = 500
    principal = None
    if v2:
        state.stats.enter()
    try:
        if state.options.latency_ms:
            await asyncio.sleep(state.options.latency_ms / 1000)
        body = await request.read()
        try:
            if v2:
                principal = state.authenticator.verify(
                    request.method, request.raw_path, request.headers, body
                )
                _check_project(request, principal.project_id)
        except AuthFailure as exc:
            log.info("sim.auth_failed", endpoint=endpoint, error_code=exc.code, reason=exc.message)
            status = exc.status
            return _json(Answer(exc.status, wire.error_body(exc.code, exc.message)))
        except ApiError as exc:
            status = exc.answer.status
            return _json(exc.answer)
        injected = await _before_fault(state, request, endpoint)
        if injected is not None:
            status = injected.status
            return injected
        if v2 and state.should_fail_randomly():
            status = state.rng.choice((500, 502, 503))
            state.stats.fault("error_rate")
            return _json(Answer(status, {"error_code": f"SIM.{status}", "error_msg": "Random server error"}))
        try:
            answer = compute(state, request, body)
        except ApiError as exc:
            answer = exc.answer
        status = answer.status
        return _after_fault(state, endpoint, answer) if 200 <= answer.status < 300 else _json(answer)
    except _Dropped:
        status = "dropped"
        _drop(request)
    except asyncio.CancelledError:
        status = "cancelled"  # the client went away (or the server is stopping) mid-request
        raise
    finally:
        if v2:
            state.stats.leave()
        state.stats.record(endpoint, status)
        log.debug(
            "sim.request",
            method=request.method,
            path=request.path,
            endpoint=endpoint,
            status=status,
            auth=principal.kind if principal else None,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )


# ---- endpoint answers (synchronous: each runs atomically on the loop) ---------------------------------


def _query(request: web.Request) -> list[tuple[str, str]]:
    return parse_query(request.raw_path.partition("?")[2])


def _bad_parameter(exc: ParamError) -> ApiError:
    return ApiError(400, _BAD_PARAMETER, f"Invalid parameter: {exc}")


def _not_found(state: SimState, what: str, code_404: str) -> ApiError:
    if state.options.not_found_status == 404:
        return ApiError(404, code_404, f"The {what} does not exist.")
    return ApiError(400, _BAD_PARAMETER, f"The {what} does not exist.")


def _known_task(state: SimState, request: web.Request) -> SimTask:
    task = state.task_by_id(request.match_info["task_id"])
    if task is None:
        raise _not_found(state, "scheduled task", _TASK_NOT_FOUND)
    return task


def _list_answer(state: SimState, request: web.Request, _body: bytes) -> Answer:
    pairs = _query(request)
    try:
        page = parse_page(pairs, max_limit=TASK_LIMIT, required=True)
        filters = parse_task_filters(pairs)
    except ParamError as exc:
        raise _bad_parameter(exc) from None
    matching = state.find(filters)
    rfc3339 = state.options.time_format == "rfc3339"
    entries = [wire.list_entry(t, rfc3339=rfc3339) for t in slice_page(matching, page)]
    return Answer(200, {"scheduled_tasks": entries, "total_count": len(matching)}, filters=filters)


def _show_answer(state: SimState, request: web.Request, _body: bytes) -> Answer:
    return Answer(200, wire.show_body(_known_task(state, request)))


def _records_answer(state: SimState, request: web.Request, _body: bytes) -> Answer:
    task = _known_task(state, request)
    try:
        page = parse_page(_query(request), max_limit=RECORD_LIMIT, required=False)
    except ParamError as exc:
        raise _bad_parameter(exc) from None
    rfc3339 = state.options.time_format == "rfc3339"
    entries = [wire.record_entry(task, r, rfc3339=rfc3339) for r in slice_page(task.records, page)]
    return Answer(200, {"tasks_records": entries, "total_count": len(task.records)})


def _details_answer(state: SimState, request: web.Request, _body: bytes) -> Answer:
    task = _known_task(state, request)
    record_id = request.match_info["record_id"]
    record = next((r for r in task.records if r.id == record_id), None)
    if record is None:
        raise _not_found(state, "execution record", _RECORD_NOT_FOUND)
    try:
        page = parse_page(_query(request), max_limit=RECORD_LIMIT, required=False)
    except ParamError as exc:
        raise _bad_parameter(exc) from None
    rfc3339 = state.options.time_format == "rfc3339"
    entries = [
        wire.record_detail_entry(task, record, d, rfc3339=rfc3339) for d in slice_page(record.details, page)
    ]
    return Answer(200, {"tasks_records_details": entries, "total_count": len(record.details)})


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body or b"null")
    except ValueError:
        raise ApiError(400, _BAD_PARAMETER, "Invalid parameter: the body is not JSON") from None
    if not isinstance(document, dict):
        raise ApiError(400, _BAD_PARAMETER, "Invalid parameter: the body is not a JSON object")
    return document


def _allowed(state: SimState, action: str) -> None:
    if state.jobs.read_only:
        raise ApiError(403, _PERMISSION_DENIED, f"Policy doesn't allow {action} to be performed.")


def _action_answer(state: SimState, _request: web.Request, body: bytes) -> Answer:
    """`BatchRunDesktops`: `{desktop_ids, op_type, type}` -> `{job_id, failed_operation_list}`."""
    _allowed(state, "workspace:desktops:operate")
    document = _json_body(body)
    ids = document.get("desktop_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise ApiError(400, _BAD_PARAMETER, "Invalid parameter: desktop_ids")
    op_type = document.get("op_type")
    if op_type not in ("os-start", "os-stop", "reboot", "os-hibernate"):
        raise ApiError(400, _BAD_PARAMETER, "Invalid parameter: op_type")
    if document.get("type", "SOFT") not in ("SOFT", "HARD"):
        raise ApiError(400, _BAD_PARAMETER, "Invalid parameter: type")
    state.jobs.actions.append(document)
    job, refused = state.jobs.start_action(ids, op_type, state.desktop_names())
    return Answer(200, {"job_id": job.id, "failed_operation_list": refused})


def _job_answer(state: SimState, request: web.Request, _body: bytes) -> Answer:
    job = state.jobs.jobs.get(request.match_info["job_id"])
    if job is None:
        raise ApiError(400, _BAD_PARAMETER, "The job does not exist.")
    return Answer(200, state.jobs.job_body(job))


def _script_retry_answer(state: SimState, _request: web.Request, body: bytes) -> Answer:
    """`RetryScriptExecution`: `{task_id, record_id}` -> `{task_id}` (the new script task)."""
    _allowed(state, "workspace:scripts:retry")
    document = _json_body(body)
    task_id, record_id = document.get("task_id"), document.get("record_id")
    if not isinstance(task_id, str) or not isinstance(record_id, str):
        raise ApiError(400, _BAD_PARAMETER, "Invalid parameter: task_id and record_id are required")
    task = state.task_by_execute_id(
        task_id
    )  # the record's execute_task_id; the scheduled task's id is not one
    if task is None or task.task_type != "EXECUTE_SCRIPT":
        raise ApiError(400, _BAD_PARAMETER, "The script execution task does not exist.")
    record = next((r for r in task.records if r.id == record_id), None)
    if record is None:
        raise ApiError(400, _BAD_PARAMETER, "The script execution record does not exist.")
    return Answer(200, {"task_id": state.jobs.retry_script(task, record)})


def _script_records_answer(state: SimState, request: web.Request, _body: bytes) -> Answer:
    pairs = _query(request)
    try:
        page = parse_page(pairs, max_limit=RECORD_LIMIT, required=False)
    except ParamError as exc:
        raise _bad_parameter(exc) from None
    script_task_id = next((v for k, v in pairs if k == "script_task_id"), None)
    if script_task_id is not None:
        # The original execution's records exist once asked for (derived from the record's details).
        for task in state.tasks:
            record = next((r for r in task.records if r.id == script_task_id), None)
            if record is not None and task.task_type == "EXECUTE_SCRIPT":
                state.jobs.original_script_records(task, record)
    records = state.jobs.script_records(script_task_id)
    entries = [script_record_body(r, with_output=False) for r in slice_page(records, page)]
    return Answer(200, {"count": len(records), "script_records": entries})


def _script_record_answer(state: SimState, request: web.Request, _body: bytes) -> Answer:
    record = state.jobs.script_record(request.match_info["record_id"])
    if record is None:
        raise ApiError(400, _BAD_PARAMETER, "The script execution record does not exist.")
    return Answer(200, script_record_body(record, with_output=True))


def _token_answer(state: SimState, _request: web.Request, body: bytes) -> Answer:
    try:
        try:
            document = json.loads(body or b"null")
        except ValueError:
            raise IamFailure(400, "The request body is not valid JSON.") from None
        token = state.login(document)
    except IamFailure as exc:
        return Answer(exc.status, exc.body())
    domain = {"name": state.options.iam_domain, "id": "sim-domain-id"}
    user = {"name": token.user, "id": "sim-user-id", "domain": domain}
    return Answer(
        201,
        {
            "token": {
                "expires_at": token.expires_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "issued_at": token.issued_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "methods": ["password"],
                "project": {"id": token.project_id, "name": state.options.region, "domain": domain},
                "user": user,
            }
        },
        headers={"X-Subject-Token": token.value},
    )


async def _list(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "list", _list_answer)


async def _show(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "show", _show_answer)


async def _records(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "records", _records_answer)


async def _details(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "details", _details_answer)


async def _token(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "token", _token_answer)


async def _action(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "action", _action_answer)


async def _job(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "job", _job_answer)


async def _script_retry(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "script_retry", _script_retry_answer)


async def _script_records(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "script_records", _script_records_answer)


async def _script_record(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "script_record", _script_record_answer)


async def _no_such_api(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    state.stats.record("unknown", 404)
    body = wire.error_body(
        _NO_SUCH_API, "The API does not exist or has not been published in the environment"
    )
    return _json(Answer(404, body))


def add_api_routes(app: web.Application) -> None:
    base = "/v2/{project_id}/scheduled-tasks"
    app.router.add_get(base, _list)
    app.router.add_get(base + "/{task_id}", _show)
    app.router.add_get(base + "/{task_id}/records", _records)
    app.router.add_get(base + "/{task_id}/records/{record_id}", _details)
    app.router.add_post("/v2/{project_id}/desktops/action", _action)
    app.router.add_get("/v2/{project_id}/workspace-jobs/{job_id}", _job)
    app.router.add_post("/v2/{project_id}/script-executions/retry", _script_retry)
    app.router.add_get("/v2/{project_id}/script-execution-records", _script_records)
    app.router.add_get("/v2/{project_id}/script-execution-records/{record_id}", _script_record)
    app.router.add_post("/v3/auth/tokens", _token)


def add_fallback_routes(app: web.Application) -> None:
    """Anything else under the API prefixes is "no such API"; add these last, they match every path."""
    app.router.add_route("*", "/v2/{tail:.*}", _no_such_api)
    app.router.add_route("*", "/v3/{tail:.*}", _no_such_api)
