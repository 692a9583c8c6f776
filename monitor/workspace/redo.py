"""What "retry the failed desktops" means for each kind of scheduled task, and starting it.

The Workspace API has no "run this scheduled task now" call (issue 18, checked in the official SDK's
client); each redoable kind of task is redone by its action directly, on exactly the desktops that failed:

    START, STOP, REBOOT, HIBERNATE   the power action (os-start, os-stop, reboot, os-hibernate, SOFT) on the
                                     record's desktops whose exec_status is FAIL
    EXECUTE_SCRIPT                   script-executions/retry {task_id: the record's execute_task_id,
                                     record_id}
    REBUILD, CREATE_SNAPSHOT, other  no redo: destructive or costly (`NoRedo.why` says so)

`plan_redo` is pure (a table test pins it); `start_redo` sends the one write and never repeats it (see
`WorkspaceClient._write`); `claim_key` is the store key two clicks on the same retry share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.workspace.actions import DesktopFailure
from monitor.workspace.client import WorkspaceClient
from monitor.workspace.models import ExecutionRecord, RecordDetail

__all__ = [
    "POWER_OPS",
    "REDOABLE_TYPES",
    "NoRedo",
    "PowerRedo",
    "Redo",
    "RedoStarted",
    "ScriptRedo",
    "claim_key",
    "plan_redo",
    "start_redo",
    "why_no_redo",
]

#: The power action that redoes each power task type.
POWER_OPS = {"START": "os-start", "STOP": "os-stop", "REBOOT": "reboot", "HIBERNATE": "os-hibernate"}

#: The task types a retry button is offered for.
REDOABLE_TYPES = frozenset(POWER_OPS) | {"EXECUTE_SCRIPT"}

_WHY_NOT = {
    "REBUILD": "rebuilding desktops is destructive: redo it from the console",
    "CREATE_SNAPSHOT": "snapshots cost storage: take them again from the console",
    "DELETE_BLACK_ECS": "deleting servers is destructive: redo it from the console",
}


@dataclass(frozen=True)
class PowerRedo:
    op_type: str
    desktop_ids: tuple[str, ...]


@dataclass(frozen=True)
class ScriptRedo:
    #: The scheduled-task record's `execute_task_id`: the script execution task to retry.
    task_id: str
    record_id: str
    desktop_count: int


@dataclass(frozen=True)
class NoRedo:
    why: str


def why_no_redo(task_type: str | None) -> str | None:
    """Why tasks of `task_type` get no retry (None when they do): what `/tasks show` says."""
    if task_type in REDOABLE_TYPES:
        return None
    if task_type is None:
        return "the task's type is unknown"
    return _WHY_NOT.get(task_type, f"{task_type} tasks cannot be redone from Slack")


Redo = PowerRedo | ScriptRedo | NoRedo


@dataclass(frozen=True)
class RedoStarted:
    """What the one write answered: the job (power) or script task (script) to follow, and for a power
    action the desktops it refused outright."""

    job_id: str | None = None
    script_task_id: str | None = None
    refused: tuple[DesktopFailure, ...] = ()


def claim_key(fingerprint: str, record_id: str) -> str:
    """The store key of "retry this alert's failed execution": two clicks on it share it."""
    return f"redo:{fingerprint}:{record_id}"


def plan_redo(task_type: str | None, record: ExecutionRecord, details: Sequence[RecordDetail]) -> Redo:
    """The redo of one execution of a task of `task_type`, given its per-desktop details."""
    failed = tuple(dict.fromkeys(d.desktop_id for d in details if d.exec_status == "FAIL" and d.desktop_id))
    if task_type in POWER_OPS:
        if not failed:
            return NoRedo("no desktop failed in this execution")
        return PowerRedo(POWER_OPS[task_type], failed)
    if task_type == "EXECUTE_SCRIPT":
        if not record.execute_task_id:
            return NoRedo("the execution record names no script execution task (execute_task_id)")
        if not failed and not record.failed_num:
            return NoRedo("no desktop failed in this execution")
        return ScriptRedo(record.execute_task_id, record.id, len(failed) or (record.failed_num or 0))
    return NoRedo(why_no_redo(task_type) or f"{task_type} tasks cannot be redone from Slack")


async def start_redo(client: WorkspaceClient, redo: PowerRedo | ScriptRedo) -> RedoStarted:
    """Send the redo's one write. Raises what the write path raises (OutcomeUnknownError: may have run)."""
    if isinstance(redo, PowerRedo):
        result = await client.desktop_action(redo.desktop_ids, redo.op_type)
        return RedoStarted(job_id=result.job_id, refused=tuple(result.failed_operation_list))
    script_task_id = await client.retry_script_execution(redo.task_id, redo.record_id)
    return RedoStarted(script_task_id=script_task_id)
