"""The `/_sim/` control API changes what the API answers; scenarios advance by request or by timer; the
thread runner and the command line start and stop cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from monitor.devtools.sim import Simulator, SimulatorThread, start_simulator
from tests.support.simapi import Api, http_client, small_options

PAGE = [("offset", "0"), ("limit", "50")]


async def fail_ids(api: Api) -> list[str]:
    ids: list[str] = []
    while True:
        params = [("offset", str(len(ids))), ("limit", "50"), ("last_status", "FAIL")]
        body = (await api.get(api.tasks_path(), params)).json()
        ids += [t["id"] for t in body["scheduled_tasks"]]
        if not body["scheduled_tasks"]:
            return ids


async def test_executions_patch_create_delete(sim: Simulator, api: Api) -> None:
    task = sim.state.with_status("SUCCESS", triggered=False)[0]
    desktop = task.desktops[0].name
    executed = await api.http.post(
        f"{api.base_url}/_sim/tasks/{task.id}/executions",
        json={"status": "FAIL", "failed_desktops": [desktop], "fail_reason": "agent offline"},
    )
    assert executed.status_code == 201
    record = executed.json()
    assert record["status"] == "FAIL"
    assert record["task"]["last_status"] == "FAIL"
    assert [d["fail_reason"] for d in record["details"] if d["exec_status"] == "FAIL"] == ["agent offline"]
    assert task.id in await fail_ids(api)
    records = (await api.get(api.tasks_path(f"/{task.id}/records"))).json()
    assert records["tasks_records"][0]["id"] == record["id"]

    patched = await api.http.patch(f"{api.base_url}/_sim/tasks/{task.id}", json={"enable": False})
    assert patched.json()["enable"] is False

    created = await api.http.post(
        f"{api.base_url}/_sim/tasks", json={"task_name": "fresh", "last_status": "FAIL"}
    )
    assert created.status_code == 201
    new_id = created.json()["id"]
    assert (await fail_ids(api))[-1] == new_id

    deleted = await api.http.delete(f"{api.base_url}/_sim/tasks/{new_id}")
    assert deleted.json() == {"deleted": new_id}
    assert new_id not in await fail_ids(api)
    gone = await api.get(api.tasks_path(f"/{new_id}"))
    assert (gone.status_code, gone.json()["error_msg"]) == (400, "The scheduled task does not exist.")


async def test_control_errors(api: Api) -> None:
    base = api.base_url + "/_sim/tasks"
    assert (await api.http.post(f"{base}/ghost/executions", json={"status": "FAIL"})).status_code == 404
    bad_status = await api.http.post(f"{base}/ghost/executions", json={"status": "MAYBE"})
    assert bad_status.status_code in (400, 404)
    assert (await api.http.patch(f"{base}/ghost", json={})).status_code == 404
    assert (await api.http.post(base, content=b"[1]")).status_code == 400
    assert (await api.http.post(base, json={"enable": "yes"})).status_code == 400
    assert (await api.http.post(api.base_url + "/_sim/scenario/advance")).status_code == 409


async def test_all_tasks_and_stats_endpoints(sim: Simulator, api: Api) -> None:
    everything = (await api.http.get(api.base_url + "/_sim/tasks")).json()
    assert len(everything["tasks"]) == len(sim.state.tasks)
    assert everything["counts"]["FAIL"] == len(sim.state.with_status("FAIL"))
    await api.get(api.tasks_path(), PAGE)
    stats = (await api.http.get(api.base_url + "/_sim/stats")).json()
    assert stats["requests"] == {"list": {"200": 1}}
    assert stats["max_in_flight"] == 1
    reset = (await api.http.post(api.base_url + "/_sim/stats/reset")).json()
    assert reset["total"] == 0


SCENARIO = """
- - {action: execute, task: "%s", status: FAIL}
- - {action: execute, task: "%s", status: SUCCESS}
"""


async def test_scenario_advanced_over_http(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    async with start_simulator(small_options(tasks=20)) as probe:
        task = probe.state.with_status("SUCCESS", triggered=False)[0]
    path.write_text(SCENARIO % (task.id, task.id))
    async with (
        start_simulator(small_options(tasks=20, scenario=path)) as sim,
        http_client() as http,
    ):
        api = Api(sim.base_url, http)
        first = (await http.post(sim.base_url + "/_sim/scenario/advance")).json()
        assert first["step"] == 1
        assert task.id in await fail_ids(api)
        second = (await http.post(sim.base_url + "/_sim/scenario/advance")).json()
        assert second["done"] is True
        assert task.id not in await fail_ids(api)
        assert (await http.post(sim.base_url + "/_sim/scenario/advance")).status_code == 409


async def test_scenario_steps_on_a_timer(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("- - {action: create, set: {id: a}}\n- - {action: create, set: {id: b}}\n")
    async with start_simulator(small_options(tasks=3, scenario=path, step_seconds=0.01)) as sim:
        scenario = sim.state.scenario
        assert scenario is not None
        for _ in range(1000):  # bounded polling, never a wall-clock assertion
            if scenario.done:
                break
            await asyncio.sleep(0.01)
        assert scenario.done
        assert [t.id for t in sim.state.tasks[-2:]] == ["a", "b"]


def test_thread_runner_call_and_stop() -> None:
    with SimulatorThread(small_options(tasks=5)) as sim:
        task = sim.state.tasks[0]
        record = sim.call(sim.state.add_execution, task.id, "SKIP")
        assert task.records[0] is record
        response = httpx.get(sim.base_url + "/_sim/stats", trust_env=False)
        assert response.status_code == 200
        url = sim.base_url
    try:
        httpx.get(url + "/_sim/stats", trust_env=False, timeout=2)
    except httpx.ConnectError:
        pass
    else:
        raise AssertionError("the simulator still answers after the block")


def test_cli_serves_until_sigterm() -> None:
    code = (
        "import argparse; from monitor.devtools.sim import cli; p = argparse.ArgumentParser(); "
        "cli.add_arguments(p); "
        "raise SystemExit(cli.run(p.parse_args(['--port', '0', '--tasks', '40'])))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        banner = ""
        for line in process.stdout:
            if line.startswith("Workspace API simulator on "):
                banner = line
                break
        assert "HUAWEICLOUD_SDK_AK=" in banner
        assert "WORKSPACE_ENDPOINT=http://127.0.0.1:" in banner
        assert "40 tasks, 2 FAIL, 1 SKIP" in banner
        url = banner.split("WORKSPACE_ENDPOINT=")[1].strip()
        assert httpx.get(url + "/_sim/stats", trust_env=False).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
