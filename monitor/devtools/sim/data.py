"""Deterministic generation of realistic scheduled tasks, execution records and per-desktop results.

Everything derives from the seed: task `i` is built from its own `Random(f"{seed}:task:{i}")`, so the same
seed gives the same ids, names and outcomes whatever the task count, and which tasks FAIL or SKIP is an exact
`round(count * rate)` sample (a 5% fail rate over 500 tasks is 25 failing tasks, not "about 25"). Only times
depend on `now`, so the schedule always looks current.

The result codes and failure texts are invented (the API documents no catalogue); they only need to look
like what operators see: a code, and a sentence saying why.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from monitor.devtools.sim.entities import TASK_TYPES, SimDesktop, SimDetail, SimRecord, SimTask
from monitor.devtools.sim.schedule import API_TIME_FORMAT, format_api_time, next_run, previous_run, zone
from monitor.workspace.vocabulary import LIFE_CYCLE_TYPES, SCHEDULED_TYPES

__all__ = [
    "SUCCESS_CODE",
    "generate_tasks",
    "make_record",
    "new_task",
    "new_uuid",
    "rebuild_history",
    "refresh_next_execution",
]

SUCCESS_CODE = "WKS.0000"

TIME_ZONES = (
    "Asia/Shanghai",
    "Asia/Shanghai",
    "Asia/Shanghai",
    "Europe/Paris",
    "UTC",
    "UTC",
    "America/New_York",
    "Asia/Singapore",
    "Europe/Berlin",
    "Asia/Tokyo",
    "America/Sao_Paulo",
    "Asia/Kolkata",
)
_TYPE_WEIGHTS = (14, 14, 22, 6, 6, 22, 16)  # reboots and scripts are what teams schedule most
_SCHEDULED_WEIGHTS = (8, 50, 27, 15)  # FIXED_TIME, DAY, WEEK, MONTH (LIFE_CYCLE decided separately)
_LIFE_CYCLE_SHARE = 0.05
_DISABLED_SHARE = 0.08
_NEVER_RAN_SHARE = 0.04
_HOSTILE_NAME_SHARE = 0.01  # names like "<!channel>" keep the Slack escaping honest in demos

_VERBS = {
    "START": ("start", "power-on", "wake"),
    "STOP": ("stop", "shutdown", "power-off"),
    "REBOOT": ("reboot", "restart"),
    "HIBERNATE": ("hibernate", "sleep"),
    "REBUILD": ("rebuild", "reimage"),
    "EXECUTE_SCRIPT": ("patch", "av-scan", "cleanup-script", "gpo-update"),
    "CREATE_SNAPSHOT": ("snapshot", "backup"),
}
_CADENCES = {
    "FIXED_TIME": ("once", "migration", "cutover"),
    "DAY": ("nightly", "daily", "morning", "evening"),
    "WEEK": ("weekly", "weekend", "monday"),
    "MONTH": ("monthly", "month-end", "quarterly"),
    "LIFE_CYCLE": ("on-create", "on-rebuild", "on-disconnect"),
}
_ENVS = ("prod", "prod", "staging", "lab", "dev", "finance", "callcenter", "hr", "eng")
_DESKTOP_PREFIXES = ("ws-prod", "ws-fin", "vdi-lab", "dev-desk", "cc-agent", "hr-pc")
_UNICODE_NAMES = (
    "财务部 夜间{verb} {n}",
    "Équipe Paris – {verb} {cadence} {n}",
    "会議室 PC {verb} {n}",
    "lab desktops {verb} {n}",
    "Отдел продаж {verb} {n}",
    "Salle de formation {cadence} {n}",
)
_DESCRIPTIONS = (
    "{Verb} {env} desktops ({cadence})",
    "Managed by desktop-ops; see runbook DO-{n}",
    "{Verb} before the maintenance window",
    "",
)
_FAILURES = {
    "START": (("WKS.0301", "Insufficient resources in the availability zone to start the desktop"),),
    "STOP": (("WKS.0302", "The guest OS did not shut down within 10 minutes"),),
    "REBOOT": (("WKS.0303", "The desktop failed to restart: the guest OS did not respond"),),
    "HIBERNATE": (("WKS.0304", "Hibernation is not supported by this desktop flavor"),),
    "REBUILD": (("WKS.0305", "The image is unavailable or has been deleted"),),
    "EXECUTE_SCRIPT": (
        ("WKS.0306", "Script exited with code 1: Access is denied."),
        ("WKS.0307", "Script execution timed out after 600 seconds"),
    ),
    "CREATE_SNAPSHOT": (("WKS.0308", "Snapshot quota exceeded for this project"),),
}
_COMMON_FAILURES = (
    ("WKS.0149", "The desktop agent did not respond within 300 seconds"),
    ("WKS.0215", "The desktop is being operated by another task"),
)
_SKIPS = (
    ("WKS.0401", "The desktop is already in the target state"),
    ("WKS.0402", "The desktop is in maintenance mode"),
    ("WKS.0403", "A user is logged on and force_execute is off"),
)
_SCHEDULE_WORDS = {
    "FIXED_TIME": "one-off",
    "DAY": "daily",
    "WEEK": "weekly",
    "MONTH": "monthly",
    "LIFE_CYCLE": "triggered",
}
_PERIODS = {"DAY": timedelta(days=1), "WEEK": timedelta(days=7), "MONTH": timedelta(days=30)}


_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


def new_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from `rng`, so ids are reproducible (formatted by hand: uuid.UUID is slow)."""
    h = f"{(rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _task_name(rng: random.Random, number: int, task_type: str, scheduled_type: str) -> str:
    verb = rng.choice(_VERBS[task_type])
    cadence = rng.choice(_CADENCES[scheduled_type])
    n = f"{number:03d}"
    roll = rng.random()
    if roll < _HOSTILE_NAME_SHARE:
        return f"<!channel> & <b>ops</b> {verb} {n}"
    if roll < 0.12:
        return rng.choice(_UNICODE_NAMES).format(verb=verb, cadence=cadence, n=n)
    return f"{rng.choice(_ENVS)}-{verb}-{cadence}-{n}"


