"""The JSON the simulator answers with: the official SDK's field names for each endpoint (pure functions).

Fields without a value are left out rather than sent as null: the real API omits what does not apply
(a START task has no `life_cycle_type`), and clients must cope with that.

Times are kept as the API reference writes them ("yyyy-MM-dd HH:mm:ss" in the task's `time_zone`). With
`rfc3339=True` they are sent as Huawei's Terraform provider, tested against the live cloud, reads them:
`next_execution_time` and records' `start_time` as RFC 3339 in UTC ("2026-11-28T01:00:00Z"), record details'
times with milliseconds ("2026-11-28T01:00:00.000Z").
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from monitor.devtools.sim.entities import SimDetail, SimRecord, SimTask
from monitor.devtools.sim.schedule import parse_api_time

__all__ = ["error_body", "list_entry", "record_detail_entry", "record_entry", "show_body"]

JsonObject = dict[str, Any]


def _compact(fields: JsonObject) -> JsonObject:
    return {k: v for k, v in fields.items() if v is not None}


def _time(text: str | None, time_zone: str | None, rfc3339: bool, *, millis: bool = False) -> str | None:
    """`text` ("yyyy-MM-dd HH:mm:ss" in `time_zone`) as it is, or as RFC 3339 in UTC."""
    if not rfc3339 or text is None:
        return text
    try:
        moment = parse_api_time(text, time_zone).astimezone(UTC)
    except ValueError:
        return text
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (".000Z" if millis else "Z")


def error_body(code: str, message: str) -> JsonObject:
    return {"error_code": code, "error_msg": message}


def list_entry(task: SimTask, *, rfc3339: bool = False) -> JsonObject:
    """A `ScheduledTask` of `GET /v2/{project_id}/scheduled-tasks`."""
    return _compact(
        {
            "id": task.id,
            "task_name": task.task_name,
            "task_type": task.task_type,
            "scheduled_type": task.scheduled_type,
            "life_cycle_type": task.life_cycle_type,
            "last_status": task.last_status,
            "next_execution_time": _time(task.next_execution_time, task.time_zone, rfc3339),
            "expire_time": task.expire_time,
            "enable": task.enable,
            "description": task.description,
            "priority": task.priority,
            "time_zone": task.time_zone,
            "wait_time": task.wait_time,
            "extra_params": task.extra_params,
        }
    )


def show_body(task: SimTask) -> JsonObject:
    """`ShowScheduledTasksResponse`: the definition, with targets, but no `last_status` or `enable`."""
    gray_ids = [d.id for d in task.desktops[: task.gray_count]] if task.gray_count else None
    return _compact(
        {
            "id": task.id,
            "task_type": task.task_type,
            "task_name": task.task_name,
            "force_execute": task.force_execute,
            "scheduled_type": task.scheduled_type,
            "life_cycle_type": task.life_cycle_type,
            "day_interval": task.day_interval,
            "week_list": task.week_list,
            "month_list": task.month_list,
            "date_list": task.date_list,
            "scheduled_date": task.scheduled_date,
            "scheduled_time": task.scheduled_time,
            "expire_time": task.expire_time,
            "description": task.description,
            "extra_params": task.extra_params,
            "apply_objects": [
                {"object_id": d.id, "object_type": "DESKTOP", "object_name": d.name} for d in task.desktops
            ],
            "gray_count": task.gray_count,
            "gray_desktop_ids": gray_ids,
            "gray_fail_threshold": task.gray_fail_threshold,
            "time_zone": task.time_zone,
            "wait_time": task.wait_time,
        }
    )


def record_entry(task: SimTask, record: SimRecord, *, rfc3339: bool = False) -> JsonObject:
    """A `ScheduledTasksRecords` of `.../{task_id}/records`."""
    return _compact(
        {
            "id": record.id,
            "start_time": _time(record.start_time, task.time_zone, rfc3339),
            "task_type": task.task_type,
            "scheduled_type": task.scheduled_type,
            "life_cycle_type": task.life_cycle_type,
            "status": record.status,
            "success_num": record.count("SUCCESS"),
            "failed_num": record.count("FAIL"),
            "skip_num": record.count("SKIP"),
            "time_zone": task.time_zone,
            "execute_task_id": task.execute_task_id,
            "execute_object_type": "DESKTOP",
            "expire_time": task.expire_time,
            "extra_params": task.extra_params,
        }
    )


def record_detail_entry(
    task: SimTask, record: SimRecord, detail: SimDetail, *, rfc3339: bool = False
) -> JsonObject:
    """A `ScheduledTasksRecordsDetails` of `.../{task_id}/records/{record_id}`."""
    return _compact(
        {
            "id": detail.id,
            "record_id": record.id,
            "desktop_id": detail.desktop_id,
            "desktop_name": detail.desktop_name,
            "exec_status": detail.exec_status,
            "exec_script_id": detail.exec_script_id,
            "result_code": detail.result_code,
            "fail_reason": detail.fail_reason,
            "start_time": _time(detail.start_time, task.time_zone, rfc3339, millis=True),
            "end_time": _time(detail.end_time, task.time_zone, rfc3339, millis=True),
            "time_zone": task.time_zone,
        }
    )
