"""The simulator over raw HTTP: paging, filters, parameter errors, authentication paths and IAM tokens."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.devtools.sim import DEFAULT_PROJECT_ID, Simulator, start_simulator
from tests.support.simapi import Api, http_client, small_options

PARAM_ERRORS = [
    ([("limit", "10")], "offset is required"),
    ([("offset", "0")], "limit is required"),
    ([("offset", "0"), ("limit", "51")], "limit must be between 0 and 50"),
    ([("offset", "0"), ("limit", "-1")], "limit must be between 0 and 50"),
    ([("offset", "x"), ("limit", "10")], "offset must be an integer"),
    ([("offset", "0"), ("limit", "10"), ("task_type", "REBOOTING")], "task_type must be one of"),
]


@pytest.mark.parametrize(("params", "message"), PARAM_ERRORS)
async def test_parameter_errors(api: Api, params: list[tuple[str, str]], message: str) -> None:
    response = await api.get(api.tasks_path(), params)
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "WKS.0001"
    assert message in body["error_msg"]


async def page_all(api: Api, limit: int, **filters: str) -> tuple[list[str], set[int]]:
    ids: list[str] = []
    totals: set[int] = set()
    offset = 0
    while True:
        params = [("offset", str(offset)), ("limit", str(limit)), *filters.items()]
        body = (await api.get(api.tasks_path(), params)).json()
        ids += [t["id"] for t in body["scheduled_tasks"]]
        totals.add(body["total_count"])
        offset += limit
        if offset >= body["total_count"]:
            return ids, totals


async def test_paging_is_stable_creation_order(sim: Simulator, api: Api) -> None:
    visible = [t.id for t in sim.state.tasks if not t.triggered]
    ids, totals = await page_all(api, 7)
    assert ids == visible
    assert totals == {len(visible)}
    zero = (await api.get(api.tasks_path(), [("offset", "0"), ("limit", "0")])).json()
    assert zero == {"scheduled_tasks": [], "total_count": len(visible)}
    beyond = (await api.get(api.tasks_path(), [("offset", "10000"), ("limit", "50")])).json()
    assert beyond["scheduled_tasks"] == []
    assert beyond["total_count"] == len(visible)


@pytest.mark.parametrize(
    "filters",
    [
        {"last_status": "FAIL"},
        {"last_status": "SKIP", "task_type": "REBOOT"},
        {"scheduled_type": "LIFE_CYCLE"},
        {"scheduled_type": "WEEK", "last_status": "SUCCESS"},
        {"life_cycle_type": "POST_DESKTOP_DISCONNECTED", "scheduled_type": "LIFE_CYCLE"},
        {"life_cycle_type": "POST_DESKTOP_DISCONNECTED"},  # without LIFE_CYCLE asked for: nothing
        {"task_name": "-0"},
    ],
)
async def test_filters(sim: Simulator, api: Api, filters: dict[str, str]) -> None:
    def wanted(task: Any) -> bool:
        if task.triggered and filters.get("scheduled_type") != "LIFE_CYCLE":
            return False
        if "task_name" in filters and filters["task_name"] not in task.task_name:
            return False
        return all(getattr(task, k) == v for k, v in filters.items() if k != "task_name")

    ids, _ = await page_all(api, 50, **filters)
    assert ids == [t.id for t in sim.state.tasks if wanted(t)]


async def test_show_records_details_and_404s(sim: Simulator, api: Api) -> None:
    task = sim.state.with_status("FAIL")[0]
    shown = (await api.get(api.tasks_path(f"/{task.id}"))).json()
    assert shown["id"] == task.id
    assert "last_status" not in shown
    records = (await api.get(api.tasks_path(f"/{task.id}/records"), [("offset", "0"), ("limit", "1")])).json()
    assert records["total_count"] == len(task.records)
    assert len(records["tasks_records"]) == 1
    record_id = records["tasks_records"][0]["id"]
    details = (await api.get(api.tasks_path(f"/{task.id}/records/{record_id}"))).json()
    assert details["total_count"] == len(task.records[0].details)
    assert {d["record_id"] for d in details["tasks_records_details"]} == {record_id}
    bad_limit = await api.get(api.tasks_path(f"/{task.id}/records"), [("offset", "0"), ("limit", "101")])
    assert bad_limit.status_code == 400

    unknown_ids = [
        ("/nope", "WKS.0130", "The scheduled task does not exist."),
        ("/nope/records", "WKS.0130", "The scheduled task does not exist."),
        (f"/{task.id}/records/nope", "WKS.0131", "The execution record does not exist."),
    ]
    for path, _, message in unknown_ids:  # by default as the real API: 400
        response = await api.get(api.tasks_path(path))
        assert response.status_code == 400
        assert response.json() == {"error_code": "WKS.0001", "error_msg": message}
    sim.state.options.not_found_status = 404
    for path, code, message in unknown_ids:
        response = await api.get(api.tasks_path(path))
        assert response.status_code == 404
        assert response.json() == {"error_code": code, "error_msg": message}
    unknown = await api.get(f"/v2/{DEFAULT_PROJECT_ID}/desktops")
    assert unknown.status_code == 404
    assert unknown.json()["error_code"] == "APIGW.0101"


async def test_wrong_project_in_path_is_403(api: Api) -> None:
    path = api.tasks_path(project_id="f" * 32)
    response = await api.get(path, [("offset", "0"), ("limit", "1")], project_id="f" * 32)
    assert response.status_code == 403
    assert response.json() == {"error_code": "WKS.0005", "error_msg": response.json()["error_msg"]}
    assert "project id mismatch" in response.json()["error_msg"]


async def test_authentication_failures(api: Api) -> None:
    params = [("offset", "0"), ("limit", "1")]
    cases = [
        await api.get(api.tasks_path(), params, auth="none"),
        await api.get(api.tasks_path(), params, secret_key="wrong"),
        await api.get(api.tasks_path(), params, now=datetime.now(UTC) - timedelta(minutes=20)),
        await api.get(api.tasks_path(), params, auth="token", token="made-up"),
        # the query on the wire differs from the one signed
        await api.http.get(
            api.url(api.tasks_path(), [*params, ("last_status", "FAIL")]), headers=_signed_for(api)
        ),
    ]
    for response in cases:
        assert response.status_code == 401
        body = response.json()
        assert body["error_code"] == "APIGW.0301"
        assert body["error_msg"].startswith("Incorrect IAM authentication information: ")


def _signed_for(api: Api) -> dict[str, str]:
    from tests.support.simapi import signed_headers

    return signed_headers("GET", api.url(api.tasks_path(), [("offset", "0"), ("limit", "1")]))


async def test_temporary_key_needs_security_token(api: Api) -> None:
    params = [("offset", "0"), ("limit", "1")]
    assert (await api.get(api.tasks_path(), params, auth="temp")).status_code == 200
    from monitor.devtools.sim import DEFAULT_TEMP_ACCESS_KEY, DEFAULT_TEMP_SECRET_KEY

    without = await api.get(
        api.tasks_path(), params, access_key=DEFAULT_TEMP_ACCESS_KEY, secret_key=DEFAULT_TEMP_SECRET_KEY
    )
    assert without.status_code == 401
    assert "X-Security-Token" in without.json()["error_msg"]


def login_body(
    sim: Simulator, password: str | None = None, scope: dict[str, str] | None = None
) -> dict[str, Any]:
    opts = sim.state.options
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": opts.iam_user,
                        "password": password or opts.iam_password,
                        "domain": {"name": opts.iam_domain},
                    }
                },
            },
            "scope": {"project": scope or {"id": opts.project_id}},
        }
    }


async def test_iam_token_issue_use_and_expiry(sim: Simulator, api: Api) -> None:
    issued = await api.http.post(sim.base_url + "/v3/auth/tokens", json=login_body(sim))
    assert issued.status_code == 201
    token = issued.headers["X-Subject-Token"]
    body = issued.json()["token"]
    assert body["methods"] == ["password"]
    assert body["project"]["id"] == DEFAULT_PROJECT_ID
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    issued_at = datetime.fromisoformat(body["issued_at"].replace("Z", "+00:00"))
    assert expires - issued_at == timedelta(days=1)

    params = [("offset", "0"), ("limit", "5"), ("last_status", "FAIL")]
    assert (await api.get(api.tasks_path(), params, auth="token", token=token)).status_code == 200

    sim.state.expire_tokens()
    expired = await api.get(api.tasks_path(), params, auth="token", token=token)
    assert expired.status_code == 401
    assert expired.json() == {"error_code": "APIGW.0307", "error_msg": "The token must be updated."}

    by_region = await api.http.post(
        sim.base_url + "/v3/auth/tokens", json=login_body(sim, scope={"name": sim.state.options.region})
    )
    assert by_region.status_code == 201
    wrong = await api.http.post(sim.base_url + "/v3/auth/tokens", json=login_body(sim, password="nope"))
    assert wrong.status_code == 401
    assert "X-Subject-Token" not in wrong.headers
    assert wrong.json()["error"]["code"] == 401
    garbage = await api.http.post(sim.base_url + "/v3/auth/tokens", content=b"{not json")
    assert garbage.status_code == 400


async def test_token_ttl_zero_expires_at_once_and_static_tokens_work() -> None:
    async with (
        start_simulator(small_options(tasks=10, token_ttl_seconds=0, static_tokens=("static-tok",))) as sim,
        http_client() as http,
    ):
        api = Api(sim.base_url, http)
        token = (await http.post(sim.base_url + "/v3/auth/tokens", json=login_body(sim))).headers[
            "X-Subject-Token"
        ]
        params = [("offset", "0"), ("limit", "5")]
        assert (await api.get(api.tasks_path(), params, auth="token", token=token)).json()["error_code"] == (
            "APIGW.0307"
        )
        assert (await api.get(api.tasks_path(), params, auth="token", token="static-tok")).status_code == 200


async def test_max_in_flight_counts_concurrent_requests() -> None:
    async with (
        start_simulator(small_options(tasks=10, latency_ms=200)) as sim,
        http_client() as http,
    ):
        api = Api(sim.base_url, http)
        params = [("offset", "0"), ("limit", "5")]
        responses = await asyncio.gather(*(api.get(api.tasks_path(), params) for _ in range(6)))
        assert {r.status_code for r in responses} == {200}
        stats = sim.state.stats_snapshot()
        assert stats["max_in_flight"] == 6
        assert stats["in_flight"] == 0
        assert stats["requests"]["list"] == {"200": 6}
        sim.state.reset_stats()
        assert sim.state.stats_snapshot()["max_in_flight"] == 0
        await api.get(api.tasks_path(), params)
        assert sim.state.stats_snapshot()["max_in_flight"] == 1


async def test_error_rate_one_fails_every_request() -> None:
    async with (
        start_simulator(small_options(tasks=10, error_rate=1.0)) as sim,
        http_client() as http,
    ):
        api = Api(sim.base_url, http)
        for _ in range(3):
            response = await api.get(api.tasks_path(), [("offset", "0"), ("limit", "5")])
            assert response.status_code in (500, 502, 503)
        assert sim.state.stats_snapshot()["faults_injected"] == {"error_rate": 3}
