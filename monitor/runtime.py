"""The composition root: everything `run` and `once` work with is loaded and built here, and only here.

    load_all(config, rules) -> Loaded     settings and rules, every problem of both collected (LoadError)
    build(loaded, env) -> Runtime         the parts, wired: each project's Workspace client and engine, the
                                          store (and the SQLite state's lock), leadership, the notifier
                                          behind the dispatcher, selfwatch, the chatops app, metrics, health
    Runtime.apply(loaded)                 a reload (SIGHUP): new rules and settings reach every part that
                                          reads them; what only a restart changes is said, and kept
    Runtime.aclose()                      closes what build opened

The daemon (`monitor.daemon`) schedules the runtime's parts and builds nothing itself; `once`
(`monitor.commands`) builds the same runtime without the chatops app, so it does what a daemon's cycle does.

A project's name is what rules match (`match: {project: ...}`), what messages show, and part of each
alert's identity; without `workspace.projects` it is the project id, as it always was.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from rich.console import Console

from monitor.config import ConfigError, Credentials, Settings, WorkspaceSettings, load_settings
from monitor.delivery_watch import DeliveryWatch
from monitor.engine import Engine
from monitor.leader import LeaderWatch, leadership_for
from monitor.logs import register_secret
from monitor.metrics import Health, Metrics
from monitor.notify.console import ConsoleNotifier
from monitor.notify.dispatch import Dispatcher, Notifier
from monitor.pagerduty.notifier import ROUTING_KEY, PagerDutyNotifier
from monitor.rules.index import RuleSet
from monitor.rules.load import RuleFileError, load_rules
from monitor.selfwatch import SelfWatch
from monitor.slack.client import web_client
from monitor.slack.notifier import SlackNotifier
from monitor.slack.report import ReportNotifier
from monitor.store import StateLock, lock_state, open_store
from monitor.store.base import Store
from monitor.store.urls import url_secrets
from monitor.workspace.client import WorkspaceClient
from monitor.workspace.errors import ConfigurationError
from monitor.workspace.factory import build_client
from monitor.yamlfile import YamlError, parse_yaml

if TYPE_CHECKING:
    from monitor.chatops.runner import DaemonChatops

__all__ = [
    "RESTART_SETTINGS",
    "LoadError",
    "Loaded",
    "Runtime",
    "WatchedProject",
    "build",
    "close_projects",
    "cycle_deadline",
    "load_all",
    "make_notifier",
    "make_pagerduty",
    "make_receivers",
    "project_clients",
    "rules_path",
    "watch_projects",
]

log = structlog.get_logger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


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
    if not settings.pagerduty.routing_key_env:
        problems.extend(
            f"{rule.location}: rule {rule.name!r} sets pagerduty: the config needs pagerduty.routing_key_env"
            for rule in ruleset.rules
            if rule.pagerduty
        )
    problems.extend(report_scope_problems(settings, ruleset))
    if problems:
        raise LoadError(problems)
    return Loaded(settings, ruleset)


def report_scope_problems(settings: Settings, ruleset: RuleSet) -> list[str]:
    """A report scoped to a rule that does not exist would count nothing: each such name, at its line."""
    known = {rule.name for rule in ruleset.rules}
    unknown = [
        (index, position, name)
        for index, report in enumerate(settings.reports)
        for position, name in enumerate(report.scope.rules)
        if name not in known
    ]
    if not unknown:
        return []
    where = _config_locator(settings)
    return [
        f"{where(['reports', index, 'scope', 'rules', position])}: reports.{index}.scope.rules: "
        f"no rule named {name!r} (the rules: {', '.join(sorted(known)) or 'none'})"
        for index, position, name in unknown
    ]


def _config_locator(settings: Settings) -> Callable[[list[str | int]], str]:
    """`file:line` of a path in the config file (read again: only for a problem found after loading)."""
    try:
        _, locator = parse_yaml(Path(settings.source).read_text(encoding="utf-8"), settings.source)
    except (OSError, UnicodeDecodeError, YamlError):
        return lambda path: settings.source
    return locator.where


def make_notifier(
    settings: Settings, console: Console | None = None, env: Mapping[str, str] | None = None
) -> Notifier:
    """Slack when `SLACK_BOT_TOKEN` is set (at `slack.api_url`), the terminal otherwise."""
    token = (os.environ if env is None else env).get("SLACK_BOT_TOKEN")
    if not token:
        return ConsoleNotifier(console)
    register_secret(token)
    return SlackNotifier(web_client(token, settings.slack.api_url), retry=settings.slack.retry_enabled)


def make_receivers(settings: Settings, env: Mapping[str, str] | None = None) -> list[Notifier]:
    """The receivers beside the notifier, chosen by a channel's `kind:` (`pagerduty:...`), each when the
    config sets it up. Raises ConfigurationError when one is set up but its secret is missing or malformed."""
    environ = os.environ if env is None else env
    receivers: list[Notifier] = []
    if settings.pagerduty.routing_key_env:
        receivers.append(make_pagerduty(settings, environ))
    return receivers


def make_pagerduty(settings: Settings, env: Mapping[str, str]) -> PagerDutyNotifier:
    """The PagerDuty receiver, its routing key read from the variable `pagerduty.routing_key_env` names."""
    name = settings.pagerduty.routing_key_env
    key = env.get(name or "", "")
    if not ROUTING_KEY.fullmatch(key):
        what = "is not set" if not key else "is not a routing key (32 letters and digits)"
        raise ConfigurationError(f"{name} (pagerduty.routing_key_env) {what}")
    register_secret(key)
    return PagerDutyNotifier(key, settings.pagerduty.events_url)


@dataclass
class WatchedProject:
    name: str
    client: WorkspaceClient
    engine: Engine


def project_clients(
    settings: Settings,
    env: Mapping[str, str],
    *,
    observer: Callable[[str], Callable[[str, str], None]] | None = None,
) -> list[tuple[str, WorkspaceClient]]:
    """Each project's name and client. Built before anything is opened or written, so that missing
    credentials are refused first: ConfigurationError, naming the project when there are several.
    `observer(name)` is what the project's client tells of each request (`Metrics.api_observer`)."""
    clients: list[tuple[str, WorkspaceClient]] = []
    several = len(settings.workspace.projects) > 1
    for name, prefix, workspace in settings.workspace.per_project():
        credentials = Credentials.from_env(env, prefix)
        register_secret(credentials.secret_key, credentials.security_token, credentials.iam_password,
                        credentials.auth_token)  # fmt: skip
        try:
            client = build_client(workspace, credentials, observer=observer(name) if observer else None)
        except ConfigurationError as exc:
            # The clients built so far have opened nothing yet (httpx connects on the first request).
            if several or prefix:
                raise ConfigurationError(f"project {name}: {exc}") from None
            raise
        clients.append((name, client))
    return clients