def _desktops(rng: random.Random) -> list[SimDesktop]:
    prefix = rng.choice(_DESKTOP_PREFIXES)
    first = rng.randrange(1, 9000)
    count = rng.choice((1, 1, 2, 3, 4, 5, 8, 12))
    return [SimDesktop(id=new_uuid(rng), name=f"{prefix}-{first + i:04d}") for i in range(count)]


def _schedule(rng: random.Random, task: SimTask, now: datetime, has_run: bool) -> None:
    """Fill the schedule fields that suit `task.scheduled_type`."""
    if task.triggered:
        task.life_cycle_type = rng.choice(LIFE_CYCLE_TYPES)
        task.priority = rng.randrange(1, 11)
        task.wait_time = rng.choice((0, 0, 5, 10, 30))
        return
    task.scheduled_time = f"{rng.randrange(24):02d}:{rng.choice((0, 15, 30, 45)):02d}:00"
    if task.scheduled_type == "FIXED_TIME":
        # One-off tasks that already ran are in the past; the others are still ahead.
        days = -rng.randrange(1, 20) if has_run else rng.randrange(1, 30)
        task.scheduled_date = (now + timedelta(days=days)).strftime("%Y-%m-%d")
    elif task.scheduled_type == "DAY":
        task.day_interval = rng.choice((1, 1, 1, 2, 7))
    elif task.scheduled_type == "WEEK":
        task.week_list = ",".join(str(d) for d in sorted(rng.sample(range(1, 8), rng.randrange(1, 4))))
    else:
        task.month_list = rng.choice(("1,2,3,4,5,6,7,8,9,10,11,12", "1,4,7,10"))
        task.date_list = rng.choice(("1", "1,15", "28", "10,20"))


def new_task(
    rng: random.Random,
    number: int,
    now: datetime,
    *,
    last_status: str | None = None,
    task_type: str | None = None,
    scheduled_type: str | None = None,
) -> SimTask:
    """One realistic task; `number` only feeds the name's suffix. Records are added by `_history`."""
    task_type = task_type or rng.choices(TASK_TYPES, _TYPE_WEIGHTS)[0]
    if scheduled_type is None:
        scheduled_type = (
            "LIFE_CYCLE"
            if rng.random() < _LIFE_CYCLE_SHARE
            else rng.choices(SCHEDULED_TYPES[:4], _SCHEDULED_WEIGHTS)[0]
        )
    name = _task_name(rng, number, task_type, scheduled_type)
    task = SimTask(
        id=new_uuid(rng),
        task_name=name,
        task_type=task_type,
        scheduled_type=scheduled_type,
        time_zone=rng.choice(TIME_ZONES),
        enable=rng.random() >= _DISABLED_SHARE,
        force_execute=rng.random() < 0.3,
        desktops=_desktops(rng),
    )
    verb = _VERBS[task_type][0]
    task.description = rng.choice(_DESCRIPTIONS).format(
        Verb=verb.capitalize(), env=name.split("-")[0], cadence=_SCHEDULE_WORDS[scheduled_type], n=number
    )
    if rng.random() < 0.1:
        task.expire_time = f"{now.year + 1}-12-31 23:59:59"
    if task_type == "EXECUTE_SCRIPT":
        task.extra_params = json.dumps({"script_ids": [new_uuid(rng)], "execute_type": "SERIAL"})
    if rng.random() < 0.1:
        task.gray_count = rng.randrange(1, 4)
        task.gray_fail_threshold = 1
    _schedule(rng, task, now, has_run=last_status is not None)
    _history(rng, task, now, last_status)
    refresh_next_execution(task, now)
    return task


def _script_id(task: SimTask) -> str | None:
    if not task.extra_params:
        return None
    try:
        ids = json.loads(task.extra_params).get("script_ids") or [None]
    except (ValueError, AttributeError):
        return None
    first = ids[0]
    return first if isinstance(first, str) else None


