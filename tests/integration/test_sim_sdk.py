"""The official Huawei Cloud SDK, pointed at the simulator, signs, pages and parses as against the real API.

This is the simulator's acceptance test: if the SDK (the reference client) accepts its signatures check and
its answers, the simulator speaks the real wire format.
"""

from __future__ import annotations

from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkworkspace.v2 import (
    ListScheduledTasksRecordsDetailsRequest,
    ListScheduledTasksRecordsRequest,
    ListScheduledTasksRequest,
    ShowScheduledTasksRequest,
    WorkspaceClient,
)

from monitor.devtools.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    DEFAULT_SECURITY_TOKEN,
    DEFAULT_TEMP_ACCESS_KEY,
    DEFAULT_TEMP_SECRET_KEY,
    SimulatorThread,
)


def sdk_client(
    sim: SimulatorThread,
    ak: str = DEFAULT_ACCESS_KEY,
    sk: str = DEFAULT_SECRET_KEY,
    project_id: str = DEFAULT_PROJECT_ID,
    security_token: str | None = None,
) -> Any:
    credentials = BasicCredentials(ak, sk, project_id)
    if security_token:
        credentials.with_security_token(security_token)
    config = HttpConfig.get_default_config()
    config.timeout = (5, 10)
    return (
        WorkspaceClient.new_builder()
        .with_http_config(config)
        .with_credentials(credentials)
        .with_endpoints([sim.base_url])
        .build()
    )


def all_ids(client: Any, **filters: str) -> list[str]:
    ids: list[str] = []
    offset = 0
    while True:
        page = client.list_scheduled_tasks(ListScheduledTasksRequest(offset=offset, limit=50, **filters))
        ids += [task.id for task in page.scheduled_tasks]
        offset += 50
        if offset >= page.total_count:
            return ids


def test_sdk_pages_through_every_failed_task(sim_thread: SimulatorThread) -> None:
    client = sdk_client(sim_thread)
    expected = [t.id for t in sim_thread.state.with_status("FAIL", triggered=False)]
    assert len(expected) > 50, "needs more than one page"
    assert all_ids(client, last_status="FAIL") == expected


def test_sdk_sees_failed_triggered_tasks_only_with_life_cycle(sim_thread: SimulatorThread) -> None:
    client = sdk_client(sim_thread)
    sim_thread.call(sim_thread.state.create_task, {"scheduled_type": "LIFE_CYCLE", "last_status": "FAIL"})
    triggered = [t.id for t in sim_thread.state.with_status("FAIL", triggered=True)]
    assert triggered
    assert set(triggered).isdisjoint(all_ids(client, last_status="FAIL"))
    assert all_ids(client, last_status="FAIL", scheduled_type="LIFE_CYCLE") == triggered


def test_sdk_filters_by_unicode_name(sim_thread: SimulatorThread) -> None:
    task = next(t for t in sim_thread.state.tasks if " " in t.task_name and not t.triggered)
    fragment = task.task_name.split(" ")[0] + " "
    expected = [t.id for t in sim_thread.state.tasks if fragment in t.task_name and not t.triggered]
    assert all_ids(sdk_client(sim_thread), task_name=fragment) == expected


def test_sdk_show_records_and_details(sim_thread: SimulatorThread) -> None:
    client = sdk_client(sim_thread)
    task = sim_thread.state.with_status("FAIL", triggered=False)[0]
    shown = client.show_scheduled_tasks(ShowScheduledTasksRequest(task_id=task.id))
    assert (shown.id, shown.task_name, shown.time_zone) == (task.id, task.task_name, task.time_zone)
    assert [o.object_name for o in shown.apply_objects] == [d.name for d in task.desktops]

    records = client.list_scheduled_tasks_records(
        ListScheduledTasksRecordsRequest(task_id=task.id, offset=0, limit=100)
    )
    assert records.total_count == len(task.records)
    assert [r.id for r in records.tasks_records] == [r.id for r in task.records]
    newest = records.tasks_records[0]
    assert newest.status == "FAIL"
    assert newest.failed_num >= 1

    details = client.list_scheduled_tasks_records_details(
        ListScheduledTasksRecordsDetailsRequest(task_id=task.id, record_id=newest.id, offset=0, limit=100)
    )
    failed = [d for d in details.tasks_records_details if d.exec_status == "FAIL"]
    assert len(failed) == newest.failed_num
    assert all(d.fail_reason and d.desktop_name and d.result_code for d in failed)


def test_sdk_sees_an_execution_added_through_the_thread(sim_thread: SimulatorThread) -> None:
    client = sdk_client(sim_thread)
    task = sim_thread.state.with_status("SUCCESS", triggered=False)[0]
    record = sim_thread.call(sim_thread.state.add_execution, task.id, "FAIL")
    assert task.id in all_ids(client, last_status="FAIL")
    records = client.list_scheduled_tasks_records(
        ListScheduledTasksRecordsRequest(task_id=task.id, offset=0, limit=1)
    )
    assert records.tasks_records[0].id == record.id


def test_sdk_with_temporary_credentials(sim_thread: SimulatorThread) -> None:
    client = sdk_client(
        sim_thread, DEFAULT_TEMP_ACCESS_KEY, DEFAULT_TEMP_SECRET_KEY, security_token=DEFAULT_SECURITY_TOKEN
    )
    assert len(all_ids(client, last_status="SKIP")) == len(
        sim_thread.state.with_status("SKIP", triggered=False)
    )


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"sk": "wrong-secret"}, 401, "APIGW.0301"),
        ({"ak": "UNKNOWNAK"}, 401, "APIGW.0301"),
        ({"ak": DEFAULT_TEMP_ACCESS_KEY, "sk": DEFAULT_TEMP_SECRET_KEY}, 401, "APIGW.0301"),  # no token
        ({"project_id": "f" * 32}, 403, "WKS.0005"),
    ],
)
def test_sdk_rejections(
    sim_thread: SimulatorThread, overrides: dict[str, str], status: int, code: str
) -> None:
    client = sdk_client(sim_thread, **overrides)
    with pytest.raises(ClientRequestException) as caught:
        client.list_scheduled_tasks(ListScheduledTasksRequest(offset=0, limit=10))
    assert (caught.value.status_code, caught.value.error_code) == (status, code)


def test_sdk_unknown_task_is_400_saying_so(sim_thread: SimulatorThread) -> None:
    with pytest.raises(ClientRequestException) as caught:
        sdk_client(sim_thread).show_scheduled_tasks(ShowScheduledTasksRequest(task_id="no-such-task"))
    assert caught.value.status_code == 400
    assert caught.value.error_msg == "The scheduled task does not exist."
