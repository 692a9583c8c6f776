"""Answers that fuzzing (tests/fuzz/test_fuzz_api.py) found to hurt the client, pinned as plain examples.

- `Retry-After: 99999999` (or `inf`) on a 429 paused every later request of the client for that long: the
  shared throttle window is now capped like the retry wait, and non-finite values are ignored;
- `total_count: 10**12` scheduled a future per page, millions at once: it is now a MalformedResponseError;
- a task name with a lone surrogate (`"\\ud800"`, valid JSON) or NUL crashed every later cycle when its alert
  was stored (UnicodeEncodeError from SQLite): such characters become U+FFFD at the client.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from monitor.engine import Engine
from monitor.rules import load_rules_text
from monitor.store import SQLiteStore
from monitor.workspace.auth import StaticTokenAuth
from monitor.workspace.client import MAX_TOTAL_COUNT, RetryPolicy, TaskFilter, WorkspaceClient
from monitor.workspace.errors import MalformedResponseError, RateLimitedError

PROJECT = "p" * 32
FAIL = TaskFilter(last_status="FAIL")


def client_for(handler: Callable[[httpx.Request], httpx.Response], **retry: float) -> WorkspaceClient:
    policy = {"attempts": 1, "wait_initial": 0, "wait_max": 0, "wait_jitter": 0, "max_retry_after": 0.01}
    policy.update(retry)
    return WorkspaceClient(
        endpoint="https://workspace.test",
        project_id=PROJECT,
        auth=StaticTokenAuth("static-token-value"),
        retry=RetryPolicy(**policy),  # type: ignore[arg-type]
        transport=httpx.MockTransport(handler),
    )


def raw_json(body: str, status: int = 200, **headers: str) -> httpx.Response:
    """`body` exactly as written (httpx's json= cannot even encode a lone surrogate)."""
    return httpx.Response(
        status, content=body.encode(), headers={"Content-Type": "application/json", **headers}
    )


@pytest.mark.parametrize("retry_after", ["99999999", "inf", "1e309", "nan"])
async def test_a_huge_or_non_finite_retry_after_pauses_at_most_max_retry_after(retry_after: str) -> None:
    answers = [
        raw_json(
            '{"error_code": "APIGW.0308", "error_msg": "throttled"}', 429, **{"Retry-After": retry_after}
        ),
        raw_json('{"scheduled_tasks": [], "total_count": 0}'),
    ]
    async with client_for(lambda request: answers.pop(0)) as client:
        with pytest.raises(RateLimitedError):
            await client.fetch_tasks(FAIL)
        # Before the fix this second call slept for years (or forever).
        listing = await client.fetch_tasks(FAIL)
    assert listing.complete


async def test_an_implausible_total_count_is_a_malformed_answer() -> None:
    requests: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return raw_json(json.dumps({"scheduled_tasks": [], "total_count": 10**12}))

    async with client_for(handle) as client:
        with pytest.raises(MalformedResponseError, match=f"more than the {MAX_TOTAL_COUNT}"):
            await client.fetch_tasks(FAIL)
    assert len(requests) == 1


async def test_lone_surrogates_and_nul_in_an_answer_become_replacement_characters() -> None:
    body = (
        r'{"scheduled_tasks": [{"id": "t-1", "task_name": "a\ud800b\u0000c\ud83d\ude00"}], "total_count": 1}'
    )
    async with client_for(lambda request: raw_json(body)) as client:
        listing = await client.fetch_tasks(FAIL)
    assert listing.tasks[0].task_name == "a\ufffdb\ufffdc\U0001f600"  # the valid pair is kept


async def test_a_task_named_with_a_lone_surrogate_is_alerted_and_stored(tmp_path: Path) -> None:
    task = r'{"id": "t-9", "task_name": "bad\ud800name", "last_status": "FAIL"}'

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.rstrip("/").endswith("/records"):
            return raw_json('{"error_code": "WKS.0403", "error_msg": "forbidden"}', 403)
        failing = (
            request.url.params.get("last_status") == "FAIL" and "scheduled_type" not in request.url.params
        )
        return raw_json(
            f'{{"scheduled_tasks": [{task}], "total_count": 1}}'
            if failing
            else '{"scheduled_tasks": [], "total_count": 0}'
        )

    store = SQLiteStore.open(tmp_path / "state.db")
    try:
        async with client_for(handle) as client:
            engine = Engine(
                client=client,
                store=store,
                ruleset=load_rules_text("rules:\n  - name: all\n", "r.yaml"),
                project=PROJECT,
                default_channel="#ops",
            )
            report = await engine.run_cycle()
        (alert,) = store.load_open_alerts().values()
    finally:
        store.close()
    assert [note.kind.value for note in report.decisions] == ["NEW"]
    assert alert.task_name == "bad\ufffdname"