def watch_projects(
    clients: list[tuple[str, WorkspaceClient]],
    settings: Settings,
    store: Store,
    ruleset: RuleSet,
    *,
    clock: Callable[[], datetime] = _now,
) -> list[WatchedProject]:
    """An engine for each project's client, over the shared store and rules."""
    return [
        WatchedProject(
            name,
            client,
            Engine(
                client=client,
                store=store,
                ruleset=ruleset,
                project=name,
                default_channel=settings.slack.default_channel,
                clock=clock,
                cycle_deadline=cycle_deadline(settings.workspace),
                overdue_every=settings.workspace.overdue_every,
                history_listing=bool(settings.reports),
            ),
        )
        for name, client in clients
    ]


#: A cycle may take at least this long (a first cycle over 100,000 tasks, a mass failure's lookups).
MIN_CYCLE_DEADLINE = 300.0


def cycle_deadline(workspace: WorkspaceSettings) -> float:
    """The most one cycle may take: three poll intervals (when /healthz gives up too), at least 5 minutes.
    Requests have their own deadline (`workspace.timeout`); this one catches many slow ones in a row."""
    return max(3 * workspace.poll_interval.total_seconds(), MIN_CYCLE_DEADLINE)


async def close_projects(projects: list[WatchedProject]) -> None:
    for project in projects:
        await project.client.aclose()


