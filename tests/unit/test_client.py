"""The Workspace client's paging, retry and error behaviour, against answers scripted with MockTransport.

The same behaviours run against the real simulator over loopback in tests/integration; these pin down the
exact rules (what is retried, how often, what is complete) quickly and deterministically.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import structlog

from monitor.workspace.auth import IamPasswordAuth, StaticTokenAuth
from monitor.workspace.client import PAGE_LIMIT, RetryPolicy, TaskFilter, WorkspaceClient, throttle_pause
from monitor.workspace.errors import (
    AuthError,
    ConfigurationError,
    MalformedResponseError,
    NotFoundError,
    RateLimitedError,
    RequestError,
    ServerError,
    TransportError,
)

PROJECT = "p" * 32
NO_WAIT = RetryPolicy(attempts=3, wait_initial=0, wait_max=0, wait_jitter=0, timeout=10)

Handler = Callable[[httpx.Request], httpx.Response]


def make_tasks(count: int, status: str = "FAIL") -> list[dict[str, Any]]:
    return [
        {"id": f"task-{i:05d}", "task_name": f"task {i}", "task_type": "REBOOT", "last_status": status}
        for i in range(count)
    ]


def list_api(tasks: list[dict[str, Any]], *, total: int | None = None) -> Handler:
    """Answers the list endpoint like the real API: offset/limit slicing and total_count."""

    def handle(request: httpx.Request) -> httpx.Response:
        query = dict(parse_qsl(request.url.query.decode()))
        offset, limit = int(query["offset"]), int(query["limit"])
        return httpx.Response(
            200,
            json={
                "scheduled_tasks": tasks[offset : offset + limit],
                "total_count": len(tasks) if total is None else total,
            },
        )

    return handle


def client_for(handler: Handler, *, concurrency: int = 4, retry: RetryPolicy = NO_WAIT, auth: Any = None):  # type: ignore[no-untyped-def]
    return WorkspaceClient(
        endpoint="https://workspace.test",
        project_id=PROJECT,
        auth=auth or StaticTokenAuth("static-token-value"),
        concurrency=concurrency,
        retry=retry,
        transport=httpx.MockTransport(handler),
    )


async def test_lists_every_page_and_reports_complete() -> None:
    tasks = make_tasks(237)
    async with client_for(list_api(tasks)) as client:
        listing = await client.fetch_tasks(TaskFilter(last_status="FAIL"))
    assert [t.id for t in listing.tasks] == [t["id"] for t in tasks]
    assert listing.complete
    assert listing.total_count == 237
    assert listing.requests == 5


async def test_pages_after_the_first_run_concurrently_within_the_bound() -> None:
    tasks = make_tasks(PAGE_LIMIT * 12)
    inner = list_api(tasks)
    in_flight = 0
    peak = 0

    async def handle(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return inner(request)

    async with client_for(handle, concurrency=3) as client:  # type: ignore[arg-type]
        listing = await client.fetch_tasks()
    assert listing.complete
    assert peak == 3


async def test_filters_are_sent_as_query_parameters() -> None:
    seen: list[dict[str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(dict(parse_qsl(request.url.query.decode(), keep_blank_values=True)))
        return httpx.Response(200, json={"scheduled_tasks": [], "total_count": 0})

    async with client_for(handle) as client:
        await client.fetch_tasks(TaskFilter(task_name="夜 a/b", task_type="REBOOT", last_status="SKIP"))
    assert seen == [
        {"offset": "0", "limit": "50", "task_name": "夜 a/b", "task_type": "REBOOT", "last_status": "SKIP"}
    ]


async def test_failing_listing_asks_for_fail_and_skip_including_triggered_tasks() -> None:
    asked: list[tuple[str | None, str | None]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        query = dict(parse_qsl(request.url.query.decode()))
        asked.append((query.get("last_status"), query.get("scheduled_type")))
        status = query["last_status"]
        suffix = query.get("scheduled_type", "")
        task = {"id": f"{status}-{suffix}", "last_status": status}
        return httpx.Response(200, json={"scheduled_tasks": [task], "total_count": 1})

    async with client_for(handle) as client:
        listing = await client.fetch_failing()
    assert sorted(asked, key=str) == sorted(
        [("FAIL", None), ("FAIL", "LIFE_CYCLE"), ("SKIP", None), ("SKIP", "LIFE_CYCLE")], key=str
    )
    assert len(listing.tasks) == 4
    assert listing.complete


async def test_duplicates_from_a_shifting_list_are_yielded_once() -> None:
    """A task inserted at the front between pages pushes one task onto the next page twice."""
    tasks = make_tasks(120)
    calls = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 2:  # after page 0 was served, a new task appears at the front
            tasks.insert(0, {"id": "new-task", "last_status": "FAIL"})
        return list_api(tasks)(request)

    async with client_for(handle, concurrency=1) as client:
        listing = await client.fetch_tasks()
    ids = [t.id for t in listing.tasks]
    assert len(ids) == len(set(ids))
    assert set(ids) == {t["id"] for t in tasks}
    assert listing.complete  # the second pass saw a list that held still


@pytest.mark.parametrize(
    ("real", "said", "requests"),
    [
        pytest.param(60, 500, 10, id="+N: the pages past the tasks come back empty"),
        pytest.param(60, 0, 2, id="total_count 0 and a full first page"),
        pytest.param(160, 20, 4, id="-N: paging goes on while pages come back full"),
        pytest.param(100, 100, 3, id="a full last page is not trusted to be the last"),
        pytest.param(237, 237, 5, id="agreeing"),
    ],
)
async def test_a_listing_is_complete_when_the_pages_run_out_whatever_total_count_says(
    real: int, said: int, requests: int
) -> None:
    tasks = make_tasks(real)
    async with client_for(list_api(tasks, total=said)) as client:
        listing = await client.fetch_tasks()
    assert [t.id for t in listing.tasks] == [t["id"] for t in tasks]
    assert listing.complete
    assert listing.problems == []
    assert listing.requests == requests


async def test_a_disagreeing_total_count_is_logged_once_per_change_and_counted() -> None:
    tasks = make_tasks(60)
    said = [70]
    seen: list[tuple[str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        return list_api(tasks, total=said[0])(request)

    client = client_for(handle)
    client._observe = lambda endpoint, status: seen.append((endpoint, status))
    with structlog.testing.capture_logs() as logs:
        async with client:
            for total in (70, 70, 80, 60, 70):
                said[0] = total
                assert (await client.fetch_tasks()).complete
    told = [(e["total_count"], e["listed"]) for e in logs if e["event"] == "poll.total_count_disagrees"]
    assert told == [(70, 60), (80, 60), (70, 60)]
    assert [e["event"] for e in logs].count("poll.total_count_agrees") == 1
    assert seen.count(("GET /v2/{project_id}/scheduled-tasks", "anomaly:total_count")) == 4


async def test_a_failing_later_page_makes_the_listing_incomplete_but_keeps_the_rest() -> None:
    inner = list_api(make_tasks(150))

    def handle(request: httpx.Request) -> httpx.Response:
        if dict(parse_qsl(request.url.query.decode()))["offset"] == "50":
            return httpx.Response(503, json={"error_code": "WKS.9999", "error_msg": "busy"})
        return inner(request)

    async with client_for(handle) as client:
        listing = await client.fetch_tasks()
    assert not listing.complete
    assert len(listing.tasks) == 100
    assert "offset 50" in listing.problems[0]


async def test_unknown_fields_are_kept() -> None:
    task = {"id": "t1", "task_name": "n", "brand_new_field": {"x": 1}}

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"scheduled_tasks": [task], "total_count": 1, "extra": True})

    async with client_for(handle) as client:
        listing = await client.fetch_tasks()
    assert listing.tasks[0].extra_fields == {"brand_new_field": {"x": 1}}


async def test_an_unreadable_task_is_skipped_and_the_listing_is_incomplete() -> None:
    tasks: list[dict[str, Any]] = [{"id": "good"}, {"id": 12345}, {"id": "also-good", "enable": "yes"}]

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"scheduled_tasks": tasks, "total_count": 3})

    async with client_for(handle) as client:
        listing = await client.fetch_tasks()
    assert [t.id for t in listing.tasks] == ["good"]
    assert not listing.complete


# -- retries ---------------------------------------------------------------------------------------------


def scripted(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """Answers with each response in turn, repeating the last; records every request."""
    requests: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        answer = responses[min(len(requests), len(responses)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handle, requests


OK_EMPTY = httpx.Response(200, json={"scheduled_tasks": [], "total_count": 0})


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(httpx.Response(500, json={"error_code": "WKS.0000", "error_msg": "x"}), id="500"),
        pytest.param(httpx.Response(502, text="<html>Bad Gateway</html>"), id="502 html"),
        pytest.param(httpx.Response(503), id="503 empty"),
        pytest.param(httpx.ConnectError("refused"), id="connection refused"),
        pytest.param(httpx.ReadTimeout("slow"), id="read timeout"),
        pytest.param(httpx.RemoteProtocolError("closed without answer"), id="dropped connection"),
    ],
)
async def test_retryable_failures_are_retried_then_succeed(failure: Any) -> None:
    handle, requests = scripted(failure, OK_EMPTY)
    async with client_for(handle) as client:
        listing = await client.fetch_tasks()
    assert listing.complete
    assert len(requests) == 2


async def test_retries_are_bounded_and_end_in_a_server_error() -> None:
    handle, requests = scripted(httpx.Response(503, json={"error_code": "X", "error_msg": "down"}))
    async with client_for(handle) as client:
        with pytest.raises(ServerError) as caught:
            await client.fetch_tasks()
    assert len(requests) == NO_WAIT.attempts
    assert "GET /v2/{project_id}/scheduled-tasks" in str(caught.value)


async def test_transport_errors_end_in_a_transport_error_naming_the_host() -> None:
    handle, _ = scripted(httpx.ConnectError("Name or service not known"))
    async with client_for(handle) as client:
        with pytest.raises(TransportError, match=r"cannot reach workspace\.test"):
            await client.get_task("t1")


async def test_429_is_retried_and_keeps_retry_after_and_body() -> None:
    body = {"error_code": "APIGW.0308", "error_msg": "The throttling threshold has been reached"}
    throttled = httpx.Response(429, json=body, headers={"Retry-After": "0"})
    handle, requests = scripted(throttled, throttled, throttled)
    async with client_for(handle) as client:
        with pytest.raises(RateLimitedError) as caught:
            await client.fetch_tasks()
    assert len(requests) == 3
    assert caught.value.retry_after == 0
    assert "APIGW.0308" in caught.value.body
    assert caught.value.error_code == "APIGW.0308"


def test_a_429_waits_the_clients_pause_instead_of_the_backoff() -> None:
    hook = client_for(list_api([]))._retry_hook
    assert hook(RateLimitedError("x", retry_after=7)) == 0.0
    assert hook(RateLimitedError("x")) == 0.0
    assert hook(ServerError("x")) is True
    assert hook(AuthError("x")) is False


@pytest.mark.parametrize(
    ("streak", "jitter", "pause"),
    [
        (1, 1.0, 1.0),
        (1, 0.0, 0.5),
        (2, 1.0, 2.0),
        (3, 1.0, 4.0),
        (5, 1.0, 16.0),
        (6, 1.0, 30.0),  # throttle_max
        (60, 1.0, 30.0),
        (6, 0.0, 15.0),
        (0, 1.0, 1.0),
        (2, 7.0, 2.0),  # jitter clamped
    ],
)
def test_throttle_pause_without_retry_after(streak: int, jitter: float, pause: float) -> None:
    assert throttle_pause(streak, RetryPolicy(), jitter) == pause


def test_throttle_pause_never_exceeds_max_retry_after() -> None:
    assert throttle_pause(10, RetryPolicy(max_retry_after=5), 1.0) == 5


THROTTLED = httpx.Response(
    429, json={"error_code": "APIGW.0308", "error_msg": "The throttling threshold has been reached"}
)
SHORT_THROTTLE = RetryPolicy(
    attempts=5, wait_initial=0, wait_max=0, wait_jitter=0, timeout=30, throttle_initial=0.04, throttle_max=1
)


def throttle_logs(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"] == "api.throttled"]


async def test_429s_in_flight_together_share_one_pause_without_retry_after() -> None:
    """Three pages in flight get 429 at once: one pause (not three escalations), and no page is asked
    again before it ends."""
    inner = list_api(make_tasks(190))
    asked: list[str] = []
    answered_429: list[float] = []
    retried: list[float] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        offset = dict(parse_qsl(request.url.query.decode()))["offset"]
        again = offset in asked
        asked.append(offset)
        if again:
            retried.append(time.monotonic())
        await asyncio.sleep(0.01)  # all three in flight together
        if offset != "0" and not again:
            answered_429.append(time.monotonic())
            return THROTTLED
        return inner(request)

    with structlog.testing.capture_logs() as logs:
        async with client_for(handle, retry=SHORT_THROTTLE) as client:
            listing = await client.fetch_tasks()
    assert listing.complete
    assert len(listing.tasks) == 190
    [throttled] = throttle_logs(logs)
    assert throttled["streak"] == 1
    assert len(answered_429) == len(retried) == 3
    assert min(retried) >= min(answered_429) + throttled["pause"] - 0.001


async def test_429s_in_a_row_without_retry_after_back_off_exponentially() -> None:
    handle, requests = scripted(THROTTLED, THROTTLED, THROTTLED, OK_EMPTY)
    with structlog.testing.capture_logs() as logs:
        async with client_for(handle, retry=SHORT_THROTTLE, concurrency=1) as client:
            await client.fetch_tasks()
    pauses = [entry["pause"] for entry in throttle_logs(logs)]
    assert [entry["streak"] for entry in throttle_logs(logs)] == [1, 2, 3]
    for streak, pause in enumerate(pauses, start=1):
        assert 0.02 * 2 ** (streak - 1) <= pause <= 0.04 * 2 ** (streak - 1)
    assert len(requests) == 4


async def test_a_429_with_retry_after_pauses_for_that_long() -> None:
    with_header = httpx.Response(429, json={"error_code": "APIGW.0308"}, headers={"Retry-After": "0.05"})
    sent: list[float] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        return with_header if len(sent) == 1 else OK_EMPTY

    with structlog.testing.capture_logs() as logs:
        async with client_for(handle, retry=SHORT_THROTTLE) as client:
            await client.fetch_tasks()
    assert throttle_logs(logs) == []  # the server's pause, not ours
    assert sent[1] - sent[0] >= 0.05 - 0.001


@pytest.mark.parametrize(
    ("response", "error", "text"),
    [
        pytest.param(
            httpx.Response(
                401, json={"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication"}
            ),
            AuthError,
            "APIGW.0301",
            id="401 is permanent",
        ),
        pytest.param(
            httpx.Response(403, json={"error_code": "WKS.0005", "error_msg": "Forbidden"}),
            AuthError,
            "token rejected",
            id="403 is permanent",
        ),
        pytest.param(
            httpx.Response(400, json={"error_code": "WKS.0001", "error_msg": "bad limit"}),
            RequestError,
            "bad limit",
            id="400 is permanent",
        ),
        pytest.param(
            httpx.Response(404, text="<html>nginx</html>", headers={"Content-Type": "text/html"}),
            ConfigurationError,
            "Workspace API unreachable at https://workspace.test",
            id="404 from something that is not Workspace",
        ),
        pytest.param(
            httpx.Response(
                404,
                json={
                    "error_code": "APIGW.0101",
                    "error_msg": "The API does not exist or has not been published in the environment",
                },
            ),
            ConfigurationError,
            "check workspace.region / workspace.endpoint",
            id="APIGW.0101: the API is not published at this endpoint",
        ),
        pytest.param(
            httpx.Response(
                200, text="<!DOCTYPE html><html>login</html>", headers={"Content-Type": "text/html"}
            ),
            MalformedResponseError,
            "HTML page instead of JSON",
            id="HTML with 200",
        ),
        pytest.param(
            httpx.Response(200, text='{"scheduled_tasks": [{"id": "a"'),
            MalformedResponseError,
            "not JSON",
            id="truncated JSON",
        ),
        pytest.param(
            httpx.Response(200, json=[1, 2]),
            MalformedResponseError,
            "expected a JSON object",
            id="JSON array",
        ),
        pytest.param(
            httpx.Response(200, json={"scheduled_tasks": [], "total_count": "10"}),
            MalformedResponseError,
            "total_count is '10'",
            id="total_count as a string",
        ),
        pytest.param(
            httpx.Response(200, json={"tasks": [], "total_count": 0}),
            MalformedResponseError,
            "scheduled_tasks is missing",
            id="missing list field",
        ),
    ],
)
async def test_permanent_failures_are_not_retried_and_say_what_is_wrong(
    response: httpx.Response, error: type[Exception], text: str
) -> None:
    handle, requests = scripted(response)
    async with client_for(handle) as client:
        with pytest.raises(error) as caught:
            await client.fetch_tasks()
    assert len(requests) == 1
    assert text in str(caught.value)
    assert "GET /v2/{project_id}/scheduled-tasks" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"error_code": "WKS.0001", "error_msg": "The scheduled task does not exist."}, NotFoundError),
        (404, {"error_code": "WKS.0130", "error_msg": "The scheduled task does not exist."}, NotFoundError),
        (404, {"error_code": "WKS.0130", "error_msg": "gone"}, NotFoundError),
        (400, {"error_code": "WKS.0001", "error_msg": "task not found"}, NotFoundError),
        (400, {"error_code": "WKS.0001", "error_msg": "Invalid parameter: task_id"}, RequestError),
        (400, {"error_code": "WKS.0001", "error_msg": "The project does not exist."}, RequestError),
        (400, {"error_code": "APIGW.0101", "error_msg": "The API does not exist"}, ConfigurationError),
        (404, {"error_code": "APIGW.0101", "error_msg": "The API does not exist"}, ConfigurationError),
        (404, "<html>Not Found</html>", ConfigurationError),
    ],
)
async def test_which_answers_to_a_lookup_mean_the_task_is_gone(
    status: int, body: Any, error: type[Exception]
) -> None:
    """Only a NotFoundError closes an alert: a 404, or a 400 whose message says the task does not exist
    (what the real API sends); never the gateway's "no such API" or a page that is not Workspace's."""
    response = (
        httpx.Response(status, json=body) if isinstance(body, dict) else httpx.Response(status, text=body)
    )
    handle, requests = scripted(response)
    async with client_for(handle) as client:
        with pytest.raises(error) as caught:
            await client.get_task("task-1")
    assert type(caught.value) is error
    assert len(requests) == 1


async def test_aksk_rejection_says_what_to_check() -> None:
    from monitor.workspace.auth import AkSkAuth

    handle, _ = scripted(httpx.Response(401, json={"error_code": "APIGW.0301", "error_msg": "bad signature"}))
    async with client_for(handle, auth=AkSkAuth("AK123456", "SK123456", project_id=PROJECT)) as client:
        with pytest.raises(
            AuthError, match=r"AK/SK rejected: verify HUAWEICLOUD_SDK_AK/SK and the project id"
        ):
            await client.fetch_tasks()


# -- IAM token -------------------------------------------------------------------------------------------


class FakeIam:
    """IAM's token endpoint and a Workspace endpoint that accepts only the newest token."""

    def __init__(
        self,
        ttl: timedelta = timedelta(hours=24),
        expired: dict[str, str] | None = None,
    ) -> None:
        self.issued: list[str] = []
        self.ttl = ttl
        self.now = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
        self.expired = expired or {"error_code": "APIGW.0307", "error_msg": "The token must be updated."}
        self.rejected = 0
        self.refuse_all = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v3/auth/tokens":
            token = f"token-{len(self.issued) + 1}"
            self.issued.append(token)
            expires = (self.now + self.ttl).isoformat().replace("+00:00", "Z")
            return httpx.Response(
                201, headers={"X-Subject-Token": token}, json={"token": {"expires_at": expires}}
            )
        if self.refuse_all or request.headers.get("X-Auth-Token") != self.issued[-1]:
            self.rejected += 1
            return httpx.Response(401, json=self.expired)
        return httpx.Response(200, json={"scheduled_tasks": [], "total_count": 0})