def make_record(
    rng: random.Random,
    task: SimTask,
    status: str,
    started: datetime,
    *,
    failed_desktops: Sequence[str] | None = None,
    fail_reason: str | None = None,
) -> SimRecord:
    """An execution of `task` that ended in `status`, with one detail per desktop consistent with it.

    For FAIL, `failed_desktops` names the desktops that failed (names the task does not target are added to
    this execution only); without it a random non-empty subset fails. SKIP skips every desktop.
    """
    desktops = list(task.desktops) or [SimDesktop(id=new_uuid(rng), name="ws-unknown-0001")]
    failing: set[str] = set()
    if status == "FAIL":
        if failed_desktops:
            failing = set(failed_desktops)
            known = {d.name for d in desktops}
            desktops += [SimDesktop(id=new_uuid(rng), name=n) for n in failed_desktops if n not in known]
        else:
            picked = rng.sample(desktops, rng.randrange(1, max(1, len(desktops) // 2) + 1))
            failing = {d.name for d in picked}
    local_start = started.astimezone(zone(task.time_zone))
    start_text = local_start.strftime(API_TIME_FORMAT)
    record = SimRecord(id=new_uuid(rng), start_time=start_text, status=status)
    failures = _FAILURES.get(task.task_type, ())
    script_id = _script_id(task)
    for desktop in desktops:
        if status == "SKIP":
            code, reason = rng.choice(_SKIPS)
            exec_status: str = "SKIP"
        elif desktop.name in failing:
            code, reason = rng.choice(failures + _COMMON_FAILURES)
            reason = fail_reason or reason
            exec_status = "FAIL"
        else:
            code, exec_status = SUCCESS_CODE, "SUCCESS"
            reason = ""
        ended = local_start + timedelta(seconds=rng.randrange(5, 600))
        record.details.append(
            SimDetail(
                id=new_uuid(rng),
                desktop_id=desktop.id,
                desktop_name=desktop.name,
                exec_status=exec_status,
                result_code=code,
                fail_reason=reason or None,
                start_time=start_text,
                end_time=ended.strftime(API_TIME_FORMAT),
                exec_script_id=script_id,
            )
        )
    return record


def _history(rng: random.Random, task: SimTask, now: datetime, last_status: str | None) -> None:
    """Past executions, newest first; the newest one's status is the task's `last_status`."""
    task.last_status = last_status
    if last_status is None:
        return
    started = previous_run(task, now) or now - timedelta(hours=rng.randrange(1, 72))
    # A one-off task ran once; triggered tasks run whenever their event fires.
    runs = 1 if task.scheduled_type == "FIXED_TIME" else rng.randrange(1, 5)
    for i in range(runs):
        status = last_status if i == 0 else rng.choices(("SUCCESS", "FAIL", "SKIP"), (80, 12, 8))[0]
        task.records.append(make_record(rng, task, status, started))
        period = _PERIODS.get(task.scheduled_type, timedelta(hours=rng.randrange(2, 48)))
        started -= period


def rebuild_history(task: SimTask, now: datetime, seed: object) -> None:
    """The task's past executions again, for the schedule it has now (a created task's schedule and zone,
    given after its history was drawn for another one, would leave runs at times it never ran at: some in
    the future). Its own generator, so the simulator's other draws stay as they were."""
    task.records.clear()
    _history(random.Random(f"{seed}:history:{task.id}"), task, now, task.last_status)


def refresh_next_execution(task: SimTask, now: datetime) -> None:
    when = next_run(task, now)
    task.next_execution_time = format_api_time(when, task.time_zone) if when else None


def generate_tasks(
    count: int, *, fail_rate: float, skip_rate: float, seed: int, now: datetime
) -> list[SimTask]:
    """`count` tasks in creation order: exactly round(count*fail_rate) FAIL, round(count*skip_rate) SKIP."""
    picker = random.Random(f"{seed}:statuses")
    indexes = list(range(count))
    failing = set(picker.sample(indexes, min(count, round(count * fail_rate))))
    rest = [i for i in indexes if i not in failing]
    skipping = set(picker.sample(rest, min(len(rest), round(count * skip_rate))))
    tasks: list[SimTask] = []
    for i in indexes:
        rng = random.Random(f"{seed}:task:{i}")
        if i in failing:
            status: str | None = "FAIL"
        elif i in skipping:
            status = "SKIP"
        else:
            status = None if rng.random() < _NEVER_RAN_SHARE else "SUCCESS"
        # The first tasks walk through every type and schedule so even a small set covers them all.
        task_type = TASK_TYPES[i] if i < len(TASK_TYPES) else None
        scheduled_type = SCHEDULED_TYPES[i] if i < len(SCHEDULED_TYPES) else None
        tasks.append(
            new_task(rng, i + 1, now, last_status=status, task_type=task_type, scheduled_type=scheduled_type)
        )
    return tasks
