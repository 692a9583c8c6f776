"""Contract tests of the write side against the official SDK: our models know every field of the SDK's
models for desktop actions, jobs and script records, and the simulator's answers deserialise into the SDK's
response models field for field (the SDK itself calling the simulator: tests/integration/test_sim_sdk.py)."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.utils.http_utils import sanitize_for_serialization
from huaweicloudsdkworkspace.v2 import WorkspaceClient as SdkWorkspaceClient
from huaweicloudsdkworkspace.v2.model import (
    BatchActionDesktopsReq,
    BatchRunDesktopsResponse,
    JobDetailInfo,
    JobEntities,
    ListScriptRecordsResponse,
    RetryScriptExecutionReq,
    RetryScriptExecutionResponse,
    ShowJobResponse,
    ShowScriptRecordDetailResponse,
    VmOperateResult,
)

from monitor.devtools.sim import SimOptions
from monitor.devtools.sim.jobs import script_record_body
from monitor.devtools.sim.state import SimState
from monitor.workspace import actions


@pytest.mark.parametrize(
    ("ours", "sdk"),
    [
        (actions.DesktopActionResult, BatchRunDesktopsResponse),
        (actions.DesktopFailure, VmOperateResult),
        (actions.Job, ShowJobResponse),
        (actions.SubJob, JobDetailInfo),
        (actions.JobEntities, JobEntities),
        (actions.ScriptRecord, ShowScriptRecordDetailResponse),
    ],
)
def test_our_models_declare_every_field_of_the_sdks(ours: Any, sdk: Any) -> None:
    fields = set(sdk.attribute_map.values()) - {"X-Request-Id", "x-request-id"}
    assert fields <= set(ours.model_fields)


def test_the_bodies_we_send_are_the_sdks_request_models() -> None:
    """desktop_action sends {desktop_ids, op_type, type}; retry_script_execution {task_id, record_id}."""
    assert set(BatchActionDesktopsReq.attribute_map.values()) == {"desktop_ids", "op_type", "type"}
    assert set(RetryScriptExecutionReq.attribute_map.values()) == {"task_id", "record_id"}


class _Answer:
    def __init__(self, body: dict[str, Any]) -> None:
        self.text = json.dumps(body)
        self.content = self.text.encode()
        self.headers: dict[str, str] = {"Content-Type": "application/json"}
        self.status_code = 200


@pytest.fixture(scope="module")
def sdk() -> Any:
    return (
        SdkWorkspaceClient.new_builder()
        .with_credentials(BasicCredentials("AK", "SK", "p" * 32))
        .with_endpoints(["https://workspace.test"])
        .build()
    )


def _answers() -> list[tuple[type, dict[str, Any]]]:
    state = SimState(SimOptions(tasks=200, seed=5))
    names = state.desktop_names()
    bad, good = list(names)[:2]
    state.jobs.fail_desktops[bad] = "The desktop is being rebuilt."
    job, refused = state.jobs.start_action([bad, good, "unknown"], "reboot", names)
    running = state.jobs.job_body(job)
    finished = state.jobs.job_body(job)
    script_task = next(t for t in state.tasks if t.task_type == "EXECUTE_SCRIPT" and t.records)
    records = state.jobs.original_script_records(script_task, script_task.records[0])
    return [
        (BatchRunDesktopsResponse, {"job_id": job.id, "failed_operation_list": refused}),
        (ShowJobResponse, running),
        (ShowJobResponse, finished),
        (RetryScriptExecutionResponse, {"task_id": "a-script-task"}),
        (
            ListScriptRecordsResponse,
            {
                "count": len(records),
                "script_records": [script_record_body(r, with_output=False) for r in records],
            },
        ),
        (ShowScriptRecordDetailResponse, script_record_body(records[0], with_output=True)),
    ]


def _as_sdk_writes_times(value: Any) -> Any:
    """The SDK reads a script record's start_time/end_time as a datetime and writes "+00:00" for "Z"."""
    if isinstance(value, list):
        return [_as_sdk_writes_times(item) for item in value]
    if isinstance(value, dict):
        return {
            k: v.removesuffix("Z") + "+00:00" if k in ("start_time", "end_time") else _as_sdk_writes_times(v)
            for k, v in value.items()
        }
    return value


def test_the_simulators_write_answers_deserialise_into_the_sdks_models(sdk: Any) -> None:
    for response_type, body in _answers():
        if response_type in (ListScriptRecordsResponse, ShowScriptRecordDetailResponse):
            expected = _as_sdk_writes_times(body)
        else:
            expected = body
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the SDK warns when it cannot convert a value
            parsed = sdk.deserialize(_Answer(body), response_type.__name__, None)
        assert isinstance(parsed, response_type)
        assert sanitize_for_serialization(parsed) == expected, response_type.__name__
