"""Retrying an alert's failed desktops from Slack: what its button and `/tasks retry` do (access checked).

    prepare_retry(alert, ...)   reads what a retry needs (the alert, its task's type, the failed execution
                                and its desktops) and plans it (`workspace.redo.plan_redo`); or says why not
    retry_prompt(...)           `/tasks retry`: the plan and the button with its confirm, ephemerally
    begin_retry(...)            the button: claims the retry in the store (two clicks, two people or two
                                replicas: one wins, `Store.claim_action` per (alert, record)), sends the one
                                write (`workspace.redo.start_redo`, never repeated), and gives back the answer
                                for the clicker and the follow-up to run after it is sent
    the follow-up               follows the job (`workspace.jobs.follow_job`, bounded) or the script's
                                records, and says the outcome in the alert's thread: desktops that failed
                                again by name with their reasons; "still running" after the bound

While it runs the alert's message carries a "retry running" line (a block of ours, `MARK_BLOCK_ID`, added to
the message as it reads now and removed afterwards; reading it needs `channels:history`/`groups:history`,
without them the message the button was pressed on is used, and `/tasks retry` shows no mark; a digest is
never marked: the line would not say which of its alerts is meant). A monitor stopping while it follows a
job says so in the thread and takes the line off. A retry is not a recovery: the next poll decides, as ever.
A write whose answer was lost (`OutcomeUnknownError`) is never sent again: the thread says "may have run,
check the job" and the claim stays until it expires, so nobody repeats it by accident. A refused write (IAM,
a bad request) releases the claim: nothing ran.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from monitor.chatops.access import Caller
from monitor.decide import AlertStatus
from monitor.slack.actions import RETRY_ACTION_ID
from monitor.slack.alert import RETRY_LABEL, retry_confirm_text
from monitor.slack.blocks import Block, actions, button, confirm_dialog, context, section
from monitor.slack.message import SlackMessage
from monitor.slack.mrkdwn import user_text
from monitor.store import Store
from monitor.workspace.actions import DesktopFailure, ScriptRecord
from monitor.workspace.client import WorkspaceClient
from monitor.workspace.errors import (
    OutcomeUnknownError,
    PermissionDeniedError,
    WorkspaceError,
)
from monitor.workspace.jobs import JobOutcome, follow_job
from monitor.workspace.models import TaskDetail
from monitor.workspace.redo import (
    NoRedo,
    PowerRedo,
    RedoStarted,
    ScriptRedo,
    claim_key,
    plan_redo,
    start_redo,
)

__all__ = [
    "MARK_BLOCK_ID",
    "NoRetry",
    "Planned",
    "Retrier",
    "RetryStart",
    "begin_retry",
    "prepare_retry",
    "retry_prompt",
]

log = structlog.get_logger(__name__)

MARK_BLOCK_ID = "retry_running"
#: Desktops named one by one in a thread reply (each line at most ~220 characters, so a reply stays within
#: a section's 3,000); the rest are counted.
NAMED_DESKTOPS = 10
_REASON = 150
#: How long a stopping monitor spends saying that a retry's outcome will not be followed.
_STOP_NOTE_SECONDS = 5.0
_UNFINISHED_SCRIPT = frozenset({"RUNNING", "WAITING", "INIT", "PENDING"})


@dataclass
class Retrier:
    """Retries are on (`slack.actions: [retry]`): the client that writes, and how long to follow a job."""

    client: WorkspaceClient
    #: Seconds between job lookups, and how many lookups at most (5 s x 60: five minutes).
    interval: float = 5.0
    checks: int = 60
    #: How long a claim holds: beyond the follow-up's bound, so a retry whose job is still being followed
    #: (or whose answer was lost) cannot be started again by a second click.
    claim_ttl: timedelta = timedelta(minutes=15)
    sleep: Callable[[float], Awaitable[object]] = field(default=asyncio.sleep)
    #: The project `client` reaches (its name in alerts); an alert of another project is refused, not
    #: looked up in the wrong one. None: any (one project).
    project: str | None = None


@dataclass(frozen=True)
class Planned:
    """An alert's retry, read and planned."""

    fingerprint: str
    task: TaskDetail
    record_id: str
    redo: PowerRedo | ScriptRedo
    #: desktop id -> name, of the execution's desktops (for thread replies).
    names: Mapping[str, str]

    @property
    def task_name(self) -> str:
        return self.task.task_name or self.task.id

    @property
    def desktops(self) -> int:
        return len(self.redo.desktop_ids) if isinstance(self.redo, PowerRedo) else self.redo.desktop_count

    def what(self) -> str:
        """`reboot on 3 desktops` / `the script again on 2 desktops` (our words)."""
        count = f"{self.desktops} desktop{'s' * (self.desktops != 1)}"
        if isinstance(self.redo, PowerRedo):
            return f"{self.redo.op_type} on {count}"
        return f"the script again on {count}"


