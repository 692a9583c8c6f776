"""Fuzzing what the Workspace API answers, through the client and on through a whole engine cycle.

Only the transport is faked (`httpx.MockTransport` at the edge); the client, its retries and parsing, the
engine (`evaluate`, recovery lookups, outbox) and a real SQLite store are the product's.

What it proves (hypothesis; examples per target from the profile, see tests/fuzz/__init__.py for CI counts):
- every answer of every endpoint (list, show, records, record details) - random JSON, wrong types, huge
  strings, unicode (lone surrogates too), truncated bodies, HTML error pages, empty or binary bodies, any
  status code, garbage `Retry-After` and `total_count` - gives a parsed result or one of
  `monitor.workspace.errors`, never another exception, and never hangs on a huge `total_count` or
  `Retry-After`;
- a poll cycle over such answers, with three alerts open from an earlier cycle, ends in a report or a
  WorkspaceError, never another exception; nothing it stores breaks the store; and since no answer ever says
  SUCCESS, it never RESOLVES anything (an incomplete listing closes nothing either).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, note
from hypothesis import strategies as st

from monitor.decide import DecisionKind
from monitor.engine import Engine
from monitor.rules.load import load_rules_text
from monitor.store import SQLiteStore
from monitor.workspace.auth import StaticTokenAuth
from monitor.workspace.client import RetryPolicy, TaskFilter, WorkspaceClient
from monitor.workspace.errors import WorkspaceError
from tests.fuzz import examples

PROJECT = "0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
NO_WAIT = RetryPolicy(attempts=2, wait_initial=0, wait_max=0, wait_jitter=0, timeout=30, max_retry_after=0)
RULES = load_rules_text("rules:\n  - name: all\n    channel: '#ops'\n", "r.yaml")
SEEDED_TASKS = [
    {
        "id": f"t-{i}",
        "task_name": f"prod-{i}",
        "task_type": "REBOOT",
        "last_status": "FAIL",
        "next_execution_time": "2026-11-30 08:00:00",
        "time_zone": "UTC",
    }
    for i in (1, 2, 3)
]

# -- answers ------------------------------------------------------------------------------------------------

pieces = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["<!channel>", "\ud800", "\x00", "é", "𝒳", "\u202e", "' OR 1=1 --", "%s%n", "{}"]),
)
# Huge strings without drawing huge examples: a short piece repeated.
huge = st.builds(lambda piece, times: piece * times, pieces, st.integers(1000, 20_000))
# SUCCESS is left out of every answer: then any RESOLVED would be a false one.
statuses = st.one_of(st.sampled_from(["FAIL", "SKIP", "RUNNING", "success", "", "FAILED"]), pieces)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**64), 2**64), st.floats(allow_nan=False), pieces, huge
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(pieces, inner, max_size=3),
    max_leaves=8,
)
maybe_wrong = st.one_of(json_scalars, json_values)
ids = st.one_of(st.sampled_from(["t-1", "t-2", "t-3", "t-4", "r-1"]), maybe_wrong)
times = st.one_of(
    st.sampled_from(
        [
            "2026-11-30 08:00:00",
            "2026-11-29T08:00:00Z",
            "2026-11-29T08:00:00.000Z",
            "2026-11-29T16:00:00+08:00",
            "9999-12-31 23:59:59",
            "0001-01-01 00:00:00",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59.999-14:00",
        ]
    ),
    maybe_wrong,
)
zones = st.one_of(
    st.sampled_from(["UTC", "Asia/Shanghai", "UTC+08:00", "GMT-99", "+2359", "../../etc"]), maybe_wrong
)


def entity(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """A JSON object with some of these fields, each right or wrong, sometimes plus unknown ones."""
    return st.fixed_dictionaries({}, optional=fields).flatmap(
        lambda base: st.dictionaries(pieces, maybe_wrong, max_size=2).map(lambda extra: {**extra, **base})
    )


task = entity(
    {
        "id": ids,
        "task_name": st.one_of(pieces, huge, maybe_wrong),
        "task_type": st.one_of(pieces, maybe_wrong),
        "scheduled_type": maybe_wrong,
        "last_status": statuses,
        "next_execution_time": times,
        "time_zone": zones,
        "enable": st.one_of(st.booleans(), maybe_wrong),
        "priority": maybe_wrong,
        "description": st.one_of(huge, pieces),
    }
)
page = entity(
    {
        "scheduled_tasks": st.one_of(st.lists(task, max_size=4), maybe_wrong),
        "total_count": st.one_of(st.integers(-2, 120), st.sampled_from([10**12, 2**63]), maybe_wrong),
    }
)
# Well-typed tasks with hostile text, in pages that hold together: these reach decide and the store.
good_task = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["t-1", "t-2", "t-3", "t-4", "t-5"]),
        "last_status": st.sampled_from(["FAIL", "SKIP"]),
    },
    optional={
        "task_name": st.one_of(pieces, huge),
        "description": st.one_of(pieces, huge),
        "time_zone": pieces,
        "next_execution_time": st.one_of(pieces, st.sampled_from(["2026-11-30 08:00:00"])),
        "enable": st.booleans(),
        "task_type": pieces,
    },
)
good_page = st.lists(good_task, max_size=4, unique_by=lambda t: t["id"]).map(
    lambda tasks: {"scheduled_tasks": tasks, "total_count": len(tasks)}
)
record = entity(
    {
        "id": ids,
        "start_time": times,
        "status": statuses,
        "time_zone": zones,
        "success_num": maybe_wrong,
        "failed_num": st.one_of(st.integers(-1, 5), maybe_wrong),
        "skip_num": maybe_wrong,
    }
)
records = entity(
    {"tasks_records": st.one_of(st.lists(record, max_size=3), maybe_wrong), "total_count": maybe_wrong}
)
detail = entity(
    {
        "desktop_name": st.one_of(pieces, huge),
        "exec_status": statuses,
        "fail_reason": st.one_of(pieces, huge),
        "result_code": maybe_wrong,
    }
)
details = entity({"tasks_records_details": st.one_of(st.lists(detail, max_size=3), maybe_wrong)})
task_detail = entity(
    {
        "id": ids,
        "task_name": st.one_of(pieces, maybe_wrong),
        "enable": maybe_wrong,
        "apply_objects": maybe_wrong,
        "gray_desktop_ids": maybe_wrong,
        "time_zone": zones,
    }
)

HTML = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
ERROR_BODIES = st.one_of(
    st.fixed_dictionaries(
        {
            "error_code": st.sampled_from(
                ["APIGW.0101", "APIGW.0301", "APIGW.0307", "APIGW.0308", "WKS.0001"]
            ),
            "error_msg": st.one_of(
                pieces,
                huge,
                maybe_wrong,
                st.sampled_from(["The scheduled task does not exist.", "token expired", "not found"]),
            ),
        }
    ),
    maybe_wrong,
)
STATUSES = st.one_of(
    st.sampled_from([200] * 6 + [201, 204, 301, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504]),
    st.integers(100, 599),
)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": st.sampled_from(
            ["application/json", "text/html", "text/plain", "application/json; charset=x"]
        ),
        "Retry-After": st.sampled_from(["1", "0", "-3", "abc", "inf", "nan", "1e309", "99999999", ""]),
    },
)


def bodies(shape: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """The endpoint's shape (right or wrong inside), other JSON, cut short, HTML, empty or binary."""
    as_json = shape.map(lambda value: json.dumps(value).encode())
    return st.one_of(
        as_json,
        as_json,
        as_json,
        ERROR_BODIES.map(lambda value: json.dumps(value).encode()),
        json_values.map(lambda value: json.dumps(value).encode()),
        st.tuples(as_json, st.integers(0, 200)).map(lambda cut: cut[0][: cut[1]]),
        st.just(HTML.encode()),
        st.just(b""),
        st.binary(max_size=30),
    )


