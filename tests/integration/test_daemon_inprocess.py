"""The daemon in-process, with its real scheduler and store and the simulator on loopback: what a process
test cannot see or meets only now and then (a race at stop, what stays in memory). What systemd's SIGTERM
does to the process is in test_daemon.py."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import structlog

from monitor import daemon as daemon_module
from monitor.daemon import Daemon, DaemonOptions
from monitor.devtools.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    SimOptions,
    SimulatorThread,
)
from monitor.devtools.slackstub import SlackStubOptions, start_slack_stub
from monitor.engine import CycleReport
from monitor.notify.console import ConsoleNotifier
from monitor.runtime import Loaded, build, load_all
from monitor.slack.notifier import SlackNotifier


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(SimOptions(tasks=0, seed=3)) as running:
        running.call(running.state.create_task, {"task_name": "prod-reboot", "last_status": "FAIL"})
        yield running


@pytest.fixture
def daemon(tmp_path: Path, sim: SimulatorThread, monkeypatch: pytest.MonkeyPatch) -> Daemon:
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", DEFAULT_ACCESS_KEY)
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", DEFAULT_SECRET_KEY)
    (tmp_path / "rules.yaml").write_text(
        'rules:\n  - name: ops\n    match: {task_name: "prod-*"}\n    channel: "#ops"\n'
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            workspace:
              endpoint: {sim.base_url}
              project_id: {DEFAULT_PROJECT_ID}
              poll_interval: 60s
            state:
              url: sqlite:///{tmp_path}/state.db
            rules: {tmp_path}/rules.yaml
            slack:
              mode: none
            """
        )
    )
    return Daemon(DaemonOptions(config), build(load_all(config), os.environ, notifier=ConsoleNotifier()))


async def test_a_stop_during_the_leadership_check_starts_no_cycle_and_fails_no_job(
    daemon: Daemon, caplog: pytest.LogCaptureFixture
) -> None:
    """The poll job checks leadership off the event loop before its cycle; a SIGTERM meanwhile must not let
    it start a cycle once the check returns, nor shut the scheduler down under it (APScheduler then logs
    the cancelled job as "raised an exception")."""
    checking, release = asyncio.Event(), asyncio.Event()
    check = daemon.runtime.leader.check

    async def slow_check() -> bool:
        checking.set()
        await release.wait()
        return await check()

    cycles: list[str] = []
    for project in daemon.runtime.projects:
        run_cycle = project.engine.run_cycle

        async def counted(*, persist: bool = True, run_cycle=run_cycle):
            cycles.append("cycle")
            return await run_cycle(persist=persist)

        project.engine.run_cycle = counted
    daemon.runtime.leader.check = slow_check
    flushed = asyncio.Event()
    dispatch = daemon.dispatch

    async def observed_dispatch() -> None:
        await dispatch()
        if daemon.stopping.is_set():
            flushed.set()

    daemon.dispatch = observed_dispatch
    with caplog.at_level(logging.ERROR, logger="apscheduler"):
        await daemon.start()
        await asyncio.wait_for(checking.wait(), 10)
        stopping = asyncio.ensure_future(daemon.stop())
        # stop() is under way: scheduler paused, its last flush done, waiting for the running job.
        await asyncio.wait_for(flushed.wait(), 30)
        release.set()
        await asyncio.wait_for(stopping, 30)
    assert cycles == []
    assert [r.getMessage() for r in caplog.records if "raised an exception" in r.getMessage()] == []


async def test_a_cycles_reports_are_freed_before_its_delivery(daemon: Daemon) -> None:
    """A mass failure's report holds every payload: kept through the delivery that follows, it was the
    daemon's peak RSS (bench/scaling.py: 153 -> 133 MB at 10,000 failing tasks)."""
    alive: list[int] = []
    counted = asyncio.Event()
    dispatch = daemon.dispatch

    async def counting() -> None:
        # Once the poll has yielded: until then the event loop's wake-up call still holds the cycle's result.
        await asyncio.sleep(0)
        gc.collect()
        alive.append(sum(isinstance(thing, CycleReport) for thing in gc.get_objects()))
        counted.set()
        await dispatch()

    daemon.dispatch = counting
    await daemon.start()
    try:
        await asyncio.wait_for(counted.wait(), 20)
    finally:
        await daemon.stop()
    assert daemon.cycles == 1
    assert alive[0] == 0