def iam_client(iam: FakeIam) -> WorkspaceClient:
    transport = httpx.MockTransport(iam.handle)
    auth = IamPasswordAuth(
        iam_endpoint="https://iam.test",
        username="ops",
        password="pw-secret",
        domain="acme",
        project_id=PROJECT,
        http=httpx.AsyncClient(transport=transport),
        clock=lambda: iam.now,
    )
    return WorkspaceClient(
        endpoint="https://workspace.test", project_id=PROJECT, auth=auth, retry=NO_WAIT, transport=transport
    )


async def test_iam_token_is_fetched_once_and_shared_by_concurrent_requests() -> None:
    iam = FakeIam()
    async with iam_client(iam) as client:
        await asyncio.gather(*(client.fetch_tasks() for _ in range(5)))
    assert iam.issued == ["token-1"]


async def test_iam_token_is_renewed_before_it_expires() -> None:
    iam = FakeIam(ttl=timedelta(hours=1))
    async with iam_client(iam) as client:
        await client.fetch_tasks()
        iam.now += timedelta(minutes=55)  # inside the renewal margin
        await client.fetch_tasks()
    assert iam.issued == ["token-1", "token-2"]


@pytest.mark.parametrize(
    "expired",
    [
        {"error_code": "APIGW.0307", "error_msg": "The token must be updated."},
        {"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information: token expired"},
    ],
)
async def test_iam_token_is_renewed_when_the_api_says_it_expired(expired: dict[str, str]) -> None:
    iam = FakeIam(expired=expired)
    async with iam_client(iam) as client:
        await client.fetch_tasks()
        iam.issued.append("token-revoked-elsewhere")  # the server now wants a newer token than ours
        listing = await client.fetch_tasks()
    assert listing.complete
    assert iam.issued[-1] == "token-3"


