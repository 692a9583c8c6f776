"""`workspace-monitor run`: the long-running daemon, scheduling what `monitor.runtime` builds, in one asyncio
process.

    APScheduler (AsyncIOScheduler)
      poll      every workspace.poll_interval, one at a time, coalesced, jittered: a cycle, then it starts a
                flush of what the cycle queued and goes on without waiting for it
      dispatch  every few seconds: deliver what is due in the outbox (retries, backlog after an outage)
    Delivery never holds up polling: a Slack that takes connections and never answers leaves the cycles
    running at their interval, and /healthz names Slack (`monitor.delivery_watch`), not the API.
      reports   every 10 s: queue the reports (`reports:`) that are due, once per firing (leader only)
      prune     every hour: delete notifications sent longer ago than state.outbox_retention, and run history
                older than 400 days (leader only)
      leader    every state.lease/2: confirm or take leadership (PostgreSQL state; SQLite's replica always
                leads). Only the leader polls and dispatches; a replica that loses it stops at once.
    metrics   /metrics and /healthz on metrics.listen (loopback), when configured
    chatops   the /tasks Slack app (Socket Mode or HTTP, `monitor.chatops`) on every replica, leader or not;
              /healthz fails while its link to Slack is down

Signals: SIGTERM/SIGINT stop taking new work, let a running cycle finish (bounded), flush the outbox (bounded)
and exit 0; SIGHUP re-reads config and rules and keeps the old ones when the new ones are broken, saying why
(in the log, to systemd as RELOADING=1 then READY=1, and in the verdict file `workspace-monitor reload` waits
for: `monitor.reloadstatus`).
A failing cycle is logged and the schedule goes on; a broken rule file at start-up is refused with file:line.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor import reloadstatus
from monitor.chatops.runner import ChatopsConfigError
from monitor.durations import format_duration
from monitor.engine import CycleReport
from monitor.history import HISTORY_RETENTION
from monitor.metrics import start_metrics_server
from monitor.preflight import Transient, start_problems
from monitor.reports.queue import Firing, latest_firings, queue_due
from monitor.runtime import Loaded, LoadError, Runtime, WatchedProject, build, load_all
from monitor.sdnotify import SystemdNotifier
from monitor.selfwatch import workspace_check
from monitor.slack.notifier import log_scope_problems
from monitor.slack.report import posted_time
from monitor.store import StoreError
from monitor.store.urls import redact_url
from monitor.workspace.errors import ConfigurationError, WorkspaceError

__all__ = ["DaemonOptions", "run_daemon"]

log = structlog.get_logger(__name__)

DISPATCH_EVERY = timedelta(seconds=5)
PRUNE_EVERY = timedelta(hours=1)
#: How often the leader looks whether a report (`reports:`) is due: a report comes at most this late.
REPORTS_EVERY = timedelta(seconds=10)
#: How long a stop waits for a running cycle, then for the outbox flush.
STOP_CYCLE_WAIT = 30.0
STOP_FLUSH_WAIT = 10.0
STOP_JOBS_WAIT = 5.0


@dataclass(frozen=True)
class DaemonOptions:
    config: Path | None
    rules: Path | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class Daemon:
    """Schedules what `runtime` holds (polls, deliveries, pruning, leadership checks), answers signals,
    pings systemd's watchdog and serves /metrics and /healthz. It builds nothing itself."""

    def __init__(self, options: DaemonOptions, runtime: Runtime) -> None:
        self.options = options
        self.runtime = runtime
        runtime.leader.on_change = self._leadership_changed
        self._cycle: asyncio.Future[list[CycleReport | BaseException]] | None = None
        self._polling = False  # poll() is checking leadership: it goes on to its cycle by itself
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.stopping = asyncio.Event()
        self._cycle_lock = asyncio.Lock()
        self._flush_lock = asyncio.Lock()
        self.cycles = 0
        self.systemd = SystemdNotifier()
        self._watchdog: asyncio.Task[None] | None = None
        self._scope_note: asyncio.Task[str | None] | None = None
        # The scheduler's jobs running now: a stop lets them end by themselves before the scheduler goes.
        self._jobs: set[asyncio.Task[Any]] = set()
        # Flushes a poll started and did not wait for.
        self._deliveries: set[asyncio.Task[None]] = set()
        self._metrics_server: web.AppRunner | None = None
        self._reload_lock = asyncio.Lock()
        self._reloads: set[asyncio.Task[None]] = set()
        self._reload_count = 0
        self._reload_status = reloadstatus.status_path(os.getpid())

    def _tracked(self, job: Callable[[], Awaitable[object]]) -> Callable[[], Coroutine[Any, Any, None]]:
        """`job` as the scheduler runs it, known to `stop` while it runs (same name in APScheduler's logs)."""

        @functools.wraps(job)
        async def run() -> None:
            task = asyncio.current_task()
            assert task is not None
            self._jobs.add(task)
            try:
                await job()
            finally:
                self._jobs.discard(task)

        return run

    async def start(self) -> None:
        listen = self.runtime.loaded.settings.metrics.listen
        if listen:
            self._metrics_server = await start_metrics_server(
                listen, self.runtime.metrics, self.runtime.health
            )
            log.info("metrics.listening", address=listen)
        interval = self.runtime.loaded.settings.workspace.poll_interval
        self.scheduler.add_job(
            self._tracked(self.poll),
            "interval",
            seconds=interval.total_seconds(),
            id="poll",
            max_instances=1,
            coalesce=True,
            # Several replicas, or many daemons against one API, should not all poll on the same second.
            jitter=min(5.0, interval.total_seconds() / 10),
            misfire_grace_time=max(1, int(interval.total_seconds())),
            next_run_time=_now(),
        )
        self.scheduler.add_job(
            self._tracked(self._dispatch_due),
            "interval",
            seconds=DISPATCH_EVERY.total_seconds(),
            id="dispatch",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self._tracked(self.reports),
            "interval",
            seconds=REPORTS_EVERY.total_seconds(),
            id="reports",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self._tracked(self.prune),
            "interval",
            seconds=PRUNE_EVERY.total_seconds(),
            id="prune",
            max_instances=1,
            coalesce=True,  # first run: when this replica becomes the leader
        )
        self.scheduler.add_job(
            self._tracked(self.runtime.leader.check),
            "interval",
            seconds=max(0.5, self.runtime.loaded.settings.state.lease.total_seconds() / 2),
            id="leader",
            max_instances=1,
            coalesce=True,
            next_run_time=_now(),
        )
        self.scheduler.start()
        if self.runtime.chatops is not None:
            await self.runtime.chatops.start()  # returns at once; Socket Mode connects in the background
        # Once, in the background: what the token's scopes leave out (the crash reconcile without history).
        self._scope_note = asyncio.create_task(log_scope_problems(self.runtime.delivery.notifier))
        period = self.systemd.watchdog_period()
        if period:
            self._watchdog = asyncio.create_task(self._ping_watchdog(period))
        self._write_verdict(ok=True, problems=())  # reloads: 0, the count `reload` waits to see grow
        self.systemd.ready(f"started; polling every {interval.total_seconds():g}s")
        log.info(
            "daemon.started",
            poll_interval=interval.total_seconds(),
            rules=len(self.runtime.loaded.ruleset.rules),
            state=redact_url(self.runtime.loaded.settings.state.url),
            replica=self.runtime.replica,
        )

    def _leadership_changed(self, leading: bool) -> None:
        if leading:
            # A new leader polls at once rather than at the next interval: failover is one check away.
            if not self.stopping.is_set() and not self._polling:
                self.scheduler.modify_job("poll", next_run_time=_now())
            if not self.stopping.is_set():
                self.scheduler.modify_job("prune", next_run_time=_now())  # then hourly
        elif self._cycle is not None and not self._cycle.done():
            self._cycle.cancel()

    async def poll(self) -> None:
        # Checked right before the cycle, not only every lease/2: a stale leader must not start one.
        self._polling = True
        try:
            leading = not self.stopping.is_set() and await self.runtime.leader.check()
        finally:
            self._polling = False
        # The check runs off the event loop: a stop may have begun meanwhile, and then no cycle starts.
        if not leading or self.stopping.is_set():
            return
        # The cycles' reports end with _cycles: a mass failure's (every payload) must not stay alive through
        # the delivery below, the daemon's peak RSS (bench/scaling.py).
        if not await self._cycles():
            return
        self._deliver_soon()
        try:
            # Once per cycle, not per dispatch: counting open alerts reads every one of them.
            self.runtime.metrics.outbox_backlog.set(
                len(self.runtime.store.pending_outbox(now=_now(), limit=100_000))
            )
            self.runtime.metrics.open_alerts.set(len(self.runtime.store.load_open_alerts()))
        except StoreError as exc:
            log.error("metrics.store_failed", error=str(exc))

    async def _dispatch_due(self) -> None:
        """The dispatch job: starts a flush and returns, so that a flush waiting for Slack never makes the
        scheduler skip (and log) the job's next runs."""
        self._deliver_soon()

    def _deliver_soon(self) -> None:
        """Start a flush of what the cycle queued, without waiting for it: a Slack that never answers must
        not hold up the next cycle (it held polling for as long as its timeouts added up). A flush already
        running picks the new rows up before it ends."""
        if self._flush_lock.locked() or self.stopping.is_set():
            return
        delivery = asyncio.create_task(self._tracked(self.dispatch)(), name="deliver")
        self._deliveries.add(delivery)
        delivery.add_done_callback(self._deliveries.discard)

    async def _cycles(self) -> bool:
        """Every project's cycle, side by side; False when abandoned (leadership lost meanwhile)."""
        async with self._cycle_lock:
            started = _now()
            # Every project's cycle side by side (each client has its own concurrency bound); one that
            # fails does not stop the others.
            cycle = asyncio.ensure_future(
                asyncio.gather(
                    *(project.engine.run_cycle() for project in self.runtime.projects), return_exceptions=True
                )
            )
            self._cycle = cycle
            try:
                outcomes = await cycle
            except asyncio.CancelledError:
                if self.runtime.leader.leading:
                    raise
                log.warning("cycle.abandoned", reason="leadership lost")
                return False
            finally:
                self._cycle = None  # a finished future would keep every report alive until the next cycle
            summaries = [
                self._project_cycle_done(project, outcome, started)
                for project, outcome in zip(self.runtime.projects, outcomes, strict=True)
            ]
            self.systemd.status("; ".join(summaries)[:200])
            took = _now() - started
            if took > self.runtime.loaded.settings.workspace.poll_interval:
                log.warning("cycle.overran", seconds=took.total_seconds())
        return True

    def _project_cycle_done(
        self, project: WatchedProject, outcome: CycleReport | BaseException, started: datetime
    ) -> str:
        """Metrics, health and selfwatch for one project's cycle; a STATUS line's part for it."""
        several = len(self.runtime.projects) > 1
        check = workspace_check(project.name if several else None)
        where = f"{project.name}: " if several else ""
        if isinstance(outcome, asyncio.CancelledError):
            raise outcome
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, WorkspaceError | StoreError):
                log.error("cycle.crashed", project=project.name, error=repr(outcome))
            log.error("cycle.failed", project=project.name, error=str(outcome),
                      retryable=getattr(outcome, "retryable", False))  # fmt: skip
            self.runtime.metrics.cycle_done(project.name, "failed")
            self.runtime.health.failed(project.name, f"{where}{outcome}")
            if isinstance(outcome, WorkspaceError):
                self._watch(self.runtime.selfwatch.cycle_failed, outcome, check=check)
            return f"{where}last cycle failed at {started:%H:%M:%S}Z: {outcome}"
        report = outcome
        self.cycles += 1
        finished = _now()
        self.runtime.metrics.cycle_done(
            project.name,
            "complete" if report.complete else "incomplete",
            seconds=(finished - started).total_seconds(),
            finished=finished,
        )
        self.runtime.health.succeeded(project.name, finished)
        self._watch(
            self.runtime.selfwatch.cycle_succeeded,
            complete=report.complete,
            problems=report.problems,
            check=check,
        )
        complete = "complete" if report.complete else "INCOMPLETE listing"
        return (
            f"{where}last cycle {started:%H:%M:%S}Z: {report.tasks} failing tasks ({complete}), "
            f"{len(report.outbox)} notifications"
        )

    async def dispatch(self) -> None:
        if not self.runtime.leader.leading:
            return
        if self._flush_lock.locked():
            # One flush at a time: the running one picks up new rows before it ends, and a second one
            # would take over rows the first claimed long ago (a long paced backlog) and send them again.
            return
        try:
            async with self._flush_lock:
                report = await self.runtime.dispatcher.flush()
            self.runtime.metrics.notifications.labels(outcome="sent").inc(report.sent)
            self.runtime.metrics.notifications.labels(outcome="retrying").inc(report.retrying)
            self.runtime.metrics.notifications.labels(outcome="failed").inc(report.failed)
        except StoreError as exc:
            log.error("dispatch.failed", error=str(exc))
            return
        self._watch(self.runtime.selfwatch.deliveries, report.delivered_channels, report.refused_channels)

    async def reports(self) -> None:
        """Queue each report (`reports:`) whose firing is due and not queued yet, then deliver it (leader
        only; `monitor.reports.queue`: once per firing across restarts and failover)."""
        settings = self.runtime.loaded.settings
        if not settings.reports or not self.runtime.leader.leading:
            return
        now, metrics = _now(), self.runtime.metrics
        try:
            queued = await asyncio.to_thread(
                queue_due, self.runtime.store, settings.reports, self.runtime.loaded.ruleset, now
            )
        except StoreError as exc:
            log.error("report.queue_failed", error=str(exc))
            return
        firings = latest_firings(settings.reports, now)
        names = {firing.key: firing.report.name for firing in firings}
        for key in queued:
            metrics.report_queued(names[key])
        await self._watch_reports(firings)
        if queued:
            await self.dispatch()

    async def _watch_reports(self, firings: Sequence[Firing]) -> None:
        """Each report's latest firing, and whether it went out, for /metrics: a restarted or new leader
        finds a firing posted before in the store (the report receiver's memo), so that only a report that
        was due and did not go out looks so."""
        metrics, store = self.runtime.metrics, self.runtime.store
        for firing in firings:
            metrics.report_due(firing.report.name, firing.fire.timestamp())
        unknown = [f for f in firings if metrics.report_posted_at(f.report.name) < f.fire.timestamp()]
        if not unknown:
            return
        try:
            found = await asyncio.to_thread(lambda: [posted_time(store, f.fingerprint) for f in unknown])
        except StoreError as exc:
            log.warning("report.posted_lookup_failed", error=str(exc))
            return
        for firing, at in zip(unknown, found, strict=True):
            if at is not None:
                metrics.report_seen_posted(firing.report.name, at)

    async def prune(self) -> None:
        """Delete the notifications done with for longer than state.outbox_retention, so that the state file
        (and SQLite's page cache over it) stops growing with every message ever sent."""
        await self._prune_history()
        retention = self.runtime.loaded.settings.state.outbox_retention
        if not self.runtime.leader.leading or retention <= timedelta(0):
            return
        try:
            deleted = await asyncio.to_thread(self.runtime.store.prune_outbox, before=_now() - retention)
        except StoreError as exc:
            log.error("state.prune_failed", error=str(exc))
            return
        if deleted:
            log.info("state.pruned", outbox_rows=deleted, retention=format_duration(retention))

    async def _prune_history(self) -> None:
        """Forget the run history's days older than HISTORY_RETENTION (what reports read)."""
        if not self.runtime.leader.leading:
            return
        try:
            days = await asyncio.to_thread(
                self.runtime.store.prune_history, before=_now() - HISTORY_RETENTION
            )
        except StoreError as exc:
            log.error("state.prune_failed", error=str(exc))
            return
        if days:
            log.info("state.history_pruned", task_days=days, retention=format_duration(HISTORY_RETENTION))

    def _watch(self, observe: Callable[..., object], *args: object, **kwargs: object) -> None:
        """Tell selfwatch what happened; a store failure there is logged and never stops a cycle."""
        try:
            observe(*args, **kwargs)
        except StoreError as exc:
            log.error("selfwatch.store_failed", error=str(exc))

    def reload(self) -> asyncio.Task[None]:
        """SIGHUP: new rules (and schedule) when they load cleanly; otherwise the old ones stay. The files are
        read and checked in a thread, so a big (or hostile) rule directory never stalls polling, /healthz or
        the watchdog; reloads apply in the order the signals came. The task is returned for tests."""
        self.systemd.reloading()
        task = asyncio.get_running_loop().create_task(self._reload())
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)
        return task

    async def _reload(self) -> None:
        async with self._reload_lock:
            try:
                loaded = await asyncio.to_thread(load_all, self.options.config, self.options.rules)
            except LoadError as exc:
                log.error("config.reload_failed", problems=exc.problems, kept="the previous config and rules")
                self._reloaded(exc.problems)
                return
            except Exception as exc:  # a signal's callback must never raise: the old config stays
                problems = [f"{type(exc).__name__}: {exc}"]
                log.error("config.reload_failed", problems=problems, kept="the previous config and rules")
                self._reloaded(problems)
                return
            if self.stopping.is_set():
                return
            self._apply(loaded)
            self._reloaded(())

    def _reloaded(self, problems: Sequence[str]) -> None:
        """A reload's verdict: to `workspace-monitor reload` (systemd's ExecReload), to systemd and to the
        metrics (`config_last_reload_successful`)."""
        self._reload_count += 1
        self.runtime.metrics.reloaded(not problems, _now())
        self._write_verdict(ok=not problems, problems=problems)
        self.systemd.ready("reloaded" if not problems else f"reload rejected, config kept: {problems[0]}")

    def _write_verdict(self, *, ok: bool, problems: Sequence[str]) -> None:
        verdict = reloadstatus.Verdict(self._reload_count, ok, tuple(problems))
        try:
            reloadstatus.write(self._reload_status, verdict)
        except OSError as exc:
            log.warning("config.reload_status_unwritable", path=str(self._reload_status), error=str(exc))

    def _apply(self, loaded: Loaded) -> None:
        self.runtime.apply(loaded)
        interval = loaded.settings.workspace.poll_interval.total_seconds()
        self.scheduler.reschedule_job("poll", trigger="interval", seconds=interval,
                                      jitter=min(5.0, interval / 10))  # fmt: skip
        log.info("config.reloaded", rules=len(loaded.ruleset.rules), poll_interval=interval)

    async def _ping_watchdog(self, period: float) -> None:
        # Pinged from the event loop itself: if the loop hangs, the pings stop and systemd restarts us.
        while True:
            self.systemd.watchdog()
            await asyncio.sleep(period)

    async def stop(self) -> None:
        self.stopping.set()
        self.systemd.stopping()
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._scope_note is not None:
            self._scope_note.cancel()
        # Paused, not shut down yet: a shutdown cancels the running job, and a send cancelled mid-way
        # leaves its notification claimed (so neither the flush below nor the next start could send it
        # before the claim lease ran out). No new job starts; the running one ends within the waits below.
        self.scheduler.pause()
        try:
            async with asyncio.timeout(STOP_CYCLE_WAIT):
                async with self._cycle_lock:
                    pass
        except TimeoutError:
            log.warning("daemon.cycle_abandoned", waited=STOP_CYCLE_WAIT)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_FLUSH_WAIT):
                # A running flush ends first; then one last one for what it left. The poll job may start
                # its own flush in between (dispatch() then returns at once): wait for that one too.
                while True:
                    async with self._flush_lock:
                        pass
                    await self.dispatch()
                    if not self._flush_lock.locked():
                        break
        # A job still running (a leadership check in its thread, a poll that found the stop) ends by itself
        # now; shutting the scheduler down under it would cancel it, logged by APScheduler as a failed job.
        running = [job for job in self._jobs | self._reloads if job is not asyncio.current_task()]
        if running:
            await asyncio.wait(running, timeout=STOP_JOBS_WAIT)
        # A flush still waiting for Slack after all that ends here, before the store closes under it: its
        # message stays claimed, and the next start looks in the channel before posting it again.
        for delivery in list(self._deliveries):
            delivery.cancel()
        if self._deliveries:
            await asyncio.wait(list(self._deliveries))
        self.scheduler.shutdown(wait=False)
        if self._metrics_server is not None:
            await self._metrics_server.cleanup()
        await self.runtime.aclose()
        reloadstatus.remove(self._reload_status)
        log.info("daemon.stopped", cycles=self.cycles)