SHAPES = {
    "list": st.one_of(good_page, good_page, page),
    "show": task_detail,
    "records": records,
    "details": details,
}


def answers(shape: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[int, dict[str, str], bytes]]:
    """Mostly a 200 with the endpoint's shape, so that a cycle gets far enough to decide and store."""
    shaped = st.tuples(st.just(200), st.just({}), shape.map(lambda value: json.dumps(value).encode()))
    return st.one_of(shaped, shaped, shaped, st.tuples(STATUSES, HEADERS, bodies(shape)))


ANSWERS = {kind: answers(shape) for kind, shape in SHAPES.items()}


def endpoint_of(request: httpx.Request) -> str:
    parts = request.url.path.rstrip("/").split("/")
    after = parts[parts.index("scheduled-tasks") + 1 :]
    return {0: "list", 1: "show", 2: "records"}.get(len(after), "details")


Draw = Callable[[st.SearchStrategy[Any]], Any]


def fuzzed_transport(draw: Draw, log: list[str] | None = None) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        kind = endpoint_of(request)
        if log is not None:
            log.append(kind)
        status, headers, body = draw(ANSWERS[kind])
        return httpx.Response(status, headers=headers, content=body)

    return httpx.MockTransport(handle)


def client_with(transport: httpx.MockTransport) -> WorkspaceClient:
    return WorkspaceClient(
        endpoint="https://workspace.test",
        project_id=PROJECT,
        auth=StaticTokenAuth("static-token-value"),
        concurrency=4,
        retry=NO_WAIT,
        transport=transport,
    )