async def test_a_reload_that_lengthens_the_poll_interval_moves_the_health_limit(daemon: Daemon) -> None:
    """/healthz fails after three poll intervals without a successful cycle: after a SIGHUP that makes the
    interval 10 minutes, 20 minutes of quiet are healthy (the old 60 s interval's limit was 3 minutes)."""
    config = daemon.options.config
    assert config is not None
    config.write_text(config.read_text().replace("poll_interval: 60s", "poll_interval: 10m"))
    await daemon.start()
    try:
        await daemon.reload()
    finally:
        await daemon.stop()
    ok, reason = daemon.runtime.health.check(daemon.runtime.health.started_at + timedelta(minutes=20))
    assert ok, reason


async def test_a_reload_reads_the_files_off_the_event_loop(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big (or hostile) rule directory must not stall polling, /healthz and the watchdog while it loads."""
    threads: list[bool] = []

    def load_in_a_thread(*args: object) -> Loaded:
        try:
            asyncio.get_running_loop()
            threads.append(False)
        except RuntimeError:
            threads.append(True)
        return load_all(*args)  # type: ignore[arg-type]

    monkeypatch.setattr("monitor.daemon.load_all", load_in_a_thread)
    await daemon.start()
    try:
        await daemon.reload()
    finally:
        await daemon.stop()
    assert threads == [True]


async def test_a_reload_that_raises_keeps_the_old_rules_and_says_so(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever goes wrong while loading, the signal's callback logs config.reload_failed; never a traceback
    from the event loop's exception handler."""

    def broken(*args: object) -> Loaded:
        raise RecursionError("maximum recursion depth exceeded")

    before = daemon.runtime.loaded
    monkeypatch.setattr("monitor.daemon.load_all", broken)
    await daemon.start()
    try:
        with structlog.testing.capture_logs() as logs:
            await daemon.reload()
    finally:
        await daemon.stop()
    assert daemon.runtime.loaded is before
    (failed,) = [entry for entry in logs if entry["event"] == "config.reload_failed"]
    assert failed["problems"] == ["RecursionError: maximum recursion depth exceeded"]


async def test_a_reload_that_changes_the_state_url_or_metrics_listen_says_a_restart_is_needed(
    daemon: Daemon, tmp_path: Path
) -> None:
    config = daemon.options.config
    assert config is not None
    text = config.read_text().replace("state.db", "other.db") + "metrics:\n  listen: 127.0.0.1:9464\n"
    config.write_text(text)
    await daemon.start()
    try:
        with structlog.testing.capture_logs() as logs:
            await daemon.reload()
            await daemon.reload()  # still running with the old ones: said again
    finally:
        await daemon.stop()
    needed = [entry for entry in logs if entry["event"] == "config.restart_needed"]
    assert [entry["settings"] for entry in needed] == [["state.url", "metrics.listen"]] * 2
    assert "other.db" not in str(needed)


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("re:a{4294967296}", "repetition {4294967296} is too large"),
        ("re:(a)\\\\1", "invalid escape sequence"),
    ],
)
async def test_a_reload_with_a_regex_python_could_not_compile_says_where(
    daemon: Daemon, pattern: str, problem: str
) -> None:
    """Python's `re` raised OverflowError (or RecursionError) inside SIGHUP's callback: now a problem with
    file:line, and the old rules stay."""
    config = daemon.options.config
    assert config is not None
    rules = config.parent / "rules.yaml"
    rules.write_text(f'rules:\n  - name: ops\n    match: {{task_name: "{pattern}"}}\n    channel: "#ops"\n')
    before = daemon.runtime.loaded
    await daemon.start()
    try:
        with structlog.testing.capture_logs() as logs:
            await daemon.reload()
    finally:
        await daemon.stop()
    assert daemon.runtime.loaded is before
    (failed,) = [entry for entry in logs if entry["event"] == "config.reload_failed"]
    (said,) = failed["problems"]
    assert said.startswith(f"{rules}:3: rule 'ops': match.task_name: bad regular expression")
    assert problem in said