async def run_daemon(options: DaemonOptions) -> int:
    """Run until SIGTERM/SIGINT. Returns the exit code: 0 after a clean stop, 2 when it cannot start as
    configured (systemd does not restart it: RestartPreventExitStatus=2), 1 when its state cannot be reached
    yet (PostgreSQL down at boot): that one systemd restarts."""
    try:
        loaded = load_all(options.config, options.rules)
    except LoadError as exc:
        for problem in exc.problems:
            log.error("config.invalid", problem=problem)
        print(
            "workspace-monitor: refusing to start:\n" + "\n".join(exc.problems), file=sys.stderr, flush=True
        )
        return 2
    # The same checks as `check`: nothing is created, opened or listened on when one fails.
    problems = start_problems(loaded.settings, os.environ)
    if problems:
        for problem in problems:
            log.error("daemon.cannot_start", error=problem)
        listed = problems[0] if len(problems) == 1 else "\n" + "\n".join(problems)
        print(f"workspace-monitor: refusing to start: {listed}", file=sys.stderr, flush=True)
        return 1 if all(isinstance(problem, Transient) for problem in problems) else 2
    try:
        # The SQLite state's lock is held until the daemon stops: a second daemon (or `once`) is refused.
        daemon = Daemon(options, build(loaded, os.environ))
    except (ConfigurationError, StoreError, ChatopsConfigError) as exc:
        log.error("daemon.cannot_start", error=str(exc))
        print(f"workspace-monitor: refusing to start: {exc}", file=sys.stderr, flush=True)
        return 1 if isinstance(exc, StoreError) and exc.retryable else 2
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, daemon.reload)
    try:
        await daemon.start()
    except OSError as exc:  # an address taken since the check above
        log.error("daemon.cannot_start", error=str(exc))
        print(f"workspace-monitor: refusing to start: cannot listen: {exc}", file=sys.stderr, flush=True)
        return 2
    await stop.wait()
    log.info("daemon.stopping")
    await daemon.stop()
    return 0
