"""Every fault kind, queued through the control API, as a raw HTTP client sees it on the wire."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from monitor.devtools.sim import Simulator
from tests.support.simapi import Api

PAGE = [("offset", "0"), ("limit", "5")]


async def queue(api: Api, *faults: dict[str, Any]) -> None:
    response = await api.http.post(api.base_url + "/_sim/faults", json=list(faults))
    assert response.status_code == 201, response.text


async def list_page(api: Api, **filters: str) -> httpx.Response:
    return await api.get(api.tasks_path(), [*PAGE, *filters.items()])


async def test_status_429_then_normal(api: Api) -> None:
    """As the real API is documented: APIGW.0308, and no Retry-After unless the fault adds one."""
    await queue(api, {"endpoint": "list", "kind": "status", "status": 429, "count": 2})
    await queue(api, {"endpoint": "list", "kind": "status", "status": 429, "headers": {"Retry-After": "1"}})
    for _ in range(2):
        throttled = await list_page(api)
        assert throttled.status_code == 429
        assert "Retry-After" not in throttled.headers
        assert throttled.json()["error_code"] == "APIGW.0308"
    assert (await list_page(api)).headers["Retry-After"] == "1"
    assert (await list_page(api)).status_code == 200


async def test_status_with_custom_body_and_headers_on_another_endpoint_only(sim: Simulator, api: Api) -> None:
    await queue(
        api,
        {
            "endpoint": "show",
            "kind": "status",
            "status": 503,
            "body": "busy",
            "headers": {"Retry-After": "7"},
        },
    )
    assert (await list_page(api)).status_code == 200  # the fault waits for its endpoint
    shown = await api.get(api.tasks_path(f"/{sim.state.tasks[0].id}"))
    assert (shown.status_code, shown.text, shown.headers["Retry-After"]) == (503, "busy", "7")


@pytest.mark.parametrize("status", [200, 502])
async def test_html_error_page(api: Api, status: int) -> None:
    await queue(api, {"kind": "html", "status": status})
    response = await list_page(api)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<html>")


async def test_bad_json(api: Api) -> None:
    await queue(api, {"endpoint": "list", "kind": "bad_json"})
    response = await list_page(api)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_wrong_types(sim: Simulator, api: Api) -> None:
    await queue(api, {"endpoint": "list", "kind": "wrong_types"}, {"endpoint": "show", "kind": "wrong_types"})
    body = (await list_page(api)).json()
    assert isinstance(body["total_count"], str)
    assert isinstance(body["scheduled_tasks"][0]["id"], int)
    assert isinstance(body["scheduled_tasks"][1]["id"], str)
    shown = (await api.get(api.tasks_path(f"/{sim.state.tasks[0].id}"))).json()
    assert isinstance(shown["id"], int)


async def test_lie_total(sim: Simulator, api: Api) -> None:
    await queue(api, {"kind": "lie_total", "extra": 3})
    real = len(sim.state.with_status("FAIL", triggered=False))
    lying = (await list_page(api, last_status="FAIL")).json()
    assert lying["total_count"] == real + 3
    assert (await list_page(api, last_status="FAIL")).json()["total_count"] == real


@pytest.mark.parametrize(("mode", "moved"), [("insert", 2), ("remove", -2)])
async def test_shift_moves_the_next_page(sim: Simulator, api: Api, mode: str, moved: int) -> None:
    before = [t.id for t in sim.state.with_status("FAIL", triggered=False)]
    await queue(api, {"endpoint": "list", "kind": "shift", "mode": mode, "n": 2})
    first = (
        await api.get(api.tasks_path(), [("offset", "0"), ("limit", "5"), ("last_status", "FAIL")])
    ).json()
    assert [t["id"] for t in first["scheduled_tasks"]] == before[:5]  # this page is the old list
    second = (
        await api.get(api.tasks_path(), [("offset", "5"), ("limit", "5"), ("last_status", "FAIL")])
    ).json()
    after = [t.id for t in sim.state.with_status("FAIL", triggered=False)]
    assert second["total_count"] == len(before) + moved
    assert [t["id"] for t in second["scheduled_tasks"]] == after[5:10]
    if mode == "insert":
        assert after[2:] == before  # new tasks came in at the front: item 3 of page 1 is seen again
    else:
        assert after == before[2:]  # two vanished at the front: items 6 and 7 are never seen


async def test_drop_closes_the_connection(sim: Simulator, api: Api) -> None:
    await queue(api, {"endpoint": "list", "kind": "drop"})
    with pytest.raises(httpx.RemoteProtocolError):
        await list_page(api)
    assert (await list_page(api)).status_code == 200
    assert sim.state.stats_snapshot()["requests"]["list"] == {"dropped": 1, "200": 1}


async def test_delay_answers_normally_after_waiting(sim: Simulator, api: Api) -> None:
    await queue(api, {"kind": "delay", "seconds": 0.05})
    assert (await list_page(api)).status_code == 200
    assert sim.state.stats_snapshot()["faults_injected"] == {"delay": 1}


async def test_token_endpoint_faults(sim: Simulator, api: Api) -> None:
    await queue(api, {"endpoint": "token", "kind": "status", "status": 500})
    response = await api.http.post(sim.base_url + "/v3/auth/tokens", json={})
    assert response.status_code == 500
    assert (await list_page(api)).status_code == 200


async def test_unauthenticated_requests_do_not_use_up_faults(api: Api) -> None:
    await queue(api, {"kind": "status", "status": 503})
    assert (await api.get(api.tasks_path(), PAGE, auth="none")).status_code == 401
    assert (await list_page(api)).status_code == 503


async def test_faults_listed_cleared_and_validated(api: Api) -> None:
    await queue(api, {"kind": "drop", "count": 3})
    pending = (await api.http.get(api.base_url + "/_sim/faults")).json()["faults"]
    assert pending == [
        {
            "kind": "drop",
            "endpoint": "any",
            "count": 3,
            "seconds": 0.0,
            "extra": 10,
            "mode": "insert",
            "n": 1,
            "last_status": "FAIL",
            "skip": 0,
        }
    ]
    assert (await api.http.delete(api.base_url + "/_sim/faults")).json() == {"faults": []}
    assert (await list_page(api)).status_code == 200
    bad = await api.http.post(api.base_url + "/_sim/faults", json={"kind": "meteor"})
    assert bad.status_code == 400
    assert "kind must be one of" in bad.json()["error"]
    wrapped = await api.http.post(api.base_url + "/_sim/faults", json={"faults": [{"kind": "delay"}]})
    assert wrapped.status_code == 201
    assert len(wrapped.json()["faults"]) == 1
