"""The composition root: what `run` and `once` load and build, in one place.

    load_all(config, rules)   settings and rules, every problem of both collected (LoadError)
    project_clients           each watched project's name and Workspace client (`workspace.projects`, or the
                              one `workspace.project_id`), built before anything is opened or written
    watch_projects            an engine for each, over the shared store and rules
    make_notifier             Slack with SLACK_BOT_TOKEN, else the terminal

A project's name is what rules match (`match: {project: ...}`), what messages show, and part of each
alert's identity; without `workspace.projects` it is the project id, as it always was.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from monitor.config import ConfigError, Credentials, Settings, WorkspaceSettings, load_settings
from monitor.engine import Engine
from monitor.logs import register_secret
from monitor.notify.console import ConsoleNotifier
from monitor.notify.dispatch import Notifier
from monitor.rules.index import RuleSet
from monitor.rules.load import RuleFileError, load_rules
from monitor.slack.client import web_client
from monitor.slack.notifier import SlackNotifier
from monitor.store.base import Store
from monitor.workspace.client import WorkspaceClient
from monitor.workspace.errors import ConfigurationError
from monitor.workspace.factory import build_client

__all__ = [
    "LoadError",
    "Loaded",
    "WatchedProject",
    "close_projects",
    "cycle_deadline",
    "load_all",
    "make_notifier",
    "project_clients",
    "rules_path",
    "watch_projects",
]


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


def make_notifier(settings: Settings, console: Console | None = None) -> Notifier:
    """Slack when `SLACK_BOT_TOKEN` is set (at `slack.api_url`), the terminal otherwise."""
    token = os.environ.get("SLACK_BOT_TOKEN")
    if not token:
        return ConsoleNotifier(console)
    register_secret(token)
    return SlackNotifier(web_client(token, settings.slack.api_url))


@dataclass
class WatchedProject:
    name: str
    client: WorkspaceClient
    engine: Engine


def project_clients(
    settings: Settings, env: Mapping[str, str], *, observer: Callable[[str, str], None] | None = None
) -> list[tuple[str, WorkspaceClient]]:
    """Each project's name and client. Built before anything is opened or written, so that missing
    credentials are refused first: ConfigurationError, naming the project when there are several."""
    clients: list[tuple[str, WorkspaceClient]] = []
    several = len(settings.workspace.projects) > 1
    for name, prefix, workspace in settings.workspace.per_project():
        credentials = Credentials.from_env(env, prefix)
        register_secret(credentials.secret_key, credentials.security_token, credentials.iam_password,
                        credentials.auth_token)  # fmt: skip
        try:
            client = build_client(workspace, credentials, observer=observer)
        except ConfigurationError as exc:
            # The clients built so far have opened nothing yet (httpx connects on the first request).
            if several or prefix:
                raise ConfigurationError(f"project {name}: {exc}") from None
            raise
        clients.append((name, client))
    return clients


def watch_projects(
    clients: list[tuple[str, WorkspaceClient]], settings: Settings, store: Store, ruleset: RuleSet
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
                cycle_deadline=cycle_deadline(settings.workspace),
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