async def test_a_flush_waiting_for_slack_never_makes_the_scheduler_skip_jobs(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The dispatch job starts a flush and returns: run inline, a flush that Slack never answers made
    APScheduler skip every later run of the job, with a warning each time."""
    monkeypatch.setattr(daemon_module, "DISPATCH_EVERY", timedelta(seconds=0.05))
    monkeypatch.setattr(daemon_module, "STOP_FLUSH_WAIT", 0.1)
    monkeypatch.setattr(daemon_module, "STOP_JOBS_WAIT", 0.1)

    async def cycle_only() -> None:  # the cycle queues prod-reboot's alert; only the dispatch job delivers
        await daemon._cycles()

    daemon.poll = cycle_only  # type: ignore[method-assign]
    async with start_slack_stub() as stub:
        stub.state.faults.delay(600, None)  # every call accepted, none answered
        daemon.runtime.delivery.notifier = SlackNotifier(
            stub.client(retry_handlers=[]), per_channel_interval=0
        )
        with caplog.at_level(logging.WARNING, logger="apscheduler"):
            await daemon.start()
            try:
                for _ in range(500):  # until the post hangs, then twenty more runs of the job
                    if stub.state.calls:
                        break
                    await asyncio.sleep(0.01)
                await asyncio.sleep(1)
            finally:
                await daemon.stop()
    assert stub.state.count("chat.postMessage") == 1
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert [message for message in skipped if "dispatch" in message] == []


async def test_the_daemon_says_at_start_what_the_tokens_scopes_leave_out(daemon: Daemon) -> None:
    """The start's scope note asks the Slack receiver itself, not the watch the daemon wraps it in (which is
    no Slack notifier, so the note was never said)."""
    async with start_slack_stub(SlackStubOptions(scopes=frozenset({"chat:write"}))) as stub:
        slack = SlackNotifier(stub.client(retry_handlers=[]), per_channel_interval=0)
        daemon.runtime.delivery.notifier = slack
        with structlog.testing.capture_logs() as logs:
            await daemon.start()
            try:
                assert daemon._scope_note is not None
                problem = await daemon._scope_note
            finally:
                await daemon.stop()
    assert problem is not None
    assert "channels:history" in problem
    assert [entry["event"] for entry in logs].count("slack.reconcile_degraded") == 1


async def test_a_rejected_reload_shows_in_the_reload_metrics_and_the_next_good_one_clears_it(
    daemon: Daemon,
) -> None:
    """`systemctl reload` returns 0 whatever the daemon thinks of the new config: the metrics say (as
    Prometheus's and Alertmanager's `config_last_reload_successful` do) so that an alert can."""
    config = daemon.options.config
    assert config is not None
    good = config.read_text()
    metrics = daemon.runtime.metrics

    def value(name: str) -> float | None:
        return metrics.registry.get_sample_value(f"workspace_monitor_config_last_reload_{name}")

    assert value("successful") == 1  # the load at start
    started = value("timestamp_seconds")
    assert started is not None
    assert started > 0
    await daemon.start()
    try:
        config.write_text(good.replace("poll_interval: 60s", "poll_interval: soon"))
        await daemon.reload()
        assert value("successful") == 0
        assert value("success_timestamp_seconds") == started
        rejected_at = value("timestamp_seconds")
        assert rejected_at is not None
        assert rejected_at >= started
        config.write_text(good)
        await daemon.reload()
        assert value("successful") == 1
        assert value("success_timestamp_seconds") == value("timestamp_seconds")
    finally:
        await daemon.stop()
