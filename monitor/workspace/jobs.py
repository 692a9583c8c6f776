"""Following a Workspace job to its end, boundedly: what a retry from Slack waits on before it replies.

`follow_job` looks the job up every `interval` seconds, at most `checks` times, and gives back a
`JobOutcome`: finished or not (a job still running after the last check is reported as such, never as a
failure or a success), and the desktops it failed on with their reasons. A lookup that fails raises, as reads
do, after the client's own retries: the caller says it could not follow the job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from monitor.workspace.actions import Job, SubJob
from monitor.workspace.client import WorkspaceClient

__all__ = ["DesktopOutcome", "JobOutcome", "follow_job"]


@dataclass(frozen=True)
class DesktopOutcome:
    desktop_id: str
    desktop_name: str | None
    reason: str


@dataclass(frozen=True)
class JobOutcome:
    job: Job
    #: False when the job was still running at the last check.
    finished: bool
    checks: int

    @property
    def succeeded(self) -> bool:
        return self.finished and self.job.status == "SUCCESS"

    @property
    def failed_desktops(self) -> list[DesktopOutcome]:
        return [_desktop_outcome(sub) for sub in self.job.failed_desktops()]


def _desktop_outcome(sub: SubJob) -> DesktopOutcome:
    name = sub.entities.desktop_name if sub.entities else None
    reason = sub.fail_reason or sub.error_code or sub.status or "failed"
    return DesktopOutcome(sub.desktop_id or "?", name, reason)


async def follow_job(
    client: WorkspaceClient,
    job_id: str,
    *,
    interval: float = 5.0,
    checks: int = 60,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> JobOutcome:
    """Look the job up until it finishes or `checks` lookups were made (waiting `interval` between)."""
    if checks < 1:
        raise ValueError("checks must be at least 1")
    job = await client.get_job(job_id)
    done = 1
    while not job.finished and done < checks:
        await sleep(interval)
        job = await client.get_job(job_id)
        done += 1
    return JobOutcome(job, job.finished, done)