@dataclass
class RetryStart:
    """What pressing the button gave: the answer for the clicker, and what to do once it is sent."""

    reply: SlackMessage
    follow: Callable[[], Awaitable[None]] | None = None
    #: For `workspace_monitor_chatops_commands_total`: ok, or why nothing was started (`NoRetry.outcome`).
    outcome: Literal["ok", "invalid", "refused"] = "ok"


@dataclass(frozen=True)
class NoRetry:
    """Why an alert has no retry, as the answer, and how it counts: invalid (it names what is not there: an
    alert not firing, a record gone or unknown) or refused (a retry this daemon does not do: another
    project's alert, a task type with no retry)."""

    reply: SlackMessage
    outcome: Literal["invalid", "refused"]


def _message(text: str, *more: Block) -> SlackMessage:
    return SlackMessage(text, [section(text), *more])


def _problem(text: str) -> SlackMessage:
    return _message(f"⚠️ {text}")


async def prepare_retry(fingerprint: str, store: Store, retrier: Retrier) -> Planned | NoRetry:
    """The retry of this alert's failed execution, or the answer saying why there is none."""
    client = retrier.client
    states = await asyncio.to_thread(store.load_alerts, [fingerprint])
    state = states.get(fingerprint)
    if state is None or state.status is not AlertStatus.FIRING:
        return NoRetry(
            _problem(f"Alert {user_text(fingerprint, 40)} is not firing; there is nothing to retry."),
            "invalid",
        )
    if retrier.project is not None and state.project != retrier.project:
        return NoRetry(
            _problem(
                f"This alert is of project {user_text(state.project, 80)}; retries from Slack reach only the "
                f"first project listed ({user_text(retrier.project, 80)}). Retry it from the console."
            ),
            "refused",
        )
    if not state.record_id:
        return NoRetry(
            _problem(
                "The alert names no execution record (the records API did not answer): nothing to retry yet."
            ),
            "invalid",
        )
    task, records = await asyncio.gather(
        client.get_task(state.task_id), client.list_records(state.task_id, limit=10)
    )
    record = next((r for r in records if r.id == state.record_id), None)
    if record is None:
        return NoRetry(
            _problem("The failed execution is no longer among the task's latest records."), "invalid"
        )
    details = await client.list_record_details(state.task_id, record.id)
    redo = plan_redo(task.task_type, record, details)
    if isinstance(redo, NoRedo):
        return NoRetry(_problem(f"No retry from Slack: {user_text(redo.why, 300)}."), "refused")
    names = {d.desktop_id: d.desktop_name or d.desktop_id for d in details if d.desktop_id}
    return Planned(fingerprint, task, record.id, redo, names)


def retry_prompt(planned: Planned) -> SlackMessage:
    """`/tasks retry`: what would be done, and the button (with its confirm) that does it."""
    name = user_text(planned.task_name, 150)
    text = (
        f"🔁 *Retry {name}?* {planned.what().capitalize()} (the desktops that failed in execution "
        f"`{user_text(planned.record_id, 64)}`). Progress and the outcome go to the alert's thread."
    )
    confirm = confirm_dialog(
        "Retry failed desktops?",
        retry_confirm_text(planned.task.task_type or "", planned.task_name, planned.desktops),
        confirm="Retry",
    )
    press = button(RETRY_LABEL, RETRY_ACTION_ID, planned.fingerprint, style="primary", confirm=confirm)
    return SlackMessage(text, [section(text), actions(press)])


