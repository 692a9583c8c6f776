"""The control API sets how the simulator's jobs end (fail on some desktops, hang, refuse a read-only user)
and shows what the write side was asked, so a simulator in another process serves the retry tests and the
demo as the in-process one does."""

from __future__ import annotations

import pytest

from monitor.devtools.sim import Simulator
from monitor.workspace.errors import PermissionDeniedError
from tests.integration.test_client_writes import client_for, desktops
from tests.support.simapi import Api


async def test_switches_set_over_http_decide_how_jobs_end(sim: Simulator, api: Api) -> None:
    bad, good = desktops(sim, 2)
    answer = await api.http.put(
        api.base_url + "/_sim/jobs/switches", json={"fail_desktops": {bad: "no power"}}
    )
    assert answer.json() == {"fail_desktops": {bad: "no power"}, "hang": False, "read_only": False}
    async with client_for(sim) as client:
        result = await client.desktop_action([bad, good], "os-start")
        assert result.job_id is not None
        await client.get_job(result.job_id)
        job = await client.get_job(result.job_id)
    assert [(s.desktop_id, s.fail_reason) for s in job.failed_desktops()] == [(bad, "no power")]
    seen = (await api.http.get(api.base_url + "/_sim/jobs")).json()
    assert seen["actions"] == [{"desktop_ids": [bad, good], "op_type": "os-start", "type": "SOFT"}]
    assert seen["jobs"] == [result.job_id]


async def test_a_read_only_switch_refuses_writes(sim: Simulator, api: Api) -> None:
    await api.http.put(api.base_url + "/_sim/jobs/switches", json={"read_only": True})
    async with client_for(sim) as client:
        with pytest.raises(PermissionDeniedError) as caught:
            await client.desktop_action(desktops(sim, 1), "reboot")
    assert caught.value.action == "workspace:desktops:operate"


async def test_bad_switches_are_refused_and_change_nothing(api: Api) -> None:
    url = api.base_url + "/_sim/jobs/switches"
    for body in ({"hang": "yes"}, {"fail_desktops": ["d"]}, {"fail_desktops": {"d": ""}}, {"other": 1}):
        answer = await api.http.put(url, json=body)
        assert answer.status_code == 400, body
    switches = (await api.http.get(api.base_url + "/_sim/jobs")).json()["switches"]
    assert switches == {"fail_desktops": {}, "hang": False, "read_only": False}