@pytest.mark.parametrize(
    "rejection",
    [
        {"error_code": "APIGW.0307", "error_msg": "The token must be updated."},
        {"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information: token expired"},
    ],
)
async def test_a_token_refused_again_after_a_refresh_is_an_auth_error_not_a_loop(
    rejection: dict[str, str],
) -> None:
    iam = FakeIam(expired=rejection)
    iam.refuse_all = True
    async with iam_client(iam) as client:
        with pytest.raises(AuthError, match=rejection["error_code"]):
            await client.fetch_tasks()
    assert iam.rejected == 2  # refreshed once, retried once
    assert iam.issued == ["token-1", "token-2"]


async def test_other_401s_are_not_refreshed() -> None:
    iam = FakeIam(
        expired={"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information"}
    )
    async with iam_client(iam) as client:
        await client.fetch_tasks()
        iam.issued.append("revoked")
        with pytest.raises(AuthError):
            await client.fetch_tasks()
    assert iam.issued == ["token-1", "revoked"]


async def test_iam_password_rejected_is_an_auth_error() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401, json={"error": {"code": 401, "message": "The username or password is wrong."}}
        )

    auth = IamPasswordAuth(
        iam_endpoint="https://iam.test",
        username="ops",
        password="pw-secret",
        domain="acme",
        project_id=PROJECT,
        http=httpx.AsyncClient(transport=httpx.MockTransport(handle)),
    )
    async with client_for(handle, auth=auth) as client:
        with pytest.raises(AuthError, match="HUAWEICLOUD_IAM_USERNAME"):
            await client.fetch_tasks()


async def test_records_come_newest_first() -> None:
    records = [
        {"id": "r1", "start_time": "2026-11-27 08:00:00", "time_zone": "Asia/Shanghai", "status": "SUCCESS"},
        {"id": "r3", "start_time": "2026-11-29 08:00:00", "time_zone": "Asia/Shanghai", "status": "FAIL"},
        {"id": "r2", "start_time": "2026-11-28 08:00:00", "time_zone": "Asia/Shanghai", "status": "FAIL"},
    ]

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"tasks_records": records, "total_count": 3})

    async with client_for(handle) as client:
        got = await client.list_records("t1")
    assert [r.id for r in got] == ["r3", "r2", "r1"]


async def test_progress_is_reported_per_listing_until_every_page_is_done() -> None:
    seen: dict[int, tuple[int, int]] = {}

    def on_progress(index: int, done: int, pages: int) -> None:
        seen[index] = (done, pages)

    async with client_for(list_api(make_tasks(180))) as client:
        await client.fetch_many(
            [TaskFilter(last_status="FAIL"), TaskFilter(last_status="SKIP")], on_progress=on_progress
        )
    assert seen == {0: (4, 4), 1: (4, 4)}
