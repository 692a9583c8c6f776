"""`SimState`: the simulated project (tasks, records), its credentials and tokens, queued faults, stats, and
every mutation the control API and scenarios can make.

All methods are synchronous and run on the server's event loop thread, so a mutation is atomic with respect
to request handlers. From another thread, go through `SimulatorThread.call`.

Errors: `UnknownTask` (a KeyError; the control API answers 404) and ValueError for bad input (400).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

import monitor.devtools.sim.data as data
from monitor.devtools.sim.auth import (
    Authenticator,
    Credential,
    IamFailure,
    IssuedToken,
    TokenStore,
    parse_password_login,
)
from monitor.devtools.sim.edits import SCHEDULE_FIELDS, validate_fields
from monitor.devtools.sim.entities import SimRecord, SimTask
from monitor.devtools.sim.faults import Fault, FaultQueue, parse_fault
from monitor.devtools.sim.jobs import JobBook
from monitor.devtools.sim.options import SimOptions
from monitor.devtools.sim.query import TaskFilters, select_tasks
from monitor.devtools.sim.scenario import Action, Scenario, load_scenario, parse_scenario
from monitor.devtools.sim.schedule import format_api_time, parse_api_time
from monitor.devtools.sim.stats import Stats
from monitor.workspace.vocabulary import LAST_STATUSES

__all__ = ["SimState", "UnknownTask", "utc_now"]

log = structlog.get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class UnknownTask(KeyError):
    def __init__(self, ref: str) -> None:
        super().__init__(ref)
        self.ref = ref

    def __str__(self) -> str:
        return f"no task with id or name {self.ref!r}"


class SimState:
    def __init__(self, options: SimOptions | None = None) -> None:
        self.options = options or SimOptions()
        opts = self.options
        self.clock: Callable[[], datetime] = opts.clock or utc_now
        # Runtime randomness (new record ids, which desktops fail, error_rate) is seeded too, so a test that
        # replays the same calls sees the same answers.
        self.rng = random.Random(f"{opts.seed}:runtime")
        self.tasks: list[SimTask] = data.generate_tasks(
            opts.tasks, fail_rate=opts.fail_rate, skip_rate=opts.skip_rate, seed=opts.seed, now=self.clock()
        )
        self._by_id = {t.id: t for t in self.tasks}
        # The list endpoint is asked for the same filters page after page; selecting from 10,000 tasks each
        # time made the simulator, not the client under test, the bottleneck. Every mutation below calls
        # `_changed()`, which drops the cached selections.
        self._selections: dict[TaskFilters, list[SimTask]] = {}
        self.faults = FaultQueue()
        # The write side (desktop actions, jobs, script retries), with a generator of its own: seeds stay put.
        self.jobs = JobBook(random.Random(f"{opts.seed}:jobs"), self.clock)
        self.stats = Stats()
        self.tokens = TokenStore()
        credentials = [Credential(opts.access_key, opts.secret_key)]
        if opts.temp_access_key and opts.temp_secret_key and opts.security_token:
            credentials.append(Credential(opts.temp_access_key, opts.temp_secret_key, opts.security_token))
        self.authenticator = Authenticator(
            project_id=opts.project_id,
            credentials=credentials,
            static_tokens=opts.static_tokens,
            tokens=self.tokens,
            clock=self.clock,
            expired_as_0301=opts.expired_token_code == "APIGW.0301",  # noqa: S105 - an error code
        )
        self.scenario: Scenario | None = None
        if opts.scenario is not None:
            self.load_scenario(opts.scenario)

    # ---- reading -------------------------------------------------------------------------------------

    def task(self, ref: str) -> SimTask:
        """A task by id, or else by exact name (the first one, in creation order)."""
        found = self._by_id.get(ref) or next((t for t in self.tasks if t.task_name == ref), None)
        if found is None:
            raise UnknownTask(ref)
        return found

    def task_by_id(self, task_id: str) -> SimTask | None:
        return self._by_id.get(task_id)

    def task_by_execute_id(self, execute_task_id: str) -> SimTask | None:
        """The task whose records name `execute_task_id` (`SimTask.execute_task_id`)."""
        return next((t for t in self.tasks if t.execute_task_id == execute_task_id), None)

    def desktop_names(self) -> dict[str, str]:
        """Every desktop any task targets, id -> name: the desktops the action endpoint knows."""
        return {d.id: d.name for t in self.tasks for d in t.desktops}

    def find(self, filters: TaskFilters) -> list[SimTask]:
        """What the list endpoint would page through for these filters (triggered tasks only on request)."""
        selection = self._selections.get(filters)
        if selection is None:
            selection = self._selections[filters] = select_tasks(self.tasks, filters)
        return selection

    def _changed(self) -> None:
        self._selections.clear()

    def with_status(self, status: str, *, triggered: bool | None = None) -> list[SimTask]:
        """Tasks whose last_status is `status`; `triggered` True/False keeps only LIFE_CYCLE/other tasks."""
        return [
            t
            for t in self.tasks
            if t.last_status == status and (triggered is None or t.triggered == triggered)
        ]

    def counts(self) -> dict[str, int]:
        """Tasks per last_status ("NONE" for never run), all tasks included."""
        result = {status: 0 for status in (*LAST_STATUSES, "NONE")}
        for t in self.tasks:
            result[t.last_status or "NONE"] += 1
        return result

    # ---- task mutations ------------------------------------------------------------------------------

    def add_execution(
        self,
        task_id: str,
        status: str,
        failed_desktops: Sequence[str] | None = None,
        fail_reason: str | None = None,
    ) -> SimRecord:
        """Record a new execution (newest first); last_status and next_execution_time follow it."""
        if status not in LAST_STATUSES:
            raise ValueError(f"status must be one of {', '.join(LAST_STATUSES)}")
        if failed_desktops is not None and (
            not isinstance(failed_desktops, list) or not all(isinstance(d, str) for d in failed_desktops)
        ):
            raise ValueError("failed_desktops must be a list of desktop names")
        if fail_reason is not None and not isinstance(fail_reason, str):
            raise ValueError("fail_reason must be a string")
        task = self.task(task_id)
        now = self.clock()
        record = data.make_record(
            self.rng, task, status, now, failed_desktops=failed_desktops, fail_reason=fail_reason
        )
        task.records.insert(0, record)
        task.last_status = status
        # The execution used up the slot it ran for: the next run is the one after it, even when a test or
        # scenario makes the task run before its scheduled time.
        scheduled = (
            parse_api_time(task.next_execution_time, task.time_zone) if task.next_execution_time else None
        )
        data.refresh_next_execution(task, max(now, scheduled) if scheduled else now)
        self._changed()
        log.info("sim.task_executed", task_id=task.id, status=status, failed=record.count("FAIL"))
        return record

    def miss_run(self, task_id: str, *, late_by: timedelta) -> SimTask:
        """The scheduler missed the task's run: its `next_execution_time` is `late_by` in the past and no
        execution record was written, so nothing moved it on (the task stays as it was otherwise).

        The API reference (ListScheduledTasks, support.huaweicloud.com/api-workspace/ListScheduledTasks.html)
        defines `next_execution_time` as the next execution's time, "yyyy-MM-dd HH:mm:ss" in the task's
        `time_zone`; an execution moves it on (here: `add_execution`). What the live service lists after a run
        it missed is not documented: the simulator shows the time that passed, which is what a missed run
        looks like to a client (docs/reliability.md). Records started since that time are dropped: those
        runs did not happen."""
        if late_by <= timedelta(0):
            raise ValueError("late_by must be positive: a missed run is in the past")
        task = self.task(task_id)
        if task.triggered:
            raise ValueError("a LIFE_CYCLE task runs when its event fires: it has no scheduled run to miss")
        due = self.clock() - late_by
        task.next_execution_time = format_api_time(due, task.time_zone)
        # The runs it missed did not happen: records from then on go, and last_status is the last run's.
        task.records = [r for r in task.records if parse_api_time(r.start_time, task.time_zone) < due]
        task.last_status = task.records[0].status if task.records else None
        self._changed()
        log.info("sim.task_missed_run", task_id=task.id, next_execution_time=task.next_execution_time)
        return task

    def patch_task(self, task_id: str, fields: Mapping[str, Any]) -> SimTask:
        task = self.task(task_id)
        checked = validate_fields(fields, rng=self.rng, allow_id=False)
        for name, value in checked.items():
            setattr(task, name, value)
        if SCHEDULE_FIELDS & checked.keys() and "next_execution_time" not in checked:
            data.refresh_next_execution(task, self.clock())
        self._changed()
        log.info("sim.task_patched", task_id=task.id, fields=sorted(checked))
        return task

    def create_task(self, fields: Mapping[str, Any] | None = None, *, front: bool = False) -> SimTask:
        """A new realistic task with `fields` applied; appended (creation order) or put `front`.

        Without a `scheduled_type` it is a recurring one (DAY, WEEK or MONTH), so it shows in the default
        list and has a next execution time.
        """
        checked = validate_fields(fields or {}, rng=self.rng, allow_id=True)
        if checked.get("id") in self._by_id:
            raise ValueError(f"a task with id {checked['id']!r} exists")
        task = data.new_task(
            self.rng,
            len(self.tasks) + 1,
            self.clock(),
            last_status=checked.get("last_status"),
            task_type=checked.get("task_type"),
            scheduled_type=checked.get("scheduled_type") or self.rng.choice(("DAY", "WEEK", "MONTH")),
        )
        for name, value in checked.items():
            setattr(task, name, value)
        if task.triggered and task.life_cycle_type is None:
            task.life_cycle_type = "POST_CREATE_DESKTOP_SUCCESS"
        if not task.triggered:
            task.life_cycle_type = None
        if "next_execution_time" not in checked:
            data.refresh_next_execution(task, self.clock())
        if SCHEDULE_FIELDS & checked.keys() and task.records:
            data.rebuild_history(task, self.clock(), self.options.seed)
        if front:
            self.tasks.insert(0, task)
        else:
            self.tasks.append(task)
        self._by_id[task.id] = task
        self._changed()
        log.info("sim.task_created", task_id=task.id)
        return task

    def delete_task(self, task_id: str) -> SimTask:
        task = self.task(task_id)
        self.tasks.remove(task)
        del self._by_id[task.id]
        self._changed()
        log.info("sim.task_deleted", task_id=task.id)
        return task

    def shift(self, fault: Fault, filters: TaskFilters) -> None:
        """Move the list under a pager's feet: insert new matching tasks at the front, or remove the first
        matching ones, so the next page of the same query starts somewhere else."""
        if fault.mode == "remove":
            for task in self.find(filters)[: fault.n]:
                self.delete_task(task.id)
            return
        for _ in range(fault.n):
            fields: dict[str, Any] = {
                "last_status": filters.last_status or fault.last_status,
                "scheduled_type": filters.scheduled_type or "DAY",
            }
            if filters.task_type:
                fields["task_type"] = filters.task_type
            if filters.life_cycle_type:
                fields["life_cycle_type"] = filters.life_cycle_type
            task = self.create_task(fields, front=True)
            if filters.task_name:
                task.task_name = f"{filters.task_name} (inserted)"
                self._changed()

    # ---- faults --------------------------------------------------------------------------------------

    def add_faults(self, specs: Iterable[Mapping[str, Any] | Fault]) -> list[Fault]:
        """Queue faults (validated all first, so a bad one queues none)."""
        faults = [s if isinstance(s, Fault) else parse_fault(s) for s in specs]
        for fault in faults:
            self.faults.add(fault)
        return faults

    def add_fault(self, kind: str, endpoint: str = "any", count: int = 1, **fields: Any) -> Fault:
        return self.add_faults([{"kind": kind, "endpoint": endpoint, "count": count, **fields}])[0]

    def clear_faults(self) -> None:
        self.faults.clear()

    def should_fail_randomly(self) -> bool:
        return self.options.error_rate > 0 and self.rng.random() < self.options.error_rate

    # ---- IAM -----------------------------------------------------------------------------------------

    def login(self, body: Any) -> IssuedToken:
        """The simulated IAM `POST /v3/auth/tokens`; IamFailure when the body or credentials are wrong."""
        login = parse_password_login(body)
        opts = self.options
        if (login.user, login.domain) != (
            opts.iam_user,
            opts.iam_domain,
        ) or login.password != opts.iam_password:
            raise IamFailure(401, "The username or password is wrong.")
        if login.project_id not in (None, opts.project_id) or login.project_name not in (None, opts.region):
            raise IamFailure(401, "The project in the scope does not exist or the user has no access to it.")
        token = self.tokens.issue(
            user=login.user,
            project_id=opts.project_id,
            now=self.clock(),
            ttl=timedelta(seconds=opts.token_ttl_seconds),
        )
        log.info("sim.token_issued", user=login.user, expires_at=token.expires_at.isoformat())
        return token

    def expire_tokens(self) -> int:
        """Every token issued so far is now expired (the API answers APIGW.0307); returns how many."""
        return self.tokens.expire_all(self.clock())

    # ---- stats ---------------------------------------------------------------------------------------

    def stats_snapshot(self) -> dict[str, Any]:
        return self.stats.snapshot()

    def reset_stats(self) -> None:
        self.stats.reset()

    # ---- scenario ------------------------------------------------------------------------------------

    def load_scenario(self, source: str | Path | list[Any]) -> None:
        """From a YAML file path, or from already parsed steps (a list, as in the file)."""
        steps = parse_scenario(source) if isinstance(source, list) else load_scenario(source)
        self.scenario = Scenario(steps)

    def advance_scenario(self) -> dict[str, Any]:
        """Run the next step; ValueError when there is no scenario or it is finished.

        The step counts as run even if an action fails (the error names it), so one bad action cannot
        wedge a scenario driven by a timer.
        """
        if self.scenario is None:
            raise ValueError("no scenario is loaded")
        if self.scenario.done:
            raise ValueError("the scenario is finished")
        number = self.scenario.position + 1
        applied = []
        for i, action in enumerate(self.scenario.next_step(), start=1):
            try:
                applied.append(self.apply_action(action))
            except (KeyError, ValueError) as exc:
                raise ValueError(f"scenario step {number}, action {i} ({action.action}): {exc}") from None
        log.info("sim.scenario_step", step=number, steps=len(self.scenario.steps))
        return {
            "step": number,
            "steps": len(self.scenario.steps),
            "done": self.scenario.done,
            "applied": applied,
        }

    def apply_action(self, action: Action) -> str:
        """Apply one scenario action; returns a short description of what changed."""
        args = action.args
        if action.action == "execute":
            record = self.add_execution(
                self.task(action.task).id,
                args["status"],
                args.get("failed_desktops"),
                args.get("fail_reason"),
            )
            return f"execute {action.task} -> {record.status}"
        if action.action == "miss":
            late_by = timedelta(seconds=int(args.get("late_by_seconds", 3600)))
            return f"miss {self.miss_run(action.task, late_by=late_by).id}"
        if action.action == "patch":
            return f"patch {self.patch_task(action.task, args.get('set') or {}).id}"
        if action.action == "create":
            return f"create {self.create_task(args.get('set') or {}).id}"
        if action.action == "delete":
            return f"delete {self.delete_task(action.task).id}"
        if action.action == "fault":
            fault = self.add_faults([args["fault"]])[0]
            return f"fault {fault.kind} on {fault.endpoint}"
        if action.action == "clear_faults":
            self.clear_faults()
            return "clear_faults"
        return f"expire_tokens ({self.expire_tokens()})"
