"""The AK/SK signer produces the official SDK's `Authorization` header byte for byte.

The oracle is huaweicloudsdkcore itself: each case is signed by the SDK's `BasicCredentials.sign_request`
and by ours, from the same inputs, and the headers must be equal strings. A second group builds requests the
way the SDK's `WorkspaceClient` does (path and query processing included) and checks that our client puts the
same path and query on the wire.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkworkspace.v2 import (
    ListScheduledTasksRecordsDetailsRequest,
    ListScheduledTasksRecordsRequest,
    ListScheduledTasksRequest,
    ShowScheduledTasksRequest,
)
from huaweicloudsdkworkspace.v2 import (
    WorkspaceClient as SdkWorkspaceClient,
)

from monitor.workspace import signer
from monitor.workspace.auth import AkSkAuth, OutgoingRequest
from monitor.workspace.client import RetryPolicy, TaskFilter, WorkspaceClient

AK = "HPUAXXXXXXXXXXXXXXXX"
SK = "sk/with+odd=chars~and 0123456789"
PROJECT = "0123456789abcdef0123456789abcdef"
SDK_DATE = "20261129T051500Z"
HOST = "workspace.cn-north-4.myhuaweicloud.com"


def sdk_authorization(
    path: str,
    params: list[tuple[str, Any]],
    headers: dict[str, str],
    body: bytes = b"",
    method: str = "GET",
    security_token: str | None = None,
) -> str:
    credentials = BasicCredentials(AK, SK, PROJECT)
    if security_token:
        credentials.with_security_token(security_token)
    request = SdkRequest(
        method=method,
        schema="https",
        host=headers.get("Host", HOST),
        resource_path=path,
        query_params=list(params),
        header_params=dict(headers),
        body=body,
    )
    signed = credentials.sign_request(request)
    return str(signed.header_params["Authorization"])


BASE_HEADERS = {
    "Host": HOST,
    "Content-Type": "application/json",
    "User-Agent": "huaweicloud-usdk-python/3.0",
    "X-Sdk-Date": SDK_DATE,
}

SIGNING_CASES = [
    pytest.param("/v2/p/scheduled-tasks", [("offset", "0"), ("limit", "50")], {}, b"", id="plain list"),
    pytest.param("/v2/p/scheduled-tasks", [], {}, b"", id="no query"),
    pytest.param(
        "/v2/p/scheduled-tasks",
        [("offset", "0"), ("limit", "50"), ("task_name", "夜间 重启 任务")],
        {},
        b"",
        id="unicode and spaces in task_name",
    ),
    pytest.param(
        "/v2/p/scheduled-tasks",
        [("task_name", "a/b~c d+e&f=g%h"), ("offset", "0"), ("limit", "50")],
        {},
        b"",
        id="slash tilde plus ampersand percent in a value",
    ),
    pytest.param(
        "/v2/p/scheduled-tasks",
        [("task_name", ""), ("offset", "0"), ("limit", "0")],
        {},
        b"",
        id="empty value",
    ),
    pytest.param(
        "/v2/p/scheduled-tasks",
        [("last_status", "SKIP"), ("last_status", "FAIL"), ("offset", "100"), ("limit", "50")],
        {},
        b"",
        id="repeated parameter",
    ),
    pytest.param(
        "/v2/p/scheduled-tasks/2b31e-d520%2Fx~y/records", [("offset", "0")], {}, b"", id="escaped id in path"
    ),
    pytest.param("/v2/p/scheduled-tasks/", [], {}, b"", id="path already ends in slash"),
    pytest.param(
        "/v2/p/scheduled-tasks",
        [("offset", "0")],
        {"X-Custom": "  spaced value  ", "X_Underscore": "not signed"},
        b"",
        id="header with spaces and an unsigned underscore header",
    ),
    pytest.param("/v2/p/scheduled-tasks", [], {}, b'{"a": "\xc3\xa9"}', id="json body"),
    pytest.param("/v2/p/scheduled-tasks", [], {"Host": "127.0.0.1:8900"}, b"", id="host with port"),
]


@pytest.mark.parametrize(("path", "params", "extra_headers", "body"), SIGNING_CASES)
def test_signature_matches_official_sdk(
    path: str, params: list[tuple[str, str]], extra_headers: dict[str, str], body: bytes
) -> None:
    headers = {**BASE_HEADERS, **extra_headers, "X-Project-Id": PROJECT}
    ours = signer.sign(
        access_key=AK, secret_key=SK, method="GET", path=path, params=params, headers=headers, body=body
    )
    assert ours == sdk_authorization(path, params, headers, body)


async def test_temporary_credentials_sign_the_security_token_like_the_sdk() -> None:
    token = "temporary-token/with+chars=="
    auth = AkSkAuth(
        AK, SK, project_id=PROJECT, security_token=token, clock=lambda: datetime(2026, 11, 29, 5, 15)
    )
    request = OutgoingRequest("GET", HOST, "/v2/p/scheduled-tasks", [("offset", "0")], dict(BASE_HEADERS))
    await auth.apply(request)
    assert request.headers["X-Security-Token"] == token
    assert "x-security-token" in request.headers["Authorization"]
    sdk_headers = {k: v for k, v in request.headers.items() if k not in ("Authorization", "X-Security-Token")}
    assert request.headers["Authorization"] == sdk_authorization(
        "/v2/p/scheduled-tasks", [("offset", "0")], sdk_headers, security_token=token
    )


def test_sdk_date_is_utc_basic_format() -> None:
    aware = datetime(2026, 11, 29, 13, 15, 0, tzinfo=UTC).astimezone()
    assert signer.format_sdk_date(aware) == "20261129T131500Z"


def test_parse_authorization_round_trip() -> None:
    value = signer.sign(
        access_key=AK, secret_key=SK, method="GET", path="/x", params=[], headers=BASE_HEADERS, body=b""
    )
    parsed = signer.parse_authorization(value)
    assert parsed is not None
    assert parsed.access_key == AK
    assert parsed.signed_headers == ("content-type", "host", "user-agent", "x-sdk-date")


@pytest.mark.parametrize("value", ["", "Bearer abc", "SDK-HMAC-SHA256 Access=a", "SDK-HMAC-SHA256 junk"])
def test_parse_authorization_rejects_other_schemes(value: str) -> None:
    assert signer.parse_authorization(value) is None


# -- our client builds the same wire request as the SDK's WorkspaceClient ---------------------------------


def sdk_wire_request(sdk_request: Any, http_info_builder: str) -> SdkRequest:
    client = (
        SdkWorkspaceClient.new_builder()
        .with_credentials(BasicCredentials(AK, SK, PROJECT))
        .with_endpoints([f"https://{HOST}"])
        .build()
    )
    info = getattr(client, http_info_builder)(sdk_request)
    info["header_params"]["X-Sdk-Date"] = SDK_DATE
    wire: SdkRequest = client.build_future_request(
        info["method"],
        info["resource_path"],
        info["path_params"],
        info["query_params"],
        info["header_params"],
        info["body"],
        info["post_params"],
        info["cname"],
        info["response_type"],
        info["collection_formats"],
        None,
    ).result()
    return wire


WIRE_CASES = [
    pytest.param(
        ListScheduledTasksRequest(offset=0, limit=50, task_name="夜间 重启/~x", last_status="FAIL"),
        "_list_scheduled_tasks_http_info",
        lambda c: c.fetch_tasks(TaskFilter(task_name="夜间 重启/~x", last_status="FAIL")),
        id="list with unicode filter",
    ),
    pytest.param(
        ListScheduledTasksRequest(offset=0, limit=50, task_name=""),
        "_list_scheduled_tasks_http_info",
        lambda c: c.fetch_tasks(TaskFilter(task_name="")),
        id="list with empty filter",
    ),
    pytest.param(
        ShowScheduledTasksRequest(task_id="id/with~odd chars"),
        "_show_scheduled_tasks_http_info",
        lambda c: c.get_task("id/with~odd chars"),
        id="show with odd id",
    ),
    pytest.param(
        ListScheduledTasksRecordsRequest(task_id="t-1", offset=0, limit=10),
        "_list_scheduled_tasks_records_http_info",
        lambda c: c.list_records("t-1"),
        id="records",
    ),
    pytest.param(
        ListScheduledTasksRecordsDetailsRequest(task_id="t-1", record_id="r-9", offset=0, limit=100),
        "_list_scheduled_tasks_records_details_http_info",
        lambda c: c.list_record_details("t-1", "r-9"),
        id="record details",
    ),
]


@pytest.mark.parametrize(("sdk_request", "builder", "call"), WIRE_CASES)
async def test_client_sends_what_the_sdk_sends(sdk_request: Any, builder: str, call: Any) -> None:
    """Same path and query as the SDK, and an Authorization the SDK computes identically from our headers."""
    captured: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        captured.append(request)
        return httpx.Response(
            200,
            json={
                "scheduled_tasks": [],
                "total_count": 0,
                "id": "x",
                "tasks_records": [],
                "tasks_records_details": [],
            },
        )

    fixed = datetime(2026, 11, 29, 5, 15, tzinfo=UTC)
    auth = AkSkAuth(AK, SK, project_id=PROJECT, clock=lambda: fixed)
    async with WorkspaceClient(
        endpoint=f"https://{HOST}",
        project_id=PROJECT,
        auth=auth,
        transport=httpx.MockTransport(answer),
        retry=RetryPolicy(attempts=1),
    ) as client:
        await call(client)

    wire = sdk_wire_request(sdk_request, builder)
    sent = captured[0]
    assert sent.url.raw_path.decode() == wire.uri
    headers = {k.title() if k != "x-sdk-date" else "X-Sdk-Date": v for k, v in sent.headers.items()}
    ours = headers.pop("Authorization")
    signable = {k: v for k, v in headers.items() if k in ("Host", "Content-Type", "User-Agent", "X-Sdk-Date")}
    assert ours == sdk_authorization(wire.resource_path, wire.query_params, signable)
