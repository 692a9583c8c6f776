"""What the write path sends and reads: desktop power actions, their jobs, and script re-executions.

Field names follow the official SDK (`huaweicloudsdkworkspace.v2`): `BatchActionDesktopsReq` (desktop_ids,
op_type, type) -> `BatchRunDesktopsResponse` (job_id, failed_operation_list of `VmOperateResult`);
`ShowJobResponse` (id, status, fail_reason, sub_jobs of `JobDetailInfo` with `JobEntities`);
`RetryScriptExecutionReq` (task_id, record_id) -> `RetryScriptExecutionResponse` (task_id);
`ListScriptRecordsResponse` (count, script_records) and `ShowScriptRecordDetailResponse` (with `output`).

A job's `status` is not enumerated by the SDK; the API reference's job pages name WAITING, RUNNING, SUCCESS
and FAILED (assumed: `FINISHED_STATUSES`). Anything else counts as still running, so a job in an unknown
state is polled (boundedly) rather than reported done.
"""

from __future__ import annotations

from pydantic import Field, StrictInt, StrictStr

from monitor.workspace.models import _ApiModel

__all__ = [
    "FINISHED_STATUSES",
    "IAM_ACTIONS",
    "OP_TYPES",
    "POWER_TYPES",
    "DesktopActionResult",
    "DesktopFailure",
    "Job",
    "JobEntities",
    "ScriptRecord",
    "SubJob",
]

#: `op_type` values of `POST /v2/{project_id}/desktops/action` (BatchRunDesktops in the API reference).
OP_TYPES = ("os-start", "os-stop", "reboot", "os-hibernate")
#: `type`: SOFT is a normal operation, HARD a forced one.
POWER_TYPES = ("SOFT", "HARD")
FINISHED_STATUSES = frozenset({"SUCCESS", "FAILED", "FAIL"})

#: The IAM action each endpoint needs, named in a 403. `workspace:desktops:operate` and
#: `workspace:scripts:retry` are the API reference's (BatchRunDesktops, RetryScriptExecution: "授权信息");
#: the job lookup's is assumed by the same naming scheme (its page does not say).
IAM_ACTIONS = {
    "POST /v2/{project_id}/desktops/action": "workspace:desktops:operate",
    "GET /v2/{project_id}/workspace-jobs/{job_id}": "workspace:jobs:get",
    "POST /v2/{project_id}/script-executions/retry": "workspace:scripts:retry",
}


class DesktopFailure(_ApiModel):
    """`VmOperateResult`: a desktop the action could not even start on."""

    desktop_id: StrictStr | None = None
    desktop_name: StrictStr | None = None
    error_code: StrictStr | None = None
    error_msg: StrictStr | None = None


class DesktopActionResult(_ApiModel):
    """`BatchRunDesktopsResponse`."""

    job_id: StrictStr | None = None
    failed_operation_list: list[DesktopFailure] = Field(default_factory=list)


class JobEntities(_ApiModel):
    desktop_id: StrictStr | None = None
    product_id: StrictStr | None = None
    user_name: StrictStr | None = None
    desktop_name: StrictStr | None = None
    ip_address: StrictStr | None = None


class SubJob(_ApiModel):
    """`JobDetailInfo`: one desktop's part of a job."""

    id: StrictStr | None = None
    job_type: StrictStr | None = None
    entities: JobEntities | None = None
    begin_time: StrictStr | None = None
    end_time: StrictStr | None = None
    status: StrictStr | None = None
    error_code: StrictStr | None = None
    fail_reason: StrictStr | None = None
    host: StrictStr | None = None
    project_id: StrictStr | None = None
    job_id: StrictStr | None = None
    process: StrictInt | None = None
    attach_user: StrictStr | None = None
    entity: StrictStr | None = None
    ip_address: StrictStr | None = None

    @property
    def desktop_id(self) -> str | None:
        return self.entities.desktop_id if self.entities else self.entity


class Job(_ApiModel):
    """`ShowJobResponse`."""

    id: StrictStr = Field(min_length=1)
    job_type: StrictStr | None = None
    begin_time: StrictStr | None = None
    end_time: StrictStr | None = None
    status: StrictStr | None = None
    job_error_code: StrictStr | None = None
    fail_reason: StrictStr | None = None
    sub_jobs_total: StrictInt | None = None
    sub_jobs: list[SubJob] = Field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    def failed_desktops(self) -> list[SubJob]:
        """The desktops the job failed on, with their reasons (a finished FAILED job with no sub jobs says
        nothing per desktop: then the job's own `fail_reason` is all there is)."""
        return [sub for sub in self.sub_jobs if sub.status not in (None, "SUCCESS", "WAITING", "RUNNING")]


class ScriptRecord(_ApiModel):
    """`ScriptRecordSimpleInfo`, and `ShowScriptRecordDetailResponse` (which adds `output`)."""

    id: StrictStr = Field(min_length=1)
    script_id: StrictStr | None = None
    script_name: StrictStr | None = None
    script_task_id: StrictStr | None = None
    resource_id: StrictStr | None = None
    resource_name: StrictStr | None = None
    resource_type: StrictStr | None = None
    start_time: StrictStr | None = None
    end_time: StrictStr | None = None
    status: StrictStr | None = None
    execute_order: StrictInt | None = None
    result_code: StrictStr | None = None
    reason: StrictStr | None = None
    output: StrictStr | None = None
