"""The payload of one notification: everything a renderer needs about an alert, as plain JSON-able data.

The engine builds it when it writes the outbox (so a message can be rendered again after a restart without
asking the API), and every notifier (console, Slack) renders from it alone. All values are user data from
the API or the rule file and must be escaped by the renderer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any, NotRequired, TypedDict, cast

from monitor.decide import OVERDUE_STATUS, AlertState, Decision, DecisionKind
from monitor.notify.lookups import output_tail
from monitor.rules.model import Rule
from monitor.rules.runbook import render_runbook
from monitor.workspace.actions import ScriptRecord
from monitor.workspace.models import ExecutionRecord, RecordDetail, ScheduledTask

__all__ = [
    "MAX_FAILED_DESKTOPS",
    "MAX_HISTORY",
    "AlertPayload",
    "DesktopFailure",
    "ExecutionSummary",
    "ScriptOutput",
    "TaskSummary",
    "build_payload",
    "is_meta",
    "task_summary",
]

#: How many failed desktops a message names, and how many past executions its history strip shows.
MAX_FAILED_DESKTOPS = 5
MAX_HISTORY = 10


def is_meta(payload: Mapping[str, Any]) -> bool:
    """Whether a payload is a meta-alert's (the monitor about itself, `monitor.selfwatch.meta_payload`)
    rather than an alert's: receivers render the two differently."""
    return payload.get("meta") is True


class TaskSummary(TypedDict):
    id: str
    name: str | None
    type: str | None
    scheduled_type: str | None
    life_cycle_type: str | None
    last_status: str | None
    next_execution_time: str | None
    time_zone: str | None
    enable: bool | None
    description: str | None


class ExecutionSummary(TypedDict):
    id: str
    start_time: str | None
    time_zone: str | None
    status: str | None
    success_num: int | None
    failed_num: int | None
    skip_num: int | None


class DesktopFailure(TypedDict):
    desktop_name: str | None
    exec_status: str | None
    result_code: str | None
    fail_reason: str | None


class ScriptOutput(TypedDict):
    """A failed desktop's script record: why, and the end of what the script printed."""

    record_id: str
    desktop_name: str | None
    result_code: str | None
    reason: str | None
    #: The last lines of the output (`lookups.output_tail`), raw; None when it could not be read.
    output_tail: str | None


class AlertPayload(TypedDict):
    """Schema version 1 of an outbox row's payload."""

    version: int
    kind: str  # DecisionKind: NEW, REPEAT, RECURRED, CHANGED, RESOLVED, CLOSED
    reason: str
    fingerprint: str
    episode: int
    rule: str
    severity: str  # critical | warning | info
    mention: str | None
    project: str
    task: TaskSummary
    alert_status: str  # firing | resolved | closed
    occurrences: int
    opened_at: str  # ISO 8601, UTC
    decided_at: str
    acknowledged_by: str | None
    #: The latest execution, when the records API answered this cycle.
    latest_execution: NotRequired[ExecutionSummary]
    #: Up to MAX_FAILED_DESKTOPS desktops that failed in the latest execution, and how many failed in all.
    failed_desktops: NotRequired[list[DesktopFailure]]
    #: Statuses of the latest executions, newest first (FAIL, SKIP, SUCCESS), for a history strip.
    history: NotRequired[list[str]]
    #: EXECUTE_SCRIPT tasks: up to MAX_SCRIPT_OUTPUTS failed desktops' script records.
    script_outputs: NotRequired[list[ScriptOutput]]
    #: The rule's runbook_url with this alert's task fields, URL-escaped.
    runbook_url: NotRequired[str]
    #: A recovery reply that also goes to the channel (`notify_resolved: broadcast`).
    broadcast: NotRequired[bool]


