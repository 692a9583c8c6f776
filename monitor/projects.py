"""The projects one daemon watches (`workspace.projects`, or the one `workspace.project_id`), each with its
own Workspace client and engine over the shared store and rules.

A project's name is what rules match (`match: {project: ...}`), what messages show, and part of each
alert's identity; without `workspace.projects` it is the project id, as it always was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from monitor.config import Credentials, Settings, WorkspaceSettings
from monitor.engine import Engine
from monitor.logs import register_secret
from monitor.rules import RuleSet
from monitor.store.base import Store
from monitor.workspace.client import WorkspaceClient
from monitor.workspace.errors import ConfigurationError
from monitor.workspace.factory import build_client

__all__ = ["WatchedProject", "close_projects", "cycle_deadline", "project_clients", "watch_projects"]


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
