"""The simulator's write side: desktop power actions and their jobs, script re-executions and their records.

`POST /v2/{project_id}/desktops/action` creates a job with one sub job per known desktop (unknown desktops
go to `failed_operation_list`, as `BatchRunDesktopsResponse` allows). Three switches decide how jobs end,
set by tests (`state.jobs`) or through the control API (`PUT /_sim/jobs/switches`):

- `fail_desktops`: desktop id -> reason; those sub jobs end FAILED with it (a job failing on some desktops);
- `hang`: new jobs stay RUNNING forever (a job that never ends, for bounded polling);
- `read_only`: writes answer 403 "Policy doesn't allow <action> to be performed." (IAM's wording for a
  denied action, as Huawei Cloud services answer it);
- otherwise a job is RUNNING on its first lookup and finished (SUCCESS, or FAILED when a sub job failed) on
  every later one, so a poller sees progress.

`POST /v2/{project_id}/script-executions/retry` `{task_id, record_id}` re-runs the script of a scheduled
EXECUTE_SCRIPT task's execution on the desktops it failed on, as a new script task whose id it answers.
`task_id` is the record's `execute_task_id`: here an id of each task's own (`SimTask.execute_task_id`), not
the scheduled task's, which is refused, so a test can tell the two apart (the API reference does not say
whether they may coincide). `script-execution-records` lists per-desktop
script records by `script_task_id`: the original execution's are derived from its record details (script task
id = the scheduled record's id, an assumption: the API does not say how the two are linked), a retry's are
new. Job and record fields follow the SDK's `ShowJobResponse`/`JobDetailInfo` and `ScriptRecordSimpleInfo`;
job statuses are WAITING, RUNNING, SUCCESS, FAILED (the API reference's job pages).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.devtools.sim.entities import SimRecord, SimTask

__all__ = ["JobBook", "SimJob", "SimScriptRecord", "SimSubJob"]

_TIME = "%Y-%m-%dT%H:%M:%SZ"
_JOB_TYPES = {
    "os-start": "START_DESKTOP",
    "os-stop": "STOP_DESKTOP",
    "reboot": "REBOOT_DESKTOP",
    "os-hibernate": "HIBERNATE_DESKTOP",
}


@dataclass
class SimSubJob:
    id: str
    desktop_id: str
    desktop_name: str
    fail_reason: str | None  # set when this desktop will fail


@dataclass
class SimJob:
    id: str
    job_type: str
    begin_time: str
    hang: bool
    sub_jobs: list[SimSubJob] = field(default_factory=list)
    lookups: int = 0
    end_time: str | None = None


@dataclass
class SimScriptRecord:
    id: str
    script_id: str
    script_name: str
    script_task_id: str
    resource_id: str
    resource_name: str
    start_time: str
    end_time: str
    status: str  # SUCCESS | FAIL
    result_code: str
    reason: str
    output: str


class JobBook:
    """Jobs, script records and the switches; owned by `SimState` as `state.jobs`."""

    def __init__(self, rng: random.Random, clock: Callable[[], datetime]) -> None:
        self._rng = rng
        self._clock = clock
        self.jobs: dict[str, SimJob] = {}
        self.fail_desktops: dict[str, str] = {}
        self.hang = False
        #: A read-only IAM user: writes answer 403 naming the action the policy lacks.
        self.read_only = False
        self.actions: list[dict[str, Any]] = []  # every accepted action body, in order
        self.script_retries: list[tuple[str, str]] = []  # (task_id, record_id) as sent, every accepted retry
        self._script_records: dict[str, list[SimScriptRecord]] = {}
        #: What a failed desktop's script printed (desktop name -> output), for tests of hostile or huge
        #: output; otherwise a few lines ending in the reason and "exit 1".
        self.failed_outputs: dict[str, str] = {}

    def switches(self) -> dict[str, Any]:
        return {"fail_desktops": dict(self.fail_desktops), "hang": self.hang, "read_only": self.read_only}

    def set_switches(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Set any of `fail_desktops` ({desktop id: reason}, replacing the map), `hang`, `read_only`;
        ValueError names what is wrong and changes nothing."""
        unknown = set(fields) - {"fail_desktops", "hang", "read_only"}
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        fail = fields.get("fail_desktops", self.fail_desktops)
        if not isinstance(fail, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in fail.items()
        ):
            raise ValueError("fail_desktops must map desktop ids to non-empty reasons")
        for flag in ("hang", "read_only"):
            if not isinstance(fields.get(flag, False), bool):
                raise ValueError(f"{flag} must be true or false")
        self.fail_desktops = dict(fail)
        self.hang = fields.get("hang", self.hang)
        self.read_only = fields.get("read_only", self.read_only)
        return self.switches()

    def summary(self) -> dict[str, Any]:
        """What the write side saw: the switches, every accepted action and script retry, the jobs."""
        return {
            "switches": self.switches(),
            "actions": list(self.actions),
            "script_retries": [{"task_id": t, "record_id": r} for t, r in self.script_retries],
            "jobs": list(self.jobs),
        }

    def _id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _now(self) -> str:
        return self._clock().strftime(_TIME)

    # ---- desktop actions -------------------------------------------------------------------------------

    def start_action(
        self, desktop_ids: list[str], op_type: str, names: dict[str, str]
    ) -> tuple[SimJob, list[dict[str, str]]]:
        """A job for the known desktops, and the refusals (`VmOperateResult`) of the unknown ones."""
        job = SimJob(self._id(), _JOB_TYPES[op_type], self._now(), hang=self.hang)
        refused = []
        for desktop_id in dict.fromkeys(desktop_ids):
            if desktop_id not in names:
                refused.append(
                    {
                        "desktop_id": desktop_id,
                        "desktop_name": "",
                        "error_code": "WKS.0003",
                        "error_msg": "The desktop does not exist.",
                    }
                )
                continue
            reason = self.fail_desktops.get(desktop_id)
            job.sub_jobs.append(SimSubJob(self._id(), desktop_id, names[desktop_id], reason))
        self.jobs[job.id] = job
        return job, refused

    def job_body(self, job: SimJob) -> dict[str, Any]:
        """`ShowJobResponse`; each lookup moves an unhung job on (RUNNING, then finished)."""
        job.lookups += 1
        running = job.hang or job.lookups < 2
        if not running and job.end_time is None:
            job.end_time = self._now()
        subs = [self._sub_body(job, sub, running) for sub in job.sub_jobs]
        failed = [sub for sub in job.sub_jobs if sub.fail_reason is not None]
        finished = "FAILED" if failed or not job.sub_jobs else "SUCCESS"
        status = "RUNNING" if running else finished
        body: dict[str, Any] = {
            "id": job.id,
            "job_type": job.job_type,
            "begin_time": job.begin_time,
            "status": status,
            "sub_jobs_total": len(subs),
            "sub_jobs": subs,
        }
        if not running:
            body["end_time"] = job.end_time
            if status == "FAILED":
                body["job_error_code"] = "WKS.0500"
                body["fail_reason"] = f"{len(failed)} of {len(job.sub_jobs)} desktops failed"
        return body

    def _sub_body(self, job: SimJob, sub: SimSubJob, running: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": sub.id,
            "job_type": job.job_type,
            "entities": {"desktop_id": sub.desktop_id, "desktop_name": sub.desktop_name},
            "begin_time": job.begin_time,
            "status": "RUNNING" if running else ("FAILED" if sub.fail_reason is not None else "SUCCESS"),
            "job_id": job.id,
            "entity": sub.desktop_id,
            "process": 50 if running else 100,
        }
        if not running:
            body["end_time"] = job.end_time
            if sub.fail_reason is not None:
                body["error_code"] = "WKS.0501"
                body["fail_reason"] = sub.fail_reason
        return body

    # ---- script executions -----------------------------------------------------------------------------

    def original_script_records(self, task: SimTask, record: SimRecord) -> list[SimScriptRecord]:
        """The script records of a scheduled EXECUTE_SCRIPT execution, derived once from its details."""
        known = self._script_records.get(record.id)
        if known is None:
            known = self._script_records[record.id] = [
                self._script_record(
                    record.id,
                    detail.exec_script_id or "",
                    task.task_name,
                    detail.desktop_id,
                    detail.desktop_name,
                    failed=detail.exec_status == "FAIL",
                    reason=detail.fail_reason or "",
                )
                for detail in record.details
            ]
        return known

    def retry_script(self, task: SimTask, record: SimRecord) -> str:
        """A new script task running the record's script again on its failed desktops; its id."""
        self.script_retries.append((task.execute_task_id, record.id))
        script_task_id = self._id()
        failed = [r for r in self.original_script_records(task, record) if r.status == "FAIL"]
        self._script_records[script_task_id] = [
            self._script_record(
                script_task_id,
                old.script_id,
                old.script_name,
                old.resource_id,
                old.resource_name,
                failed=old.resource_id in self.fail_desktops,
                reason=self.fail_desktops.get(old.resource_id, ""),
            )
            for old in failed
        ]
        return script_task_id

    def script_records(self, script_task_id: str | None) -> list[SimScriptRecord]:
        if script_task_id is not None:
            return list(self._script_records.get(script_task_id, []))
        return [r for records in self._script_records.values() for r in records]

    def script_record(self, record_id: str) -> SimScriptRecord | None:
        return next((r for r in self.script_records(None) if r.id == record_id), None)

    def _script_record(
        self,
        script_task_id: str,
        script_id: str,
        script_name: str,
        desktop_id: str,
        desktop_name: str,
        *,
        failed: bool,
        reason: str,
    ) -> SimScriptRecord:
        now = self._now()
        output = (
            self.failed_outputs.get(
                desktop_name,
                f"running {script_name} on {desktop_name}\nstep 1/2 ok\nstep 2/2 failed: {reason}\nexit 1",
            )
            if failed
            else f"running {script_name} on {desktop_name}\nstep 1/2 ok\nstep 2/2 ok\nexit 0"
        )
        return SimScriptRecord(
            id=self._id(),
            script_id=script_id,
            script_name=script_name,
            script_task_id=script_task_id,
            resource_id=desktop_id,
            resource_name=desktop_name,
            start_time=now,
            end_time=now,
            status="FAIL" if failed else "SUCCESS",
            result_code="1" if failed else "0",
            reason=reason if failed else "",
            output=output,
        )


def script_record_body(record: SimScriptRecord, *, with_output: bool) -> dict[str, Any]:
    """`ScriptRecordSimpleInfo`, or with `output` `ShowScriptRecordDetailResponse`."""
    body: dict[str, Any] = {
        "id": record.id,
        "script_id": record.script_id,
        "script_name": record.script_name,
        "script_task_id": record.script_task_id,
        "resource_id": record.resource_id,
        "resource_name": record.resource_name,
        "resource_type": "DESKTOP",
        "start_time": record.start_time,
        "end_time": record.end_time,
        "status": record.status,
        "execute_order": 1,
        "result_code": record.result_code,
        "reason": record.reason,
    }
    if with_output:
        body["output"] = record.output
    return body
