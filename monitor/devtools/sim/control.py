"""The control API under `/_sim/` (no authentication, loopback callers only): stats, faults, task changes,
scenario steps and token expiry. Each handler is a thin JSON wrapper over one `SimState` method.

    GET    /_sim/stats                     counters per endpoint and status, max /v2 requests in flight
    POST   /_sim/stats/reset
    GET    /_sim/faults                    pending faults
    POST   /_sim/faults                    queue one fault object, a list of them, or {"faults": [...]}
    DELETE /_sim/faults                    clear pending faults
    GET    /_sim/tasks                     every task (LIFE_CYCLE included) as the list endpoint shows it
    POST   /_sim/tasks                     create a task from fields -> 201 with the task
    PATCH  /_sim/tasks/{id}                set fields -> the task
    DELETE /_sim/tasks/{id}
    POST   /_sim/tasks/{id}/executions     {"status", "failed_desktops"?, "fail_reason"?} -> 201, the record
    POST   /_sim/tasks/{id}/missed-run     {"late_by_seconds"?: 3600} -> the task, a run missed that long ago
    POST   /_sim/scenario/advance          run the next scenario step
    POST   /_sim/tokens/expire             every issued IAM token is expired from now on
    GET    /_sim/jobs                      the write side: switches, accepted actions and script retries, jobs
    PUT    /_sim/jobs/switches             {"fail_desktops"?: {id: reason}, "hang"?, "read_only"?} -> switches

`{id}` also accepts an exact task name. Errors answer `{"error": "..."}` with 400, 403, 404 or 409.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web

import monitor.devtools.sim.wire as wire
from monitor.devtools.loopback import Handler, guarded, json_body, reply
from monitor.devtools.sim.server import STATE_KEY
from monitor.devtools.sim.state import SimState, UnknownTask

__all__ = ["add_control_routes"]


async def _object_body(request: web.Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


async def _stats(state: SimState, _request: web.Request) -> web.Response:
    return reply(state.stats_snapshot())


async def _reset_stats(state: SimState, _request: web.Request) -> web.Response:
    state.reset_stats()
    return reply(state.stats_snapshot())


async def _list_faults(state: SimState, _request: web.Request) -> web.Response:
    return reply({"faults": state.faults.pending()})


async def _add_faults(state: SimState, request: web.Request) -> web.Response:
    body = await json_body(request)
    specs = body.get("faults") if isinstance(body, dict) and "kind" not in body else body
    if isinstance(specs, dict):
        specs = [specs]
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        raise ValueError('send a fault object, a list of them, or {"faults": [...]}')
    state.add_faults(specs)
    return reply({"faults": state.faults.pending()}, 201)


async def _clear_faults(state: SimState, _request: web.Request) -> web.Response:
    state.clear_faults()
    return reply({"faults": []})


async def _all_tasks(state: SimState, _request: web.Request) -> web.Response:
    return reply({"tasks": [wire.list_entry(t) for t in state.tasks], "counts": state.counts()})


async def _create_task(state: SimState, request: web.Request) -> web.Response:
    task = state.create_task(await _object_body(request))
    return reply(wire.list_entry(task), 201)


async def _patch_task(state: SimState, request: web.Request) -> web.Response:
    task = state.patch_task(request.match_info["task"], await _object_body(request))
    return reply(wire.list_entry(task))


async def _delete_task(state: SimState, request: web.Request) -> web.Response:
    task = state.delete_task(request.match_info["task"])
    return reply({"deleted": task.id})


async def _add_execution(state: SimState, request: web.Request) -> web.Response:
    body = await _object_body(request)
    unknown = set(body) - {"status", "failed_desktops", "fail_reason"}
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    task = state.task(request.match_info["task"])
    record = state.add_execution(
        task.id, body.get("status", ""), body.get("failed_desktops"), body.get("fail_reason")
    )
    answer = wire.record_entry(task, record)
    answer["details"] = [wire.record_detail_entry(task, record, d) for d in record.details]
    answer["task"] = wire.list_entry(task)
    return reply(answer, 201)


async def _miss_run(state: SimState, request: web.Request) -> web.Response:
    body = await _object_body(request)
    unknown = set(body) - {"late_by_seconds"}
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    late_by = body.get("late_by_seconds", 3600)
    if isinstance(late_by, bool) or not isinstance(late_by, int):
        raise ValueError("late_by_seconds must be a whole number of seconds")
    task = state.miss_run(request.match_info["task"], late_by=timedelta(seconds=late_by))
    return reply(wire.list_entry(task))


async def _advance(state: SimState, _request: web.Request) -> web.Response:
    if state.scenario is None or state.scenario.done:
        return reply(
            {"error": "no scenario is loaded" if state.scenario is None else "the scenario is finished"}, 409
        )
    return reply(state.advance_scenario())


async def _expire_tokens(state: SimState, _request: web.Request) -> web.Response:
    return reply({"expired": state.expire_tokens()})


async def _jobs(state: SimState, _request: web.Request) -> web.Response:
    return reply(state.jobs.summary())


async def _set_job_switches(state: SimState, request: web.Request) -> web.Response:
    return reply(state.jobs.set_switches(await _object_body(request)))


def _guarded(handler: Callable[[SimState, web.Request], Awaitable[web.Response]]) -> Handler:
    """Loopback callers only; an unknown task answers 404, a bad request 400."""
    return guarded(STATE_KEY, handler, {UnknownTask: 404})


def add_control_routes(app: web.Application) -> None:
    routes = app.router
    routes.add_get("/_sim/stats", _guarded(_stats))
    routes.add_post("/_sim/stats/reset", _guarded(_reset_stats))
    routes.add_get("/_sim/faults", _guarded(_list_faults))
    routes.add_post("/_sim/faults", _guarded(_add_faults))
    routes.add_delete("/_sim/faults", _guarded(_clear_faults))
    routes.add_get("/_sim/tasks", _guarded(_all_tasks))
    routes.add_post("/_sim/tasks", _guarded(_create_task))
    routes.add_patch("/_sim/tasks/{task}", _guarded(_patch_task))
    routes.add_delete("/_sim/tasks/{task}", _guarded(_delete_task))
    routes.add_post("/_sim/tasks/{task}/executions", _guarded(_add_execution))
    routes.add_post("/_sim/tasks/{task}/missed-run", _guarded(_miss_run))
    routes.add_post("/_sim/scenario/advance", _guarded(_advance))
    routes.add_post("/_sim/tokens/expire", _guarded(_expire_tokens))
    routes.add_get("/_sim/jobs", _guarded(_jobs))
    routes.add_put("/_sim/jobs/switches", _guarded(_set_job_switches))
