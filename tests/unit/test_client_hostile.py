"""Answers that fuzzing (tests/fuzz/test_fuzz_api.py) found to hurt the client, pinned as plain examples.

- `Retry-After: 99999999` (or `inf`) on a 429 paused every later request of the client for that long: the
  shared throttle window is now capped like the retry wait, and non-finite values are ignored;
- `total_count: 10**12` scheduled a future per page, millions at once: it is now a MalformedResponseError;
- a task name with a lone surrogate (`"\\ud800"`, valid JSON) or NUL crashed every later cycle when its alert
  was stored (UnicodeEncodeError from SQLite): such characters become U+FFFD at the client.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from monitor.engine import Engine
from monitor.rules.load import load_rules_text
from monitor.store import SQLiteStore
from monitor.workspace.auth import StaticTokenAuth
from monitor.workspace.client import (
    MAX_ANSWER_BYTES,
    MAX_ID_LENGTH,
    MAX_TOTAL_COUNT,
    RetryPolicy,
    TaskFilter,
    WorkspaceClient,
)
from monitor.workspace.errors import MalformedResponseError, NotFoundError, RateLimitedError, ServerError
from monitor.workspace.models import MAX_TEXT

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


async def test_a_surrogate_written_as_bytes_becomes_a_replacement_character() -> None:
    """Not an escape but its UTF-8 bytes (ED A0 80: not valid UTF-8, which json.loads decodes all alike)."""
    body = b'{"scheduled_tasks": [{"id": "t-1", "task_name": "bad\xed\xa0\x80name"}], "total_count": 1}'
    answer = httpx.Response(200, content=body, headers={"Content-Type": "application/json"})
    async with client_for(lambda request: answer) as client:
        listing = await client.fetch_tasks(FAIL)
    assert listing.tasks[0].task_name == "bad\ufffdname"


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


# Text too long to keep (issue 20: a 10 MB task name made a 20 MB outbox row).


async def test_a_huge_task_name_is_cut_before_it_is_stored(tmp_path: Path) -> None:
    name = "n" * 1_000_000
    task = {
        "id": "t-9",
        "task_name": name,
        "description": "d\\" * 600_000,
        "last_status": "FAIL",
        "extra_thing": ["x" * 5000],
    }

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.rstrip("/").endswith("/records"):
            return raw_json('{"error_code": "WKS.0403", "error_msg": "forbidden"}', 403)
        failing = (
            request.url.params.get("last_status") == "FAIL" and "scheduled_type" not in request.url.params
        )
        tasks = [task] if failing else []
        return raw_json(json.dumps({"scheduled_tasks": tasks, "total_count": len(tasks)}))

    store = SQLiteStore.open(tmp_path / "state.db")
    try:
        async with client_for(handle) as client:
            listing = await client.fetch_tasks(FAIL)
            engine = Engine(
                client=client,
                store=store,
                ruleset=load_rules_text("rules:\n  - name: all\n", "r.yaml"),
                project=PROJECT,
                default_channel="#ops",
            )
            await engine.run_cycle()
        [row] = store.pending_outbox(now=datetime.now(UTC), limit=10)
    finally:
        store.close()
    [listed] = listing.tasks
    assert listed.task_name == "n" * (MAX_TEXT - 1) + "…"
    assert listed.description is not None
    assert len(listed.description) == MAX_TEXT
    assert listed.extra_fields["extra_thing"] == ["x" * (MAX_TEXT - 1) + "…"]
    assert len(json.dumps(row.entry.payload)) < 20 * MAX_TEXT


@pytest.mark.parametrize(("length", "kept"), [(MAX_TEXT, MAX_TEXT), (MAX_TEXT + 1, MAX_TEXT - 1)])
async def test_the_shortest_answer_that_can_hold_a_too_long_text_is_cut(length: int, kept: int) -> None:
    """Answers no longer than MAX_TEXT bytes are not looked through (no text in them can be too long): the
    first one that can hold a too-long text is."""
    body = '{"id":"t","task_name":"' + "n" * length + '"}'
    async with client_for(lambda request: raw_json(body)) as client:
        task = await client.get_task("t")
    assert task.task_name == "n" * kept + ("…" if kept < length else "")


# Answers too big once decoded (issue 20: a 2 MB gzip body that expands to 2 GB took the daemon to 5.3 GB).


class GzipBomb(httpx.AsyncByteStream):
    """`size` bytes of zeros, gzip-compressed as they are asked for: the bomb itself costs no memory, and
    `sent` tells how much of it the client read before giving up."""

    def __init__(self, size: int, block: int = 1024 * 1024) -> None:
        self.size = size
        self.block = block
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        zeros = bytes(self.block)
        while self.sent < self.size:
            self.sent += self.block
            chunk = compressor.compress(zeros)
            if chunk:
                yield chunk
        yield compressor.flush()


def gzipped(stream: httpx.AsyncByteStream) -> httpx.Response:
    return httpx.Response(
        200, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}, stream=stream
    )


async def test_a_gzip_bomb_is_a_bad_answer_read_no_further_than_the_cap() -> None:
    bomb = GzipBomb(2 * 1024**3)
    async with client_for(lambda request: gzipped(bomb)) as client:
        with pytest.raises(MalformedResponseError, match=r"larger than 4 MB decoded"):
            await client.fetch_tasks(FAIL)
    assert bomb.sent <= MAX_ANSWER_BYTES + 2 * bomb.block


class OneChunk(httpx.AsyncByteStream):
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data


async def test_a_gzipped_answer_is_read() -> None:
    page = json.dumps({"scheduled_tasks": [{"id": "t1", "last_status": "FAIL"}], "total_count": 1}).encode()
    async with client_for(lambda request: gzipped(OneChunk(gzip.compress(page)))) as client:
        listing = await client.fetch_tasks(FAIL)
    assert [task.id for task in listing.tasks] == ["t1"]


@pytest.mark.parametrize(
    ("headers", "body", "problem"),
    [
        ({}, b" " * (MAX_ANSWER_BYTES + 1), "larger than 4 MB decoded"),
        ({"Content-Encoding": "br"}, b"\x00", "an encoding that was not asked for: br"),
        ({"Content-Encoding": "gzip"}, b"not gzip at all", "compression is broken"),
    ],
)
async def test_other_answers_that_cannot_be_decoded_safely(
    headers: dict[str, str], body: bytes, problem: str
) -> None:
    answer = httpx.Response(
        200, headers={"Content-Type": "application/json", **headers}, stream=OneChunk(body)
    )
    async with client_for(lambda request: answer) as client:
        with pytest.raises(MalformedResponseError, match=problem):
            await client.fetch_tasks(FAIL)


async def test_the_client_asks_only_for_encodings_it_decodes_itself() -> None:
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers["Accept-Encoding"])
        return raw_json('{"scheduled_tasks": [], "total_count": 0}')

    async with client_for(handle) as client:
        await client.fetch_tasks(FAIL)
    assert asked == ["gzip, deflate"]


async def test_an_error_answer_is_told_in_the_text_it_decodes_to() -> None:
    """The body of an error answer is shown as httpx decodes text: once un-gzipped (not twice), in the
    charset the answer names."""
    page = "<p>Serveur surcharg\u00e9</p>".encode("latin-1")
    answer = httpx.Response(
        502,
        headers={"Content-Type": "text/plain; charset=latin-1", "Content-Encoding": "gzip"},
        stream=OneChunk(gzip.compress(page)),
    )
    async with client_for(lambda request: answer) as client:
        with pytest.raises(ServerError, match="<p>Serveur surcharg\u00e9</p>"):
            await client.fetch_tasks(FAIL)


@pytest.mark.parametrize("record_id", ["..", ".", "", "x" * (MAX_ID_LENGTH + 1)])
async def test_an_id_that_would_leave_its_path_segment_is_refused_unasked(record_id: str) -> None:
    """A script record id from a button's value (or a task id from an answer) of `..` would have asked
    `GET /v2/{project_id}` (URL normalisation resolves it; `.` the records listing): nothing is sent."""
    requests: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return raw_json("{}")

    async with client_for(handle) as client:
        with pytest.raises(NotFoundError, match="not an id the API could know"):
            await client.get_script_record(record_id)
        with pytest.raises(NotFoundError):
            await client.get_task(record_id)
    assert requests == []


async def test_an_id_with_a_slash_stays_one_segment() -> None:
    requests: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return raw_json('{"error_code": "WKS.0404", "error_msg": "no such record"}', 404)

    async with client_for(handle) as client:
        with pytest.raises(NotFoundError):
            await client.get_script_record("../desktops")
    assert requests[0].url.raw_path.endswith(b"/script-execution-records/..%2Fdesktops")