# -- the client ---------------------------------------------------------------------------------------


async def call(client: WorkspaceClient, operation: str) -> object:
    if operation == "fetch_failing":
        return await client.fetch_failing()
    if operation == "fetch_tasks":
        return await client.fetch_tasks(TaskFilter(last_status="FAIL"))
    if operation == "get_task":
        return await client.get_task("t-1")
    if operation == "list_records":
        return await client.list_records("t-1")
    return await client.list_record_details("t-1", "r-1")


@examples(ci_cap=1000)
@given(st.sampled_from(["fetch_failing", "fetch_tasks", "get_task", "list_records", "details"]), st.data())
def test_any_answer_is_a_result_or_a_workspace_error(operation: str, data: st.DataObject) -> None:
    async def scenario() -> None:
        async with client_with(fuzzed_transport(data.draw)) as client:
            # Anything but a WorkspaceError propagates and fails the example.
            with contextlib.suppress(WorkspaceError):
                await call(client, operation)

    asyncio.run(scenario())


# -- a whole cycle ------------------------------------------------------------------------------------


def sane_transport() -> httpx.MockTransport:
    """The earlier cycle's API: three failing tasks, no records (403), so three alerts open."""

    def handle(request: httpx.Request) -> httpx.Response:
        if endpoint_of(request) != "list":
            return httpx.Response(403, json={"error_code": "WKS.0403", "error_msg": "forbidden"})
        failing = (
            request.url.params.get("last_status") == "FAIL" and "scheduled_type" not in request.url.params
        )
        tasks = SEEDED_TASKS if failing else []
        return httpx.Response(200, json={"scheduled_tasks": tasks, "total_count": len(tasks)})

    return httpx.MockTransport(handle)


@pytest.fixture(scope="module")
def seeded_state() -> Iterator[Path]:
    """A state file with three open alerts (copied for each example, so examples do not see each other)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "seed.db"
        store = SQLiteStore.open(path)

        async def seed() -> None:
            async with client_with(sane_transport()) as client:
                engine = Engine(
                    client=client, store=store, ruleset=RULES, project=PROJECT, default_channel=None,
                    clock=lambda: NOW,
                )  # fmt: skip
                await engine.run_cycle()

        asyncio.run(seed())
        assert len(store.load_open_alerts()) == 3
        store.close()
        yield path


@examples(ci_cap=400, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.data())
def test_a_cycle_over_any_answers_never_crashes_and_never_resolves(
    seeded_state: Path, data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.db"
        shutil.copy(seeded_state, path)
        store = SQLiteStore.open(path)
        requests: list[str] = []

        async def cycle() -> object:
            async with client_with(fuzzed_transport(data.draw, requests)) as client:
                engine = Engine(
                    client=client, store=store, ruleset=RULES, project=PROJECT, default_channel="#ops",
                    clock=lambda: NOW + timedelta(hours=2),
                )  # fmt: skip
                try:
                    return await engine.run_cycle()
                except WorkspaceError:
                    return None

        try:
            report = asyncio.run(cycle())
            open_after = store.load_open_alerts()
        finally:
            store.close()
    if report is None:
        assert len(open_after) == 3, "a failed cycle changed the open alerts"
        return
    kinds = [decision.kind for decision in report.decisions]  # type: ignore[attr-defined]
    assert DecisionKind.RESOLVED not in kinds, "resolved on answers that never said SUCCESS"
    if not report.complete:  # type: ignore[attr-defined]
        assert DecisionKind.CLOSED not in kinds, "an incomplete listing closed an alert"
    note(f"requests: {requests}; decisions: {kinds}")
