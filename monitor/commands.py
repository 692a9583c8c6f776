"""The commands that run once and exit, on top of `monitor.runtime`:

    check    validate config and rules (and what `run` checks before it starts); file:line for each problem
    once     one full cycle (or a dry run): poll, evaluate, persist, deliver
    schema   the JSON Schema of the rule file

(`tasks` is monitor/listtasks.py: it needs only the Workspace client, and loads nothing of the runtime.)

`check` and `once` load what the daemon loads, in the same way, so `check` passing means `run` will start,
and `once` shows exactly what a cycle of the daemon would decide and send.

Exit codes: 0 success; 1 the command ran but the outcome is not trustworthy or the API failed (an
incomplete listing, an API error); 2 the command cannot run as configured (bad config, missing credentials).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from monitor.config import ConfigError, Settings, load_settings
from monitor.engine import CycleReport
from monitor.leader import SoleLeadership, TermedStore
from monitor.notify.console import ConsoleNotifier
from monitor.notify.text import render_text, terminal_safe
from monitor.preflight import start_problems
from monitor.rules.schema import rule_file_json_schema
from monitor.runtime import Loaded, LoadError, Runtime, build, load_all, make_notifier
from monitor.store import StoreError
from monitor.windows import check_lines
from monitor.workspace.errors import ConfigurationError, WorkspaceError

if TYPE_CHECKING:
    from monitor.online import Finding

__all__ = ["check", "check_verdict", "once", "schema", "show_decisions"]

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def check(config: Path | None, rules_override: Path | None, console: Console, *, online: bool = False) -> int:
    """Every finding one line, then ONE verdict as the last line: `OK: ...` with the counts (exit 0), or
    `N problems found` (exit 1). Nothing says OK before a later check fails. `online` asks the Workspace
    API and Slack too (`monitor.online`: a line each, ✓, ✗ with the fix, or ! for what is degraded)."""
    problems: list[str] = []
    findings: list[Finding] = []
    loaded: Loaded | None = None
    try:
        settings: Settings | None = load_settings(config)
    except ConfigError as exc:
        settings = None
        problems.extend(exc.problems)
    if settings is not None:
        try:
            loaded = load_all(config, rules_override)
        except LoadError as exc:
            problems.extend(exc.problems)
        # What `run` checks before it starts, from the same function: `check` passing means `run` starts.
        problems.extend(start_problems(settings, os.environ))
        if online:
            from monitor.online import online_findings  # slack_sdk: only for `check --online`

            findings = asyncio.run(online_findings(settings, os.environ))
    for problem in problems:
        _check_line(console, problem, "red")
    for finding in findings:
        _check_line(console, finding.line, _FINDING_STYLES[finding.status])
    if loaded is not None:
        for line in check_lines(loaded.ruleset, datetime.now(UTC)):  # when each maintenance window opens
            _check_line(console, line)
        from monitor.reports.schedule import next_fire_line

        for report in loaded.settings.reports:  # when each report is next posted
            _check_line(console, next_fire_line(report.name, report.schedule, report.zone, report.channel,
                                                report.days, datetime.now(UTC)))  # fmt: skip
    problems.extend(finding.line for finding in findings if finding.status == "problem")
    notes = [finding.line for finding in findings if finding.status == "warning"]
    verdict = check_verdict(len(problems), len(notes), _loaded_summary(loaded))
    _check_line(console, verdict, "bold red" if problems else "")
    return EXIT_FAILED if problems else EXIT_OK


_FINDING_STYLES = {"ok": "green", "problem": "red", "warning": "yellow"}


def check_verdict(problems: int, warnings: int, loaded: str) -> str:
    """The last line of `check`: how many problems, or OK with what was loaded and how many warnings."""
    if problems:
        return f"{problems} problem{'' if problems == 1 else 's'} found"
    warned = f"; {warnings} warning{'' if warnings == 1 else 's'}" if warnings else ""
    return f"OK: {loaded}{warned}"


def _loaded_summary(loaded: Loaded | None) -> str:
    if loaded is None:  # pragma: no cover - nothing loaded is always a problem
        return "nothing loaded"
    ruleset = loaded.ruleset
    return (
        f"{len(ruleset.rules)} rules and {len(ruleset.silences)} silences in {len(ruleset.files)} file(s); "
        f"config {loaded.settings.source}"
    )


def _check_line(console: Console, line: str, style: str = "") -> None:
    """One line of `check`: as text, never markup, unwrapped, and terminal-safe as `once` prints (a rule
    file's name, a key or a value in a problem is the operator's data and may carry escape sequences)."""
    console.print(Text(terminal_safe(line)), style=style, soft_wrap=True)


def _state_url(settings: Settings, dry_run: bool, scratch: Path) -> str:
    """A dry run must change nothing: without a state file yet it works on a scratch copy of nothing."""
    url = settings.state.url
    if dry_run and url.startswith("sqlite://"):
        path = Path(url.removeprefix("sqlite://"))
        if not path.exists():
            return f"sqlite://{scratch / 'dry-run.db'}"
    return url


async def once(
    config: Path | None, rules_override: Path | None, *, dry_run: bool, console: Console, err: Console
) -> int:
    """One cycle: poll, evaluate, persist and deliver (to Slack with SLACK_BOT_TOKEN, else the terminal)."""
    try:
        loaded = load_all(config, rules_override)
    except LoadError as exc:
        for problem in exc.problems:
            _say(err, problem, "red")
        return EXIT_CONFIG
    settings = loaded.settings
    # A dry run changes nothing: it may look beside a running daemon (no lock, no leadership) and sends
    # nothing (its notifier is never called).
    notifier = ConsoleNotifier(console) if dry_run else make_notifier(settings, console)
    with tempfile.TemporaryDirectory(prefix="workspace-monitor-") as scratch:
        try:
            runtime = build(
                loaded,
                os.environ,
                notifier=notifier,
                replica=f"once:{socket.gethostname()}:{os.getpid()}",
                state_url=_state_url(settings, dry_run, Path(scratch)),
                lock=not dry_run,
                chatops=False,
            )
        except (ConfigurationError, StoreError) as exc:  # missing credentials: refused before any write
            _say(err, f"workspace-monitor: {exc}", "red")
            return EXIT_CONFIG
        try:
            return await _cycle_once(runtime, dry_run=dry_run, console=console, err=err)
        finally:
            await runtime.aclose()


async def _cycle_once(runtime: Runtime, *, dry_run: bool, console: Console, err: Console) -> int:
    if not dry_run:
        refusal = _lead_alone(runtime)
        if refusal is not None:
            _say(err, f"workspace-monitor: {refusal}", "red")
            return EXIT_FAILED
    several = len(runtime.projects) > 1
    failed = False
    try:
        for project in runtime.projects:
            try:
                report = await project.engine.run_cycle(persist=not dry_run)
            except WorkspaceError as exc:
                where = f"project {project.name}: " if several else ""
                _say(err, f"workspace-monitor: {where}{exc}", "red")
                failed = True
                continue
            show_decisions(report, console, project=project.name if several else None)
            if dry_run:
                for entry in report.outbox:
                    _say(console, f"would send to {entry.channel}:", "bold")
                    _say(console, render_text(entry.payload))
            if not report.complete:
                problems = "; ".join(report.problems)
                where = f" of project {project.name}" if several else ""
                incomplete = f"the listing{where} was incomplete, so nothing was resolved: {problems}"
                _say(err, f"workspace-monitor: {incomplete}", "yellow")
                failed = True
        if not dry_run:
            dispatched = await runtime.dispatcher.flush()
            if dispatched.failed:
                failed_text = f"{dispatched.failed} notification(s) failed: {dispatched.errors}"
                _say(err, failed_text, "red")
    except StoreError as exc:
        _say(err, f"workspace-monitor: {exc}", "red")
        return EXIT_FAILED
    return EXIT_FAILED if failed else EXIT_OK


def _lead_alone(runtime: Runtime) -> str | None:
    """On shared (PostgreSQL) state, `once` acts only as the leader would, holding leadership for its cycle
    (the runtime lets go of it when it closes): None, or why not. SQLite state needs nothing."""
    leadership, store = runtime.leader.leadership, runtime.store
    if isinstance(leadership, SoleLeadership) or not isinstance(store, TermedStore):
        return None
    if not leadership.check():
        leader = runtime.store.get_meta("leader") or "another replica"
        return (
            f"{leader} leads this state: `once` would act beside it. Stop the daemons first, or use --dry-run"
        )
    try:
        store.begin_term()  # a replica that led before is refused from now on
    except StoreError as exc:
        return str(exc)
    return None


def show_decisions(report: CycleReport, console: Console, *, project: str | None = None) -> None:
    seconds = (report.finished_at - report.started_at).total_seconds()
    _say(
        console,
        ("" if project is None else f"project {project}: ")
        + f"cycle: {report.tasks} failing tasks, {len(report.decisions)} decisions, "
        f"{len(report.outbox)} notifications, {seconds:.2f} s"
        + ("" if report.complete else " (listing INCOMPLETE)"),
        "bold",
    )
    for note in report.decisions:
        _say(console, f"  {note.kind:<9} {note.rule}: {note.task_name or note.task_id} - {note.reason}")


def _say(console: Console, line: str, style: str = "") -> None:
    """One line of `once`: as text, never markup, and with whatever a terminal would act on (escape
    sequences in a task name, a rule or an API error) made harmless, as the tasks table and the console
    notifier do."""
    console.print(Text(terminal_safe(line), style=style))


def schema() -> int:
    print(json.dumps(rule_file_json_schema(), indent=2))
    return EXIT_OK
