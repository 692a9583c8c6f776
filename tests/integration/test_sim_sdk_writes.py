"""The official SDK drives the simulator's write side: it signs its POST bodies as the simulator checks them
and reads the answers into its own models (the simulator's acceptance test for issue 18's endpoints)."""

from __future__ import annotations

from huaweicloudsdkworkspace.v2.model import (
    BatchActionDesktopsReq,
    BatchRunDesktopsRequest,
    ListScriptRecordsRequest,
    RetryScriptExecutionReq,
    RetryScriptExecutionRequest,
    ShowJobRequest,
    ShowScriptRecordDetailRequest,
)

from monitor.devtools.sim import SimulatorThread
from tests.integration.test_sim_sdk import sdk_client


def test_sdk_runs_a_power_action_and_follows_its_job(sim_thread: SimulatorThread) -> None:
    client = sdk_client(sim_thread)
    bad, good = list(sim_thread.state.desktop_names())[:2]
    sim_thread.state.jobs.fail_desktops[bad] = "The desktop is being rebuilt."
    body = BatchActionDesktopsReq(desktop_ids=[bad, good], op_type="os-stop", type="SOFT")
    answer = client.batch_run_desktops(BatchRunDesktopsRequest(body=body))
    assert answer.job_id
    client.show_job(ShowJobRequest(job_id=answer.job_id))
    job = client.show_job(ShowJobRequest(job_id=answer.job_id))
    assert job.status == "FAILED"
    assert {sub.entities.desktop_id: sub.status for sub in job.sub_jobs} == {bad: "FAILED", good: "SUCCESS"}


def test_sdk_retries_a_script_execution_and_reads_its_output(sim_thread: SimulatorThread) -> None:
    client = sdk_client(sim_thread)
    task, record = next(
        (t, r)
        for t in sim_thread.state.tasks
        if t.task_type == "EXECUTE_SCRIPT"
        for r in t.records
        if r.count("FAIL")
    )
    body = RetryScriptExecutionReq(task_id=task.execute_task_id, record_id=record.id)
    script_task_id = client.retry_script_execution(RetryScriptExecutionRequest(body=body)).task_id
    listed = client.list_script_records(ListScriptRecordsRequest(script_task_id=script_task_id))
    assert listed.count == record.count("FAIL")
    detail = client.show_script_record_detail(
        ShowScriptRecordDetailRequest(record_id=listed.script_records[0].id)
    )
    assert detail.output.endswith("exit 0")