def task_summary(state: AlertState, task: ScheduledTask | None) -> TaskSummary:
    """The task part of a payload: from the listing when the task was listed, else from the alert. A
    missed-run alert's task shows `last_status` OVERDUE: that is what the message is about."""
    # Dict displays rather than TypedDict(...) calls, here and in build_payload: a call with keywords builds
    # the dict twice, and a cycle after a mass failure builds tens of thousands of payloads.
    if task is None:
        return {
            "id": state.task_id,
            "name": state.task_name,
            "type": None,
            "scheduled_type": None,
            "life_cycle_type": None,
            "last_status": state.last_status,
            "next_execution_time": state.next_execution_time,
            "time_zone": None,
            "enable": None,
            "description": None,
        }
    return {
        "id": task.id,
        "name": task.task_name,
        "type": task.task_type,
        "scheduled_type": task.scheduled_type,
        "life_cycle_type": task.life_cycle_type,
        "last_status": OVERDUE_STATUS if state.overdue else task.last_status,
        "next_execution_time": task.next_execution_time,
        "time_zone": task.time_zone,
        "enable": task.enable,
        "description": task.description,
    }


def _iso(moment: datetime) -> str:
    # Equal aware datetimes may differ in zone, and so in text: the zone is part of the cache key.
    return _iso_in_zone(moment, moment.tzinfo)


# Cached: every payload of a cycle has the same decided_at, and a mass failure the same opened_at.
@lru_cache(maxsize=256)
def _iso_in_zone(moment: datetime, zone: tzinfo | None) -> str:
    return moment.isoformat()


def build_payload(
    decision: Decision,
    state: AlertState,
    rule: Rule | None,
    *,
    task: ScheduledTask | None,
    now: datetime,
    records: Sequence[ExecutionRecord] = (),
    failed_desktops: Sequence[RecordDetail] = (),
    summary: TaskSummary | None = None,
    script_records: Sequence[ScriptRecord] = (),
) -> dict[str, Any]:
    """The payload of `decision` about the alert now in `state`. `records` newest first, when known;
    `summary`, `task_summary(state, task)` when the caller has it already (one task, several alerts)."""
    payload: AlertPayload = {
        "version": 1,
        "kind": decision.kind._value_,
        "reason": decision.reason,
        "fingerprint": state.fingerprint,
        "episode": state.episode,
        "rule": state.rule_name,
        "severity": rule.severity if rule is not None else "warning",
        "mention": rule.mention if rule is not None else None,
        "project": state.project,
        "task": summary if summary is not None else task_summary(state, task),
        "alert_status": state.status._value_,
        "occurrences": state.occurrences,
        "opened_at": _iso(state.opened_at),
        "decided_at": _iso(now),
        "acknowledged_by": state.acknowledged_by,
    }
    if records:
        latest = records[0]
        payload["latest_execution"] = {
            "id": latest.id,
            "start_time": latest.start_time,
            "time_zone": latest.time_zone,
            "status": latest.status,
            "success_num": latest.success_num,
            "failed_num": latest.failed_num,
            "skip_num": latest.skip_num,
        }
        payload["history"] = [record.status or "?" for record in records[:MAX_HISTORY]]
    if failed_desktops:
        payload["failed_desktops"] = [
            {
                "desktop_name": detail.desktop_name or detail.desktop_id,
                "exec_status": detail.exec_status,
                "result_code": detail.result_code,
                "fail_reason": detail.fail_reason,
            }
            for detail in failed_desktops[:MAX_FAILED_DESKTOPS]
        ]
    if script_records:
        payload["script_outputs"] = [script_output(record) for record in script_records]
    if rule is not None and rule.runbook_url:
        url = render_runbook(rule.runbook_url, _runbook_fields(payload))
        if url is not None:
            payload["runbook_url"] = url
    if rule is not None and rule.notify_resolved == "broadcast" and decision.kind is DecisionKind.RESOLVED:
        payload["broadcast"] = True
    return cast(dict[str, Any], payload)


def script_output(record: ScriptRecord) -> ScriptOutput:
    return {
        "record_id": record.id,
        "desktop_name": record.resource_name or record.resource_id,
        "result_code": record.result_code,
        "reason": record.reason,
        "output_tail": output_tail(record.output) if record.output is not None else None,
    }


def _runbook_fields(payload: AlertPayload) -> dict[str, str | None]:
    task = payload["task"]
    return {
        "task_id": task["id"],
        "task_name": task["name"],
        "task_type": task["type"],
        "scheduled_type": task["scheduled_type"],
        "life_cycle_type": task["life_cycle_type"],
        "project": payload["project"],
        "rule": payload["rule"],
        "alert_id": payload["fingerprint"],
    }  # a TypedDict is a dict: no copy
