"""The one-shot commands: `check` (validate config and rules) and `once` (one full cycle, or a dry run).

Both load what the daemon loads, in the same way, so `check` passing means `run` will start, and `once`
shows exactly what a cycle of the daemon would decide and send.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.text import Text

from monitor.config import ConfigError, Settings, load_settings
from monitor.engine import CycleReport
from monitor.leader import Leadership, leadership_for
from monitor.logs import register_secret
from monitor.notify.console import ConsoleNotifier
from monitor.notify.dispatch import Dispatcher, Notifier
from monitor.notify.text import render_text, terminal_safe
from monitor.preflight import start_problems
from monitor.projects import close_projects, project_clients, watch_projects
from monitor.rules import RuleFileError, RuleSet, load_rules
from monitor.slack.client import web_client
from monitor.slack.notifier import SlackNotifier, online_check
from monitor.store import Store, StoreError, lock_state, open_store
from monitor.store.postgres import PostgresStore
from monitor.store.urls import url_secrets
from monitor.workspace.errors import ConfigurationError, WorkspaceError

__all__ = ["Loaded", "check", "load_all", "make_notifier", "once", "rules_path"]

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


class LoadError(Exception):
    """Config or rules cannot be used; `problems` are `file:line: problem` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Loaded:
    settings: Settings
    ruleset: RuleSet


def rules_path(settings: Settings) -> Path:
    """`rules:` as written, relative paths taken from the config file's directory."""
    path = Path(settings.rules)
    if not path.is_absolute() and settings.source != "(defaults)":
        path = Path(settings.source).parent / path
    return path


def load_all(config: Path | None, rules_override: Path | None = None) -> Loaded:
    """Settings and rules, every problem of both collected. Raises LoadError."""
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        raise LoadError(exc.problems) from None
    path = rules_override or rules_path(settings)
    try:
        ruleset = load_rules(path)
    except RuleFileError as exc:
        raise LoadError(exc.problems) from None
    problems: list[str] = []
    if not settings.slack.default_channel:
        problems.extend(
            f"{rule.location}: rule {rule.name!r} has no channel and slack.default_channel is not set"
            for rule in ruleset.rules
            if not rule.channel
        )
    if problems:
        raise LoadError(problems)
    return Loaded(settings, ruleset)


def check(config: Path | None, rules_override: Path | None, console: Console, *, online: bool = False) -> int:
    try:
        loaded = load_all(config, rules_override)
    except LoadError as exc:
        for problem in exc.problems:
            console.print(Text(problem), style="red", soft_wrap=True)
        console.print(Text(f"{len(exc.problems)} problem(s) found"), style="bold red")
        return EXIT_FAILED
    # What `run` checks before it starts, from the same function: `check` passing means `run` starts.
    problems = start_problems(loaded.settings, os.environ)
    if problems:
        for problem in problems:
            console.print(Text(problem), style="red", soft_wrap=True)
        console.print(Text(f"{len(problems)} problem(s) found"), style="bold red")
        return EXIT_FAILED
    if online:
        notes: list[str] = []
        token = os.environ.get("SLACK_BOT_TOKEN")
        if token:
            register_secret(token)
            problems, notes = asyncio.run(online_check(token, loaded.settings.slack.api_url))
            if problems:
                for problem in problems:
                    console.print(Text(problem), style="red", soft_wrap=True)
                console.print(Text(f"{len(problems)} problem(s) found"), style="bold red")
                return EXIT_FAILED
        for note in notes:
            console.print(Text(note), style="yellow", soft_wrap=True)
    ruleset = loaded.ruleset
    console.print(
        Text(
            f"OK: {len(ruleset.rules)} rules and {len(ruleset.silences)} silences in "
            f"{len(ruleset.files)} file(s); config {loaded.settings.source}"
        )
    )
    return EXIT_OK


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
    register_secret(*url_secrets(settings.state.url))
    try:
        clients = project_clients(settings, os.environ)  # missing credentials: refused before any write
    except ConfigurationError as exc:
        _say(err, f"workspace-monitor: {exc}", "red")
        return EXIT_CONFIG
    projects = []
    with tempfile.TemporaryDirectory(prefix="workspace-monitor-") as scratch, contextlib.ExitStack() as held:
        try:
            if not dry_run:  # a dry run changes nothing: it may look beside a running daemon
                state_lock = lock_state(settings.state.url)
                if state_lock is not None:
                    held.callback(state_lock.release)
            store: Store = open_store(_state_url(settings, dry_run, Path(scratch)))
        except StoreError as exc:
            _say(err, f"workspace-monitor: {exc}", "red")
            return EXIT_CONFIG
        leadership = None
        if not dry_run:
            leadership, refusal = _lead_alone(settings, store)
            if refusal is not None:
                store.close()
                _say(err, f"workspace-monitor: {refusal}", "red")
                return EXIT_FAILED
        projects = watch_projects(clients, settings, store, loaded.ruleset)
        several = len(projects) > 1
        failed = False
        try:
            for project in projects:
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
                notifier = make_notifier(settings, console)
                dispatched = await Dispatcher(store, notifier, claimer="once").flush()
                if dispatched.failed:
                    failed_text = f"{dispatched.failed} notification(s) failed: {dispatched.errors}"
                    _say(err, failed_text, "red")
        except StoreError as exc:
            _say(err, f"workspace-monitor: {exc}", "red")
            return EXIT_FAILED
        finally:
            await close_projects(projects)
            if leadership is not None:
                leadership.close()
            store.close()
    return EXIT_FAILED if failed else EXIT_OK


def _lead_alone(settings: Settings, store: Store) -> tuple[Leadership | None, str | None]:
    """On shared (PostgreSQL) state, `once` acts only as the leader would, holding leadership for its cycle:
    (the leadership to close afterwards, None) or (None, why not). SQLite state needs nothing."""
    if not isinstance(store, PostgresStore):
        return None, None
    leadership = leadership_for(settings.state.url, f"once:{socket.gethostname()}:{os.getpid()}",
                                settings.state.lease)  # fmt: skip
    if not leadership.check():
        leadership.close()
        leader = store.get_meta("leader") or "another replica"
        return None, (
            f"{leader} leads this state: `once` would act beside it. Stop the daemons first, or use --dry-run"
        )
    try:
        store.begin_term()  # a replica that led before is refused from now on
    except StoreError as exc:
        leadership.close()
        return None, str(exc)
    return leadership, None


def make_notifier(settings: Settings, console: Console | None = None) -> Notifier:
    """Slack when `SLACK_BOT_TOKEN` is set (at `slack.api_url`), the terminal otherwise."""
    token = os.environ.get("SLACK_BOT_TOKEN")
    if not token:
        return ConsoleNotifier(console)
    register_secret(token)
    return SlackNotifier(web_client(token, settings.slack.api_url))


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