# -- the alert's thread and message ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shown:
    """An alert message's text and blocks as Slack shows them."""

    text: str
    blocks: list[Block]


@dataclass
class _Thread:
    """Where a retry talks: the alert's thread (when the alert has a message), else the clicker."""

    client: AsyncWebClient
    channel: str | None
    ts: str | None
    fallback: Callable[[SlackMessage], Awaitable[None]]

    async def say(self, text: str) -> None:
        if self.channel is None or self.ts is None:
            await self.fallback(_message(text))
            return
        try:
            await self.client.chat_postMessage(
                channel=self.channel, thread_ts=self.ts, text=text, blocks=[section(text)], unfurl_links=False
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("chatops.retry_thread_failed", channel=self.channel, error=repr(exc)[:200])

    async def current(self, clicked: Mapping[str, Any] | None) -> _Shown | None:
        """The alert message as it reads now: from the history, else as clicked."""
        if self.channel is None or self.ts is None:
            return None
        try:
            answer = await self.client.conversations_history(
                channel=self.channel, latest=self.ts, oldest=self.ts, inclusive=True, limit=1
            )
            for message in answer.get("messages") or []:
                if message.get("ts") == self.ts and isinstance(message.get("blocks"), list):
                    return _Shown(str(message.get("text") or ""), list(message["blocks"]))
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.info("chatops.retry_history_unread", channel=self.channel, error=repr(exc)[:200])
        if clicked is not None and clicked.get("ts") == self.ts and isinstance(clicked.get("blocks"), list):
            return _Shown(str(clicked.get("text") or ""), list(clicked["blocks"]))
        return None

    async def replace(self, shown: _Shown) -> None:
        if self.channel is None or self.ts is None:
            return
        try:
            await self.client.chat_update(
                channel=self.channel, ts=self.ts, text=shown.text or "alert", blocks=shown.blocks
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("chatops.retry_mark_failed", channel=self.channel, error=repr(exc)[:200])


def _without_mark(shown: _Shown) -> _Shown:
    return _Shown(shown.text, [block for block in shown.blocks if block.get("block_id") != MARK_BLOCK_ID])


def _with_mark(shown: _Shown, line: str) -> _Shown:
    """The message with our "retry running" line before the buttons (or at the end)."""
    mark = {**context(line), "block_id": MARK_BLOCK_ID}
    kept = _without_mark(shown).blocks
    at = next((i for i, block in enumerate(kept) if block.get("type") == "actions"), len(kept))
    return _Shown(shown.text, [*kept[:at], mark, *kept[at:]])


# -- the button ------------------------------------------------------------------------------------------


async def begin_retry(
    fingerprint: str,
    caller: Caller,
    retrier: Retrier,
    store: Store,
    *,
    clock: Callable[[], datetime],
    slack: AsyncWebClient,
    respond: Callable[[SlackMessage], Awaitable[None]],
    clicked: Mapping[str, Any] | None = None,
) -> RetryStart:
    """Plan, claim, write once; the follow-up reports the outcome in the alert's thread (access was
    checked by the caller). `respond` reaches the clicker again when the alert has no message."""
    planned = await prepare_retry(fingerprint, store, retrier)
    if isinstance(planned, NoRetry):
        return RetryStart(planned.reply, outcome=planned.outcome)
    key = claim_key(fingerprint, planned.record_id)
    claimed = await asyncio.to_thread(store.claim_action, key, retrier.claim_ttl, clock())
    if not claimed:
        log.info("chatops.retry_already_claimed", alert=fingerprint, by=caller.user_id)
        return RetryStart(
            _message(
                "🔁 A retry of this failed run is already running (or just ran): its outcome is in the "
                "alert's thread. Nothing was started again."
            )
        )
    ref = await asyncio.to_thread(store.message_ref, fingerprint)
    thread = _Thread(slack, ref.channel if ref else None, ref.ts if ref else None, respond)
    who = user_text(caller.shown, 80)
    await thread.say(f"🔁 *Retry* asked by {who}: {planned.what()} ({_names(planned)}).")
    # A digest shows many alerts: a line there would not say which one is being retried.
    original = await thread.current(clicked) if ref is not None and ref.digest is not True else None
    if original is not None:
        await thread.replace(_with_mark(original, f"🔁 Retry running: {planned.what()}, asked by {who}"))
    try:
        started = await start_redo(retrier.client, planned.redo)
    except OutcomeUnknownError as exc:
        # Never sent again: the claim stays until it expires so that nobody repeats it by accident.
        log.warning("chatops.retry_outcome_unknown", alert=fingerprint, error=str(exc)[:300])
        text = (
            f"⚠️ The retry's request got no clear answer ({user_text(str(exc.cause), 300)}): it *may have "
            "run, check the job* (or the desktops) before asking again. It was not sent again."
        )
        await _finish(thread, original, text)
        return RetryStart(_message(text))
    except WorkspaceError as exc:
        await asyncio.to_thread(store.release_action, key)  # refused: nothing ran
        log.warning("chatops.retry_refused", alert=fingerprint, error=str(exc)[:300])
        if isinstance(exc, PermissionDeniedError):
            text = (
                f"🚫 The retry was refused: the IAM user lacks `{user_text(exc.action, 80)}`. Grant it (the "
                "README's *Fixing from Slack* has the policy) or turn retries off. Nothing ran."
            )
        else:
            text = f"⚠️ The retry was refused: {user_text(str(exc), 300)}. Nothing ran."
        await _finish(thread, original, text)
        return RetryStart(_message(text))
    except Exception as exc:  # a bug: whether the write left is unknown, so it counts as "may have run"
        log.error("chatops.retry_failed", alert=fingerprint, error=repr(exc)[:300])
        text = "⚠️ The retry failed unexpectedly (it is logged): it *may have run, check the job*."
        await _finish(thread, original, text)
        return RetryStart(_message(text))
    log.info("chatops.retry_started", alert=fingerprint, by=caller.user_id, job=started.job_id,
             script_task=started.script_task_id, desktops=planned.desktops)  # fmt: skip

    job = started.job_id or started.script_task_id or "?"

    async def follow() -> None:
        try:
            text, finished = await _outcome(retrier, planned, started)
        except WorkspaceError as exc:
            text, finished = (
                f"⚠️ Could not follow the retry: {user_text(str(exc), 300)}. Check it in the console.",
                False,
            )
        except asyncio.CancelledError:
            # The monitor is stopping while the job runs: say so and take the line off the message (a few
            # seconds at most), then stop. The claim stays: the job may still be running.
            stopped = (
                f"⏹ The monitor stopped before retry job `{user_text(job, 64)}` ended: check it in the "
                f"console. {_NOT_RECOVERY}"
            )
            with contextlib.suppress(Exception):
                await asyncio.wait_for(_finish(thread, original, stopped), _STOP_NOTE_SECONDS)
            raise
        if finished:
            await asyncio.to_thread(store.release_action, key)
        await _finish(thread, original, text)

    answer = _message(
        f"🔁 Retry started ({planned.what()}, job `{user_text(job, 64)}`). Progress and the outcome go to "
        "the alert's thread; the next poll decides whether the alert recovers."
    )
    return RetryStart(answer, follow)


async def _finish(thread: _Thread, original: _Shown | None, text: str) -> None:
    """Say how it ended, then take the "retry running" line off the message as it reads now (a poll may
    have edited it meanwhile)."""
    await thread.say(text)
    if original is None:
        return
    now = await thread.current(None)
    await thread.replace(_without_mark(now if now is not None else original))


def _names(planned: Planned) -> str:
    if isinstance(planned.redo, ScriptRedo):
        return f"execution `{user_text(planned.record_id, 64)}`"
    shown = [user_text(planned.names.get(d, d), 60) for d in planned.redo.desktop_ids[:NAMED_DESKTOPS]]
    more = len(planned.redo.desktop_ids) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _failure_lines(failures: Sequence[tuple[str, str]]) -> list[str]:
    lines = [f"• {name}: {reason}" for name, reason in failures[:NAMED_DESKTOPS]]
    if len(failures) > NAMED_DESKTOPS:
        lines.append(f"• and {len(failures) - NAMED_DESKTOPS} more")
    return lines


def _desktops(count: int) -> str:
    return f"{count} desktop{'s' * (count != 1)}"


_NOT_RECOVERY = "A retry is not a recovery: the next poll decides whether the alert resolves."


async def _outcome(retrier: Retrier, planned: Planned, started: RedoStarted) -> tuple[str, bool]:
    """The thread reply saying how the retry ended, and whether it ended."""
    if isinstance(planned.redo, ScriptRedo):
        return await _script_outcome(retrier, started.script_task_id or "")
    refused = [_refused(failure) for failure in started.refused]
    if not started.job_id:
        lines = ["⚠️ The API started no job to follow (it refused every desktop).", *_failure_lines(refused)]
        return "\n".join(lines), True
    outcome = await follow_job(
        retrier.client, started.job_id, interval=retrier.interval, checks=retrier.checks, sleep=retrier.sleep
    )
    return _job_text(outcome, refused, planned), outcome.finished


def _refused(failure: DesktopFailure) -> tuple[str, str]:
    name = user_text(failure.desktop_name or failure.desktop_id or "?", 60)
    return name, user_text(failure.error_msg or failure.error_code or "refused", _REASON) + " (refused)"


def _job_text(outcome: JobOutcome, refused: list[tuple[str, str]], planned: Planned) -> str:
    job = f"`{user_text(outcome.job.id, 64)}`"
    if not outcome.finished:
        return (
            f"⏳ Retry job {job} is still {user_text(outcome.job.status or 'running', 20)} after "
            f"{outcome.checks} checks: check it in the console. {_NOT_RECOVERY}"
        )
    failed = [
        (
            user_text(d.desktop_name or planned.names.get(d.desktop_id, d.desktop_id), 60),
            user_text(d.reason, _REASON),
        )
        for d in outcome.failed_desktops
    ] + refused
    if not failed and outcome.succeeded:
        return f"✅ Retry job {job} succeeded on {_desktops(planned.desktops)}. {_NOT_RECOVERY}"
    if not failed:
        reason = user_text(outcome.job.fail_reason or outcome.job.status or "failed", 200)
        return f"❌ Retry job {job} ended {user_text(outcome.job.status, 20)}: {reason}. {_NOT_RECOVERY}"
    head = f"❌ Retry job {job} failed on {len(failed)} of {planned.desktops} desktops again:"
    return "\n".join([head, *_failure_lines(failed), _NOT_RECOVERY])


async def _script_outcome(retrier: Retrier, script_task_id: str) -> tuple[str, bool]:
    records: list[ScriptRecord] = []
    task = f"`{user_text(script_task_id, 64)}`"
    for check in range(max(retrier.checks, 1)):
        if check:
            await retrier.sleep(retrier.interval)
        records = await retrier.client.list_script_records(script_task_id)
        if records and all(r.status not in _UNFINISHED_SCRIPT for r in records):
            break
    else:
        return (
            f"⏳ Script retry {task} is still running after {retrier.checks} checks: check it in the console",
            False,
        )
    failed = [
        (
            user_text(r.resource_name or r.resource_id or "?", 60),
            user_text(r.reason or r.result_code or r.status or "failed", _REASON),
        )
        for r in records
        if r.status != "SUCCESS"
    ]
    if not failed:
        return (
            f"✅ Script retry {task} succeeded on {_desktops(len(records))}. {_NOT_RECOVERY}",
            True,
        )
    head = f"❌ Script retry {task} failed on {len(failed)} of {len(records)} desktops again:"
    return "\n".join([head, *_failure_lines(failed), _NOT_RECOVERY]), True
