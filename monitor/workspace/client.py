"""The async client of the Workspace scheduled-task API: paging, retries, and error translation.

Every request goes through `_request`: it waits out a shared throttle window, takes a slot of the
concurrency bound, lets the `Auth` sign it (again on every retry), sends it, and turns the answer into parsed
JSON or one of `monitor.workspace.errors`. Retrying lives there and only there (stamina: exponential backoff
with jitter, bounded in attempts and time). A 429 pauses every request of the client, in flight or not: for
its `Retry-After` (capped), or, since the API does not document sending one, for an exponential backoff with
jitter that grows with each 429 in a row (`throttle_pause`, bounded by `RetryPolicy.throttle_max`).

Listing is `list_tasks(filters)`: page 0 first (it tells `total_count`), then the remaining pages
concurrently, then, while the last page came back full, the next pages one by one. A pass is complete when
every page answered and the pages ran out (a short last page). `total_count` is not trusted alone: its exact
semantics are undocumented (whether triggered LIFE_CYCLE tasks count without `scheduled_type`, say), so a
count that disagrees with the tasks that came back is logged once per change and counted
(`anomaly:total_count`), and changes nothing else. Pages that tell different totals mean the list changed
while it was paged: one more pass is made, and if that one does not hold still either the listing is
reported incomplete. Callers must never conclude "resolved" from an incomplete listing (and the engine
confirms each recovery with a lookup of its own).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx
import pydantic_core
import stamina
from pydantic import BaseModel, ValidationError

from monitor import __version__
from monitor.logs import get_logger
from monitor.workspace import signer
from monitor.workspace.auth import Auth, OutgoingRequest
from monitor.workspace.bodies import ACCEPT_ENCODING, DECODED_HEADERS, MAX_ANSWER_BYTES, read_capped
from monitor.workspace.errors import (
    AuthError,
    ConfigurationError,
    MalformedResponseError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitedError,
    RequestError,
    RetryableError,
    ServerError,
    TransportError,
    WorkspaceError,
)
from monitor.workspace.models import (
    MAX_TEXT,
    ExecutionRecord,
    RecordDetail,
    ScheduledTask,
    TaskDetail,
    clip_text,
    has_long_text,
)

if TYPE_CHECKING:  # imported where used: a listing (`tasks`) does not build the write path's models
    from monitor.workspace.actions import DesktopActionResult, Job, ScriptRecord

__all__ = [
    "MAX_ANSWER_BYTES",
    "MAX_ID_LENGTH",
    "MAX_OUTPUT",
    "MAX_RECORD_DETAILS",
    "MAX_TOTAL_COUNT",
    "PAGE_LIMIT",
    "Listing",
    "RetryPolicy",
    "TaskFilter",
    "TaskListing",
    "WorkspaceClient",
    "parse_json",
    "throttle_pause",
]

log = get_logger(__name__)  # structlog loads at the first event shown (monitor.logs)

PAGE_LIMIT = 50
#: A `total_count` above this is not believed: paging it would schedule millions of requests at once.
#: Workspace projects hold dozens to thousands of scheduled tasks.
MAX_TOTAL_COUNT = 200_000
RECORDS_LIMIT = 100
#: Desktops of one execution read at most (10 pages): a failure on 5,000 desktops is told as "and N more".
MAX_RECORD_DETAILS = 1000
USER_AGENT = f"workspace-monitor/{__version__}"

LIST_ENDPOINT = "GET /v2/{project_id}/scheduled-tasks"
SHOW_ENDPOINT = "GET /v2/{project_id}/scheduled-tasks/{task_id}"
RECORDS_ENDPOINT = "GET /v2/{project_id}/scheduled-tasks/{task_id}/records"
DETAILS_ENDPOINT = "GET /v2/{project_id}/scheduled-tasks/{task_id}/records/{record_id}"
ACTION_ENDPOINT = "POST /v2/{project_id}/desktops/action"
#: The longest id put into a request's path (Workspace ids are 32 to 36 characters).
MAX_ID_LENGTH = 128
JOB_ENDPOINT = "GET /v2/{project_id}/workspace-jobs/{job_id}"
SCRIPT_RETRY_ENDPOINT = "POST /v2/{project_id}/script-executions/retry"
SCRIPT_RECORDS_ENDPOINT = "GET /v2/{project_id}/script-execution-records"
SCRIPT_RECORD_ENDPOINT = "GET /v2/{project_id}/script-execution-records/{record_id}"

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class TaskFilter:
    """The list endpoint's filters; None means "not filtered". LIFE_CYCLE tasks need scheduled_type."""

    task_name: str | None = None
    task_type: str | None = None
    scheduled_type: str | None = None
    life_cycle_type: str | None = None
    last_status: str | None = None

    def params(self) -> list[tuple[str, str]]:
        return [(name, value) for name, value in vars(self).items() if value is not None]


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for retrying retryable failures of one request."""

    attempts: int = 5
    timeout: float = 60.0
    wait_initial: float = 0.2
    wait_max: float = 10.0
    wait_jitter: float = 1.0
    #: A server asking for a longer pause than this is obeyed only up to this long.
    max_retry_after: float = 60.0
    #: A 429 without Retry-After (the API does not document sending one): pause every request of the client
    #: for this long, doubling with each 429 in a row up to `throttle_max`, with jitter (half to all of it).
    throttle_initial: float = 1.0
    throttle_max: float = 30.0


def throttle_pause(streak: int, policy: RetryPolicy, jitter: float) -> float:
    """The pause after the `streak`-th 429 in a row that said no Retry-After; `jitter` in [0, 1]."""
    ceiling = min(policy.throttle_max, policy.max_retry_after)
    full = min(ceiling, policy.throttle_initial * 2.0 ** min(max(streak, 1) - 1, 30))
    return full * (0.5 + 0.5 * min(max(jitter, 0.0), 1.0))


@dataclass
class Listing:
    """A finished listing: the tasks, and whether they are known to be all of them."""

    tasks: list[ScheduledTask]
    complete: bool
    total_count: int
    requests: int
    problems: list[str] = field(default_factory=list)


class TaskListing:
    """`async for task in listing` yields each distinct task once, as pages arrive.

    After the loop ends, `complete`, `total_count`, `requests` and `problems` describe the listing.
    """

    def __init__(
        self,
        client: WorkspaceClient,
        filters: TaskFilter,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self._client = client
        self._filters = filters
        self._on_progress = on_progress
        self.complete = False
        self.total_count = 0
        self.requests = 0
        self.problems: list[str] = []

    def __aiter__(self) -> AsyncIterator[ScheduledTask]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[ScheduledTask]:
        seen: set[str] = set()
        for pass_number in (1, 2):
            outcome = _PassOutcome()
            async for task in self._one_pass(outcome, first_pass=pass_number == 1):
                if task.id not in seen:
                    seen.add(task.id)
                    yield task
            self.total_count = outcome.latest_total
            if outcome.failed:
                self.complete = False
                return
            if outcome.held_still:
                self.complete = True
                self._client._compare_total(self._filters, outcome.latest_total, len(outcome.ids))
                return
            log.info(
                "poll.listing_inconsistent",
                filters=self._filters.params(),
                totals=sorted(outcome.totals),
                distinct=len(outcome.ids),
                pass_number=pass_number,
            )
        self.problems.append(
            f"the listing did not hold still: total_count changed between pages ({sorted(outcome.totals)}), "
            "so the list changed while paging"
        )

    async def _one_pass(self, outcome: _PassOutcome, *, first_pass: bool) -> AsyncIterator[ScheduledTask]:
        """Page 0, then the pages `total_count` announces (concurrently), then, while the last page came back
        full, the next ones one by one: the listing ends on a short page, whatever `total_count` said."""
        client = self._client
        try:
            first = await client._list_page(self._filters, 0)
        except WorkspaceError as exc:
            self.requests += 1
            if first_pass:
                raise
            outcome.fail(self.problems, 0, exc)
            return
        self.requests += 1
        outcome.add_page(0, first)
        pages = max(1, -(-first.total_count // PAGE_LIMIT))
        done = 1
        if self._on_progress:
            self._on_progress(done, pages)
        for task in first.tasks:
            yield task
        offsets = range(PAGE_LIMIT, first.total_count, PAGE_LIMIT)
        pending = [asyncio.ensure_future(self._fetch_offset(offset)) for offset in offsets]
        try:
            for next_done in asyncio.as_completed(pending):
                offset, result = await next_done
                self.requests += 1
                done += 1
                if self._on_progress:
                    self._on_progress(done, pages)
                if isinstance(result, WorkspaceError):
                    outcome.fail(self.problems, offset, result)
                    continue
                outcome.add_page(offset, result)
                for task in result.tasks:
                    yield task
        finally:
            for future in pending:
                future.cancel()
        # total_count said fewer than there are: page on until a short page (bounded like total_count is).
        while (
            not outcome.failed
            and outcome.last_page_full
            and outcome.last_offset + PAGE_LIMIT < MAX_TOTAL_COUNT
        ):
            offset = outcome.last_offset + PAGE_LIMIT
            offset, result = await self._fetch_offset(offset)
            self.requests += 1
            done += 1
            if self._on_progress:
                self._on_progress(done, max(pages, done))
            if isinstance(result, WorkspaceError):
                outcome.fail(self.problems, offset, result)
                break
            outcome.add_page(offset, result)
            for task in result.tasks:
                yield task
        if outcome.last_page_full and not outcome.failed:
            outcome.fail_with(self.problems, f"more than {MAX_TOTAL_COUNT} tasks: stopped paging")

    async def _fetch_offset(self, offset: int) -> tuple[int, _Page | WorkspaceError]:
        try:
            return offset, await self._client._list_page(self._filters, offset)
        except WorkspaceError as exc:
            return offset, exc


@dataclass
class _Page:
    tasks: list[ScheduledTask]
    total_count: int
    #: Entries the API sent that could not be read as tasks (logged, and the listing is not complete).
    rejected: int = 0

    @property
    def size(self) -> int:
        return len(self.tasks) + self.rejected


@dataclass
class _PassOutcome:
    totals: set[int] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)
    latest_total: int = 0
    failed: bool = False
    #: The page at the highest offset so far, and whether it came back full (then there may be more).
    last_offset: int = -1
    last_page_full: bool = False

    def add_page(self, offset: int, page: _Page) -> None:
        self.totals.add(page.total_count)
        self.latest_total = page.total_count
        self.ids.update(task.id for task in page.tasks)
        if page.rejected:
            self.failed = True
        if offset > self.last_offset:
            self.last_offset = offset
            self.last_page_full = page.size >= PAGE_LIMIT

    def fail(self, problems: list[str], offset: int, error: WorkspaceError) -> None:
        self.fail_with(problems, f"page at offset {offset}: {error}")

    def fail_with(self, problems: list[str], problem: str) -> None:
        self.failed = True
        problems.append(problem)

    @property
    def held_still(self) -> bool:
        """Every page told the same total_count: the list did not change while it was paged."""
        return len(self.totals) <= 1


class WorkspaceClient:
    """Talks to one project's Workspace endpoint. Use as `async with`, or call `aclose()`."""

    def __init__(
        self,
        *,
        endpoint: str,
        project_id: str,
        auth: Auth,
        concurrency: int = 4,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: ssl.SSLContext | bool | str = True,
        closing: Iterable[httpx.AsyncClient] = (),
        observer: Callable[[str, str], None] | None = None,
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(
                f"workspace endpoint {endpoint!r} is not an http(s) URL",
                hint="set workspace.endpoint like https://workspace.cn-north-4.myhuaweicloud.com",
            )
        if not project_id:
            raise ConfigurationError(
                "no project id", hint="set workspace.project_id or HUAWEICLOUD_SDK_PROJECT_ID"
            )
        if concurrency < 1:
            raise ConfigurationError("workspace.concurrency must be at least 1")
        self.endpoint = f"{parts.scheme}://{parts.netloc}"
        self.project_id = project_id
        self._host = parts.netloc
        self._base_path = parts.path.rstrip("/")
        self._auth = auth
        self._retry = retry or RetryPolicy()
        self._slots = asyncio.Semaphore(concurrency)
        self._throttled_until = 0.0
        # 429s in a row without Retry-After, and when the latest pause was set: a 429 to a request that went
        # out before that (one of several in flight) does not lengthen the pause again.
        self._throttle_streak = 0
        self._throttle_set_at = float("-inf")
        # Clients that belong to this one (the IAM token client) and close with it.
        self._closing = list(closing)
        # Told (endpoint, status) of every answer, or "error" when none came, or "anomaly:<what>" for an
        # answer that disagrees with itself (see `_compare_total`): the metrics hook.
        self._observe = observer or (lambda endpoint, status: None)
        # The (total_count, tasks listed) of each filter whose count disagrees, to log each change once.
        self._disagreements: dict[tuple[tuple[str, str], ...], tuple[int, int]] = {}
        #: The most one request may take, start to finish (httpx's own timeouts are per step).
        self._deadline = timeout
        self._http = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            verify=verify,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )

    async def __aenter__(self) -> WorkspaceClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        for other in self._closing:
            await other.aclose()

    # -- the API --------------------------------------------------------------------------------------

    def list_tasks(
        self, filters: TaskFilter | None = None, *, on_progress: Callable[[int, int], None] | None = None
    ) -> TaskListing:
        """Every task matching `filters`, across all pages; see `TaskListing`."""
        return TaskListing(self, filters or TaskFilter(), on_progress)

    async def fetch_tasks(
        self, filters: TaskFilter | None = None, *, on_progress: Callable[[int, int], None] | None = None
    ) -> Listing:
        """`list_tasks` collected into a `Listing`."""
        listing = self.list_tasks(filters, on_progress=on_progress)
        tasks = [task async for task in listing]
        return Listing(tasks, listing.complete, listing.total_count, listing.requests, listing.problems)

    async def fetch_many(
        self,
        filters: Sequence[TaskFilter],
        *,
        on_progress: Callable[[int, int, int], None] | None = None,
    ) -> Listing:
        """Several listings side by side (sharing the concurrency bound), merged by task id.

        `on_progress(index, pages_done, pages)` reports each listing's paging by its index in `filters`.
        """

        def progress_of(index: int) -> Callable[[int, int], None] | None:
            if on_progress is None:
                return None
            return lambda done, pages: on_progress(index, done, pages)

        listings = await asyncio.gather(
            *(self.fetch_tasks(f, on_progress=progress_of(i)) for i, f in enumerate(filters))
        )
        return Listing(
            _merge(listing.tasks for listing in listings),
            all(listing.complete for listing in listings),
            sum(listing.total_count for listing in listings),
            sum(listing.requests for listing in listings),
            [problem for listing in listings for problem in listing.problems],
        )

    async def fetch_failing(self, base: TaskFilter | None = None) -> Listing:
        """Every FAIL and SKIP task. Triggered (LIFE_CYCLE) tasks are listed only when asked for by name, so
        unless `base` fixes a scheduled type they get listings of their own, all running side by side."""
        base = base or TaskFilter()
        schedules = [base.scheduled_type] if base.scheduled_type else [None, "LIFE_CYCLE"]
        return await self.fetch_many(
            [
                replace(base, last_status=status, scheduled_type=schedule)
                for status in ("FAIL", "SKIP")
                for schedule in schedules
            ]
        )

    async def probe(self) -> int:
        """One `limit=1` listing: the cheapest request that proves the credentials, region, endpoint and
        project id (and the IAM permission to list) work together. The project's task count."""
        params = [("offset", "0"), ("limit", "1")]
        data = await self._request(LIST_ENDPOINT, self._path("scheduled-tasks"), params)
        _list_field(data, "scheduled_tasks", LIST_ENDPOINT)
        total = data.get("total_count")
        return total if type(total) is int and total >= 0 else 0

    async def get_task(self, task_id: str) -> TaskDetail:
        data = await self._request(SHOW_ENDPOINT, self._path("scheduled-tasks", task_id))
        return _parse(TaskDetail, data, SHOW_ENDPOINT)

    async def list_records(self, task_id: str, *, limit: int = 10) -> list[ExecutionRecord]:
        """The task's latest executions, newest first."""
        params = [("offset", "0"), ("limit", str(min(max(limit, 1), RECORDS_LIMIT)))]
        data = await self._request(
            RECORDS_ENDPOINT, self._path("scheduled-tasks", task_id, "records"), params
        )
        items = _list_field(data, "tasks_records", RECORDS_ENDPOINT)
        records = [_parse(ExecutionRecord, item, RECORDS_ENDPOINT) for item in items]
        # The API sends newest first; sorting (stable, unknown times last) keeps that true if it ever doesn't.
        return sorted(
            records, key=lambda r: r.started_at.timestamp() if r.started_at else float("-inf"), reverse=True
        )

    async def list_record_details(
        self,
        task_id: str,
        record_id: str,
        *,
        limit: int = MAX_RECORD_DETAILS,
        enough: Callable[[Sequence[RecordDetail]], bool] | None = None,
    ) -> list[RecordDetail]:
        """Per-desktop outcomes of one execution: the first `limit` desktops, paged by `offset` (the API
        answers at most 100 a page) until a short page, `limit`, or `enough(details so far)` says so."""
        limit = min(max(limit, 1), MAX_RECORD_DETAILS)
        path = self._path("scheduled-tasks", task_id, "records", record_id)
        details: list[RecordDetail] = []
        while len(details) < limit:
            size = min(RECORDS_LIMIT, limit - len(details))
            params = [("offset", str(len(details))), ("limit", str(size))]
            data = await self._request(DETAILS_ENDPOINT, path, params)
            items = _list_field(data, "tasks_records_details", DETAILS_ENDPOINT)
            details.extend(_parse(RecordDetail, item, DETAILS_ENDPOINT) for item in items[:size])
            if len(items) < size or (enough is not None and enough(details)):
                break
        return details

    # -- writes: never sent twice unless certainly not taken ------------------------------------------

    async def desktop_action(
        self, desktop_ids: Sequence[str], op_type: str, *, power_type: str = "SOFT"
    ) -> DesktopActionResult:
        """Start, stop, reboot or hibernate desktops (`op_type` one of OP_TYPES, `power_type` SOFT or HARD).

        The answer names the job to follow (`get_job`) and the desktops refused outright. Raises
        OutcomeUnknownError when it may have run without an answer; see `_write`."""
        from monitor.workspace.actions import OP_TYPES, POWER_TYPES, DesktopActionResult

        if op_type not in OP_TYPES:
            raise ValueError(f"op_type must be one of {', '.join(OP_TYPES)}")
        if power_type not in POWER_TYPES:
            raise ValueError(f"power_type must be one of {', '.join(POWER_TYPES)}")
        if not desktop_ids:
            raise ValueError("no desktops to act on")
        body = {"desktop_ids": list(desktop_ids), "op_type": op_type, "type": power_type}
        data = await self._write(ACTION_ENDPOINT, self._path("desktops", "action"), body)
        try:
            return _parse(DesktopActionResult, data, ACTION_ENDPOINT)
        except MalformedResponseError as exc:
            raise _outcome_unknown(ACTION_ENDPOINT, exc) from None

    async def get_job(self, job_id: str) -> Job:
        """A job's state and its per-desktop sub jobs (a read: retried as every read is)."""
        from monitor.workspace.actions import Job

        data = await self._request(JOB_ENDPOINT, self._path("workspace-jobs", job_id))
        return _parse(Job, data, JOB_ENDPOINT)

    async def retry_script_execution(self, task_id: str, record_id: str) -> str:
        """Run a script execution again on the desktops it failed on: `task_id` is the scheduled-task
        record's `execute_task_id`. The script task's id, as the API answers it."""
        body = {"task_id": task_id, "record_id": record_id}
        data = await self._write(SCRIPT_RETRY_ENDPOINT, self._path("script-executions", "retry"), body)
        answered = data.get("task_id")
        if not isinstance(answered, str) or not answered:
            problem = MalformedResponseError(
                "task_id is missing or not a string", endpoint=SCRIPT_RETRY_ENDPOINT
            )
            raise _outcome_unknown(SCRIPT_RETRY_ENDPOINT, problem)
        return answered

    async def list_script_records(self, script_task_id: str, *, limit: int = 100) -> list[ScriptRecord]:
        """The per-desktop records of one script execution task (without output)."""
        from monitor.workspace.actions import ScriptRecord

        params = [
            ("offset", "0"),
            ("limit", str(min(max(limit, 1), RECORDS_LIMIT))),
            ("script_task_id", script_task_id),
        ]
        data = await self._request(SCRIPT_RECORDS_ENDPOINT, self._path("script-execution-records"), params)
        items = _list_field(data, "script_records", SCRIPT_RECORDS_ENDPOINT)
        return [_parse(ScriptRecord, item, SCRIPT_RECORDS_ENDPOINT) for item in items]

    async def get_script_record(self, record_id: str) -> ScriptRecord:
        """One desktop's script record with its `output`: its last MAX_OUTPUT characters (other text is
        clipped as always)."""
        from monitor.workspace.actions import ScriptRecord

        data = await self._request(SCRIPT_RECORD_ENDPOINT, self._path("script-execution-records", record_id))
        return _parse(ScriptRecord, data, SCRIPT_RECORD_ENDPOINT)

    async def _write(self, endpoint: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One signed POST that is never sent twice once the API may have taken it.

        Sent again only when it certainly was not taken: a 429 (the gateway refused it before the service
        saw it; up to `RetryPolicy.attempts` times, waiting the client's throttle pause), an expired token's
        401 (in `_send`), or a connection that never opened. A timeout, a reset or a 5xx raise
        OutcomeUnknownError ("may have run, check the job"); a 403 raises PermissionDeniedError naming the
        IAM action to grant; an answer that cannot be read is OutcomeUnknownError too."""
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        attempts = 0
        while True:
            attempts += 1
            try:
                data = await self._send(endpoint, path, [], method="POST", body=raw)
            except RateLimitedError:
                if attempts >= self._retry.attempts:
                    raise
                log.info("api.write_throttled", endpoint=endpoint, attempt=attempts)
                continue
            except TransportError as exc:
                if not exc.sent and attempts < self._retry.attempts:
                    log.info("api.write_unsent", endpoint=endpoint, attempt=attempts)
                    continue
                if not exc.sent:
                    raise
                log.warning("api.write_outcome_unknown", endpoint=endpoint, error=exc.message)
                raise OutcomeUnknownError(
                    f"no answer ({exc.message}): it may have run, check the job", cause=exc, endpoint=endpoint
                ) from None
            except MalformedResponseError as exc:
                # Something answered, but not as the API does (a proxy's page, a cut or unreadable body):
                # whether the service took the request cannot be told from it.
                raise _outcome_unknown(endpoint, exc) from None
            except ServerError as exc:
                log.warning("api.write_outcome_unknown", endpoint=endpoint, status=exc.status)
                raise OutcomeUnknownError(
                    f"HTTP {exc.status} ({exc.message}): it may have run, check the job",
                    cause=exc,
                    endpoint=endpoint,
                ) from None
            except AuthError as exc:
                if exc.status != 403:
                    raise
                from monitor.workspace.actions import IAM_ACTIONS

                named = _IAM_ACTION.search(exc.message)
                action = named.group(0) if named else IAM_ACTIONS.get(endpoint, endpoint)
                raise PermissionDeniedError(
                    f"not allowed to {endpoint} ({exc.message}): the IAM user needs {action}",
                    action=action,
                    endpoint=endpoint,
                    status=exc.status,
                    error_code=exc.error_code,
                ) from None
            log.info("api.write_done", endpoint=endpoint, attempts=attempts)
            return data

    # -- internals ------------------------------------------------------------------------------------

    def _path(self, *segments: str) -> str:
        # An id is one path segment whatever it holds: `/` is escaped, and `.` or `..` (which URL
        # normalisation would resolve: `script-execution-records/..` asks `GET /v2/{project_id}`) or an
        # id longer than any the API gives names nothing: refused before any request is sent.
        for segment in segments:
            if segment in ("", ".", "..") or len(segment) > MAX_ID_LENGTH:
                raise NotFoundError(f"{segment[:40]!r} is not an id the API could know; nothing was asked")
        quoted = "/".join(quote(s, safe="") for s in ("v2", self.project_id, *segments))
        return f"{self._base_path}/{quoted}"

    def _compare_total(self, filters: TaskFilter, total: int, distinct: int) -> None:
        """Log a total_count that disagrees with the tasks listed, once per change; count every one."""
        key = tuple(filters.params())
        if total == distinct:
            if self._disagreements.pop(key, None) is not None:
                log.info("poll.total_count_agrees", filters=list(key), total_count=total)
            return
        self._observe(LIST_ENDPOINT, "anomaly:total_count")
        if self._disagreements.get(key) != (total, distinct):
            self._disagreements[key] = (total, distinct)
            log.warning(
                "poll.total_count_disagrees",
                filters=list(key),
                total_count=total,
                listed=distinct,
                effect="none: the listing ended on a short page and is complete",
            )

    async def _list_page(self, filters: TaskFilter, offset: int) -> _Page:
        params = [("offset", str(offset)), ("limit", str(PAGE_LIMIT)), *filters.params()]
        started = time.monotonic()
        data = await self._request(LIST_ENDPOINT, self._path("scheduled-tasks"), params)
        items = _list_field(data, "scheduled_tasks", LIST_ENDPOINT)
        total = data.get("total_count")
        if type(total) is not int or total < 0:
            raise MalformedResponseError(
                f"total_count is {_short(repr(total))}, not a non-negative integer", endpoint=LIST_ENDPOINT
            )
        if total > MAX_TOTAL_COUNT:
            raise MalformedResponseError(
                f"total_count is {total}, more than the {MAX_TOTAL_COUNT} tasks this client pages through",
                endpoint=LIST_ENDPOINT,
            )
        tasks: list[ScheduledTask] = []
        rejected = 0
        for index, item in enumerate(items):
            try:
                tasks.append(ScheduledTask.model_validate(item))
            except ValidationError as exc:
                rejected += 1
                log.warning(
                    "poll.task_unreadable",
                    endpoint=LIST_ENDPOINT,
                    offset=offset,
                    index=index,
                    problem=_first_problem(exc),
                )
        log.debug(
            "poll.page_fetched",
            offset=offset,
            count=len(tasks),
            total_count=total,
            seconds=round(time.monotonic() - started, 4),
        )
        return _Page(tasks, total, rejected)

    async def _request(
        self, endpoint: str, path: str, params: Iterable[tuple[str, str]] = ()
    ) -> dict[str, Any]:
        params = list(params)
        policy = self._retry
        async for attempt in stamina.retry_context(
            on=self._retry_hook,
            attempts=policy.attempts,
            timeout=policy.timeout,
            wait_initial=policy.wait_initial,
            wait_max=policy.wait_max,
            wait_jitter=policy.wait_jitter,
        ):
            with attempt:
                if attempt.num > 1:
                    log.info("api.retry", endpoint=endpoint, attempt=attempt.num)
                return await self._send(endpoint, path, params)
        raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover

    def _retry_hook(self, exc: Exception) -> bool | float:
        if isinstance(exc, RateLimitedError):
            # The pause is the client's (`_throttled_until`), waited in `_send` by every request alike.
            return 0.0
        return isinstance(exc, RetryableError)

    async def _send(
        self,
        endpoint: str,
        path: str,
        params: list[tuple[str, str]],
        *,
        method: str = "GET",
        body: bytes = b"",
    ) -> dict[str, Any]:
        refreshed = False
        while True:
            await self._wait_for_throttle()
            async with self._slots:
                if self._throttled_until > time.monotonic():
                    continue  # a pause began while this request waited for its slot
                window = self._throttle_set_at
                response = await self._send_once(endpoint, path, params, method=method, body=body)
            self._note_throttling(response, window)
            # A 401 is the gateway's: the request went no further, so even a write may be sent again.
            if response.status_code == 401 and _token_expired(response) and not refreshed:
                refreshed = True
                if await self._auth.refresh():
                    log.info("api.token_refreshed", endpoint=endpoint)
                    continue
            return self._interpret(endpoint, response)

    def _note_throttling(self, response: _Answer, window: float) -> None:
        """A 429 pauses every request of this client: for Retry-After when given (capped), else for an
        exponential backoff with jitter (`throttle_pause`); any other answer ends the streak. `window` is
        when the latest pause was set as the request went out."""
        if response.status_code != 429:
            self._throttle_streak = 0
            return
        now = time.monotonic()
        retry_after = _retry_after(response)
        if retry_after is not None:
            # Capped as the retry wait is: a server (or a proxy) saying "Retry-After: 99999999" must not
            # stop every later request of this client for years.
            pause = min(retry_after, self._retry.max_retry_after)
        elif window != self._throttle_set_at:
            return  # sent before the latest pause began (one of several in flight): that pause answers it
        else:
            self._throttle_streak += 1
            pause = throttle_pause(self._throttle_streak, self._retry, random.random())  # noqa: S311
            log.info("api.throttled", pause=round(pause, 3), streak=self._throttle_streak)
        self._throttle_set_at = now
        self._throttled_until = max(self._throttled_until, now + pause)

    async def _wait_for_throttle(self) -> None:
        # A 429 pauses every request of this client, not just the one that got it: that is what
        # "politely" means to a rate limiter that counts per API.
        delay = self._throttled_until - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _send_once(
        self,
        endpoint: str,
        path: str,
        params: list[tuple[str, str]],
        *,
        method: str = "GET",
        body: bytes = b"",
    ) -> _Answer:
        request = OutgoingRequest(
            method=method,
            host=self._host,
            path=path,
            params=params,
            headers={"Host": self._host, "Content-Type": "application/json", "User-Agent": USER_AGENT},
            body=body,
        )
        query = signer.canonical_query(params)
        url = f"{self.endpoint}{path}" + (f"?{query}" if query else "")
        signed = False
        streamed: httpx.Response | None = None
        try:
            # httpx's timeouts are per step (connect, each chunk read): a server sending one byte every few
            # seconds never trips them. The whole exchange (an IAM token fetch included) has this long.
            async with asyncio.timeout(self._deadline):
                await self._auth.apply(request)
                signed = True
                headers = {**request.headers, **ACCEPT_ENCODING}
                outgoing = self._http.build_request(method, url, headers=headers, content=body or None)
                streamed = await self._http.send(outgoing, stream=True)
                try:
                    body = await read_capped(streamed, endpoint)
                finally:
                    await streamed.aclose()
        except TimeoutError:
            self._observe(endpoint, "error")
            if not signed:
                unsent = TransportError(
                    f"no IAM token within {self._deadline:g} s (IAM answers too slowly)",
                    endpoint=endpoint,
                    hint="check workspace.iam_endpoint and the network",
                )
                unsent.sent = False
                raise unsent from None
            raise TransportError(
                f"no complete answer within {self._deadline:g} s (the API answers too slowly)",
                endpoint=endpoint,
            ) from None
        except httpx.TimeoutException as exc:
            self._observe(endpoint, "error")
            timed_out = TransportError(f"timed out ({type(exc).__name__})", endpoint=endpoint)
            timed_out.sent = not isinstance(exc, httpx.ConnectTimeout)
            raise timed_out from None
        except httpx.TransportError as exc:
            self._observe(endpoint, "error")
            unreachable = TransportError(
                f"cannot reach {self._host}: {type(exc).__name__} {_short(str(exc))}",
                endpoint=endpoint,
                hint="check workspace.region / workspace.endpoint and the network",
            )
            unreachable.sent = not isinstance(exc, httpx.ConnectError)
            raise unreachable from None
        except MalformedResponseError:
            if streamed is not None:  # not IAM's answer, the API's
                self._observe(endpoint, str(streamed.status_code))
            raise
        assert streamed is not None  # sent, or an exception above
        self._observe(endpoint, str(streamed.status_code))
        return _Answer(streamed.status_code, streamed.headers, body)

    def _interpret(self, endpoint: str, response: _Answer) -> dict[str, Any]:
        status = response.status_code
        code = _error_code(response)
        message = _error_message(response)
        if status == 429:
            retry_after = _retry_after(response)
            raise RateLimitedError(
                message or "throttled",
                endpoint=endpoint,
                status=status,
                error_code=code,
                retry_after=retry_after,
                body=response.text[:2000],
            )
        if status >= 500:
            raise ServerError(
                message or _describe_body(response), endpoint=endpoint, status=status, error_code=code
            )
        if status in (401, 403):
            raise AuthError(
                message or "authentication rejected",
                endpoint=endpoint,
                status=status,
                error_code=code,
                hint=self._auth.rejected_hint(),
            )
        if code is not None and code.startswith(_UNPUBLISHED_API):
            # API Gateway's "the API does not exist or has not been published": the wrong region or endpoint.
            # Never "not found": closing alerts because the endpoint is wrong would be a silent disaster.
            why = message or "the API is not published there"
            raise ConfigurationError(
                f"Workspace API unreachable at {self.endpoint}: {why}",
                endpoint=endpoint,
                status=status,
                error_code=code,
                hint=_ENDPOINT_HINT,
            )
        if status == 404 and code is None:
            raise ConfigurationError(
                f"Workspace API unreachable at {self.endpoint}: HTTP 404, and the answer is not the "
                "Workspace API's",
                endpoint=endpoint,
                status=status,
                hint=_ENDPOINT_HINT,
            )
        if status == 404 or (status == 400 and is_not_found_message(message)):
            raise NotFoundError(message or "not found", endpoint=endpoint, status=status, error_code=code)
        if status >= 400:
            raise RequestError(
                message or _describe_body(response), endpoint=endpoint, status=status, error_code=code
            )
        if status != 200:
            raise MalformedResponseError(
                f"unexpected HTTP {status}",
                endpoint=endpoint,
                status=status,
                hint="is workspace.endpoint a Workspace endpoint?",
            )
        return _json_object(response, endpoint)


class _Answer:
    """An answer as `_interpret` reads it: its status, its headers as they came, and its body as `read_capped`
    decoded it. Not a second `httpx.Response`: building one parsed the headers and the body again on every
    request, for the few error paths that read `text` (bench/findings.md)."""

    __slots__ = ("_text", "content", "headers", "status_code")

    def __init__(self, status_code: int, headers: httpx.Headers, content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self._text: str | None = None

    def json(self) -> Any:
        return parse_json(self.content)

    @property
    def text(self) -> str:
        """The body as httpx decodes text (the charset the answer names, else UTF-8; errors replaced)."""
        if self._text is None:
            # The body is decoded already: the headers that describe its transfer must not apply again.
            kept = [(k, v) for k, v in self.headers.multi_items() if k.lower() not in DECODED_HEADERS]
            self._text = httpx.Response(self.status_code, headers=kept, content=self.content).text
        return self._text


def parse_json(raw: bytes) -> Any:
    """`json.loads(raw)`, by pydantic-core's parser where it can (half the time on a page of tasks:
    bench/findings.md). What that parser refuses and json.loads takes (a lone surrogate escape, a BOM,
    UTF-16, nesting past its depth) goes to json.loads, which parses or refuses it as it always did; where
    both parse, they agree (tests/unit/test_client_json.py). Only keys are cached: values (ids, names) differ
    from page to page, and caching them cost more than it saved."""
    try:
        return pydantic_core.from_json(raw, cache_strings="keys")
    except ValueError:
        return json.loads(raw)


#: API Gateway's code for "The API does not exist or has not been published in the environment" (404).
_UNPUBLISHED_API = "APIGW.0101"
_ENDPOINT_HINT = (
    "check workspace.region / workspace.endpoint (https://workspace.REGION.myhuaweicloud.com) and that "
    "Workspace is offered in that region"
)
#: How the API says an object is gone. The API documents only 200/400/500 for the scheduled-task endpoints;
#: Huawei's Terraform provider expects a deleted task's lookup to fail with "The scheduled task does not
#: exist" and turns such 400s into 404 by their message (issue 15). A project that "does not exist" is not
#: a deleted task: that is the credentials' or the configuration's problem.
_NOT_FOUND_MESSAGE = re.compile(r"(?:does not|doesn't|not) exist|not found|no such", re.IGNORECASE)
_NOT_A_TASK = re.compile(r"project|domain|region|endpoint|\bAPI\b", re.IGNORECASE)


#: An IAM action as a denial names it ("Policy doesn't allow workspace:desktops:operate to be performed.").
_IAM_ACTION = re.compile(r"\bworkspace:[A-Za-z]+:[A-Za-z]+\b")


def is_not_found_message(message: str | None) -> bool:
    """Whether an error message says the task (or record) asked for does not exist."""
    return bool(message and _NOT_FOUND_MESSAGE.search(message) and not _NOT_A_TASK.search(message))


def _outcome_unknown(endpoint: str, exc: WorkspaceError) -> OutcomeUnknownError:
    log.warning("api.write_outcome_unknown", endpoint=endpoint, error=exc.message)
    return OutcomeUnknownError(
        f"unreadable answer ({exc.message}): it may have run, check the job", cause=exc, endpoint=endpoint
    )


def _merge(groups: Iterable[list[ScheduledTask]]) -> list[ScheduledTask]:
    merged: dict[str, ScheduledTask] = {}
    for group in groups:
        for task in group:
            merged.setdefault(task.id, task)
    return list(merged.values())


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe_body(response: _Answer) -> str:
    content_type = response.headers.get("Content-Type", "")
    if "html" in content_type or response.text.lstrip().lower().startswith(("<!doctype", "<html")):
        return "answered with an HTML page instead of JSON"
    return _short(response.text.strip()) or "empty answer"


def _error_body(response: _Answer) -> dict[str, Any] | None:
    try:
        data = _decoded_json(response)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


#: A JSON escape of a UTF-16 surrogate or of NUL, or a surrogate written as UTF-8 bytes (ED A0-BF: not valid
#: UTF-8, but json.loads decodes it, "surrogatepass"): the only ways into a string of characters that cannot
#: be stored (a lone surrogate is not UTF-8; PostgreSQL text refuses NUL) or posted. Two patterns, each
#: found by its first byte: one pattern of both alternatives was tried at every byte (9x slower a page).
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:[dD][89a-fA-F][0-9a-fA-F]{2}|0000)")
_SURROGATE_BYTES = re.compile(rb"\xed[\xa0-\xbf]")
#: Pairs were joined into one character by the JSON decoder: a surrogate left in a string is a lone one.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _decoded_json(response: _Answer) -> Any:
    """The parsed body, with lone surrogates (`"\\ud800"`) and NUL replaced by U+FFFD (otherwise a task
    named so fails every later cycle that meets it, when its alert is stored), and text longer than
    MAX_TEXT cut (`clip_text`). Both are looked for first: most answers have neither, and are not copied."""
    data = response.json()
    if _UNSTORABLE_ESCAPE.search(response.content) or _SURROGATE_BYTES.search(response.content):
        data = _replace_unstorable(data)
    tails = _long_tails(data)
    if tails:
        data = {**data, **dict.fromkeys(tails, "")}
    # A string of more than MAX_TEXT characters takes more than MAX_TEXT bytes of the body (a character is at
    # least one byte, an escape more): a shorter answer holds none and is not walked.
    if len(response.content) > MAX_TEXT and has_long_text(data):
        data = clip_text(data)
    if tails:
        data = {**data, **tails}
    return data


#: Top-level text whose end is what matters - a script's `output` (`get_script_record`): a script fails at
#: its end - kept as its last MAX_OUTPUT characters rather than cut to its first MAX_TEXT.
MAX_OUTPUT = 20_000
_TAIL_FIELDS = ("output",)


def _long_tails(data: Any) -> dict[str, str]:
    if not isinstance(data, dict):
        return {}
    tails = {}
    for key in _TAIL_FIELDS:
        value = data.get(key)
        if isinstance(value, str) and len(value) > MAX_TEXT:
            tails[key] = value if len(value) <= MAX_OUTPUT else "…" + value[-(MAX_OUTPUT - 1) :]
    return tails


def _replace_unstorable(value: Any) -> Any:
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_replace_unstorable(item) for item in value]
    if isinstance(value, dict):
        return {_replace_unstorable(k): _replace_unstorable(v) for k, v in value.items()}
    return value


def _error_code(response: _Answer) -> str | None:
    if response.status_code < 400:
        return None
    body = _error_body(response)
    code = body.get("error_code") if body else None
    return code if isinstance(code, str) else None


def _error_message(response: _Answer) -> str | None:
    if response.status_code < 400:
        return None
    body = _error_body(response)
    message = body.get("error_msg") if body else None
    return _short(message) if isinstance(message, str) else None


#: API Gateway's "The token must be updated" (an IAM token past its expiry).
_TOKEN_EXPIRED_CODE = "APIGW.0307"  # noqa: S105 - an error code, not a secret
#: "Incorrect IAM authentication information" covers expired tokens too; its message then says so.
_BAD_AUTH_CODE = "APIGW.0301"
_EXPIRED_MESSAGE = re.compile(r"expire", re.IGNORECASE)


def _token_expired(response: _Answer) -> bool:
    """A 401 that says the token expired: APIGW.0307, or APIGW.0301 whose message says "expired" (then a
    fresh token may help; any other rejection is the credentials' fault and refreshing would not)."""
    code = _error_code(response)
    if code == _TOKEN_EXPIRED_CODE:
        return True
    return code == _BAD_AUTH_CODE and bool(_EXPIRED_MESSAGE.search(_error_message(response) or ""))


def _retry_after(response: _Answer) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    # "inf" and "nan" parse as floats; neither is a wait anybody can honour.
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _json_object(response: _Answer, endpoint: str) -> dict[str, Any]:
    try:
        data = _decoded_json(response)
    except ValueError:
        raise MalformedResponseError(
            f"the answer is not JSON: {_describe_body(response)}",
            endpoint=endpoint,
            status=response.status_code,
            hint="is workspace.endpoint a Workspace endpoint, and no proxy in between?",
        ) from None
    if not isinstance(data, dict):
        raise MalformedResponseError(
            f"expected a JSON object, got {type(data).__name__}",
            endpoint=endpoint,
            status=response.status_code,
        )
    return data


def _list_field(data: dict[str, Any], name: str, endpoint: str) -> list[Any]:
    value = data.get(name)
    if not isinstance(value, list):
        found = "missing" if value is None else f"a {type(value).__name__}"
        raise MalformedResponseError(f"{name} is {found}, not a list", endpoint=endpoint)
    return value


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "body"
    return f"{where}: {error['msg']}"


def _parse(model: type[ModelT], data: Any, endpoint: str) -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise MalformedResponseError(
            f"unexpected answer ({_first_problem(exc)})", endpoint=endpoint
        ) from None