#: Settings read once at start: a reload that changes one says a restart is needed (and keeps the old value).
RESTART_SETTINGS = (
    "state.url",
    "state.lease",
    "metrics.listen",
    "slack.mode",
    "slack.listen",
    "slack.api_url",
)


def restart_settings_changed(old: Settings, new: Settings) -> list[str]:
    """The RESTART_SETTINGS whose value differs (names only: a state URL may hold a password)."""

    def value(settings: Settings, dotted: str) -> object:
        section, key = dotted.split(".")
        return getattr(getattr(settings, section), key)

    return [name for name in RESTART_SETTINGS if value(old, name) != value(new, name)]


def _project_identities(settings: Settings) -> list[tuple[object, ...]]:
    return [
        (name, prefix, project.project_id, project.region, project.endpoint, project.iam_endpoint)
        for name, prefix, project in settings.workspace.per_project()
    ]


@dataclass
class Runtime:
    """The parts a daemon schedules (and `once` runs one cycle of), built by `build` from one `Loaded`."""

    loaded: Loaded
    #: The settings read once at start (state, listen addresses, projects): what a reload cannot change.
    started_with: Settings
    #: This process among the replicas sharing the state: leadership's name and the outbox's claimer.
    replica: str
    metrics: Metrics
    health: Health
    store: Store
    projects: list[WatchedProject]
    #: Leadership as the daemon watches it; `leader.leadership` is the bare lock (`once` takes it alone).
    leader: LeaderWatch
    #: The notifier (`delivery.notifier`), timed: /healthz names Slack when it stops answering.
    delivery: DeliveryWatch
    dispatcher: Dispatcher
    selfwatch: SelfWatch
    chatops: DaemonChatops | None = None
    #: Held until `aclose`: a second daemon (or `once`) on this SQLite file is refused.
    state_lock: StateLock | None = None
    _closed: bool = field(default=False, repr=False)

    def apply(self, loaded: Loaded) -> None:
        """A reload: the new rules and settings reach every part that reads them (engines, selfwatch, the
        chatops app's access, /healthz's limit). Projects and RESTART_SETTINGS change with a restart only:
        a change to one is logged, compared with what the runtime started with, and not applied. The poll
        schedule is the daemon's to move."""
        if _project_identities(loaded.settings) != _project_identities(self.started_with):
            log.warning("config.projects_need_restart", kept="the projects the daemon started with")
        changed = restart_settings_changed(self.started_with, loaded.settings)
        if changed:
            log.warning("config.restart_needed", settings=changed, kept="the values the daemon started with")
        self.loaded = loaded
        settings = loaded.settings
        for project in self.projects:
            project.engine.ruleset = loaded.ruleset
            project.engine.default_channel = settings.slack.default_channel
            project.engine.cycle_deadline = cycle_deadline(settings.workspace)
            project.engine.overdue_every = settings.workspace.overdue_every
            project.engine.history_listing = bool(settings.reports)
        self.selfwatch.ops_channel = settings.slack.ops_channel or settings.slack.default_channel
        self.selfwatch.threshold = settings.workspace.outage_cycles
        if self.chatops is not None:
            self.chatops.reload(settings)  # who may silence; the mode and tokens need a restart
            self.chatops.deps.ruleset = loaded.ruleset  # /tasks silences' time intervals, report's rules
        self.health.poll_interval = settings.workspace.poll_interval
        self.metrics.poll_interval.set(settings.workspace.poll_interval.total_seconds())
        self.metrics.watch_reports(report.name for report in settings.reports)

    async def aclose(self) -> None:
        """Close what `build` opened: the app, the clients, leadership (at once, so that a follower takes
        over without waiting), the store, the state's lock. Once; later calls do nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.chatops is not None:
                await self.chatops.stop()
            await close_projects(self.projects)
            for receiver in self.dispatcher.receivers.values():
                if isinstance(receiver, PagerDutyNotifier):
                    await receiver.aclose()
            await self.leader.close()
        finally:
            self.store.close()
            if self.state_lock is not None:
                self.state_lock.release()


def build(
    loaded: Loaded,
    env: Mapping[str, str],
    *,
    notifier: Notifier | None = None,
    replica: str | None = None,
    state_url: str | None = None,
    lock: bool = True,
    chatops: bool = True,
    clock: Callable[[], datetime] = _now,
    clients: list[tuple[str, WorkspaceClient]] | None = None,
) -> Runtime:
    """Every part, wired, from `loaded` and the environment `env` (credentials and tokens).

    notifier    where notifications go (default: `make_notifier`: Slack with SLACK_BOT_TOKEN, else the
                terminal)
    replica     this process's name among replicas (default host:pid)
    state_url   the state to open instead of `state.url` (a dry run's scratch copy)
    lock        hold the SQLite state's lock until `aclose` (a dry run looks without it)
    chatops     run the /tasks app when the config asks for it (`once` does without)
    clock       the time every part reads
    clients     each project's name and Workspace client, when the caller built them (tests: a simulator's
                clock, no retry waits); the runtime closes them

    Clients are built first, so that missing credentials are refused before the state file is created or
    touched. Raises ConfigurationError (credentials, project), StoreError (the state, its lock) or
    ChatopsConfigError (a Slack mode without its token); whatever was opened by then is closed again.
    """
    settings = loaded.settings
    credentials = Credentials.from_env(env)
    register_secret(credentials.secret_key, credentials.security_token, credentials.iam_password,
                    credentials.auth_token)  # fmt: skip
    url = state_url or settings.state.url
    register_secret(*url_secrets(url))
    metrics = Metrics()
    health = Health(settings.workspace.poll_interval, clock())
    if clients is None:
        clients = project_clients(settings, env, observer=metrics.api_observer)
    # Every project's series and health from the start: one that never succeeds shows, by name.
    metrics.watch_projects(name for name, _ in clients)
    health.watch_projects(name for name, _ in clients)
    metrics.watch_reports(report.name for report in settings.reports)
    metrics.poll_interval.set(settings.workspace.poll_interval.total_seconds())
    metrics.reloaded(True, clock())
    replica = replica or f"{socket.gethostname()}:{os.getpid()}"
    receivers = make_receivers(settings, env)  # a missing routing key is refused before the state is touched
    with contextlib.ExitStack() as undo:
        state_lock = lock_state(url) if lock else None
        if state_lock is not None:
            undo.callback(state_lock.release)
        store = open_store(url, claim_lease=settings.state.claim_lease)
        undo.callback(store.close)
        notifier = notifier or make_notifier(settings, env=env)
        if isinstance(notifier, SlackNotifier):
            notifier.observer = metrics.slack_call
        delivery = DeliveryWatch(notifier, clock=clock)
        # Reports (`reports:`) go to their own receiver, through Slack's client when Slack is the notifier.
        receivers.append(
            ReportNotifier(notifier if isinstance(notifier, SlackNotifier) else None, observer=metrics)
        )
        app = None
        if chatops:
            from monitor.chatops.runner import chatops_for_daemon

            app = chatops_for_daemon(
                settings, credentials, store, health, clock=clock,
                observer=metrics.api_observer(settings.workspace.per_project()[0][0]), env=env,
                replica=replica, on_token_rejected=metrics.token_rejected, on_command=metrics.chatops_command,
                on_slack_call=metrics.slack_call,
            )  # fmt: skip
            if app is not None:
                app.deps.ruleset = loaded.ruleset
                service = app.service
                metrics.watch_app(service.mode, lambda: service.problem() is None)
        # After the app's probe: /healthz names a down Slack link before the deliveries it holds up.
        health.probes.append(lambda: delivery.problem(3 * health.poll_interval))
        undo.pop_all()
    slack = settings.slack
    return Runtime(
        loaded=loaded,
        started_with=settings,
        replica=replica,
        metrics=metrics,
        health=health,
        store=store,
        projects=watch_projects(clients, settings, store, loaded.ruleset, clock=clock),
        leader=LeaderWatch(leadership_for(url, replica, settings.state.lease), store, metrics.registry),
        delivery=delivery,
        dispatcher=Dispatcher(store, delivery, claimer=replica, clock=clock, receivers=receivers),
        selfwatch=SelfWatch(
            store,
            ops_channel=slack.ops_channel or slack.default_channel,
            threshold=settings.workspace.outage_cycles,
            clock=clock,
        ),
        chatops=app,
        state_lock=state_lock,
    )
