"""The chatops app as `run` uses it: built from the settings and the environment (`check` asks
`monitor.preflight`, which asks `configuration_problem`, whether the Slack mode has its tokens).

    chatops_for_daemon   the app next to the daemon: its own Workspace client (wider concurrency, so
                         `/tasks list` over 10,000 tasks answers in about a second; its requests capped
                         by `monitor.chatops.limits`), the daemon's store,
                         a status read from the store's meta (shared by HA replicas: a follower answers
                         `/tasks status` about the leader's polls), and a `/healthz` probe

The app never depends on being the HA leader: followers answer commands too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
import httpx
import structlog

from monitor.chatops.access import CHANNEL_NAME, USER_HANDLE, Access
from monitor.chatops.handlers import Deps, RuntimeStatus
from monitor.chatops.limits import API_BURST, API_RATE, CappedTransport, TokenBucket
from monitor.chatops.names import resolve_names
from monitor.chatops.service import ChatopsService, SlackTokens, app_enabled, configuration_problem
from monitor.chatops.tokens import Backoff, TokenKind
from monitor.config import Credentials, Settings
from monitor.metrics import Health
from monitor.store import Store
from monitor.workspace.client import WorkspaceClient
from monitor.workspace.factory import build_client, tls_context

__all__ = [
    "LIST_CONCURRENCY",
    "ChatopsConfigError",
    "DaemonChatops",
    "chatops_for_daemon",
    "status_with_tokens",
]

log = structlog.get_logger(__name__)

#: Pages the app's own client fetches at once. 10 requests in flight at ~50 ms each stays within the API's
#: default 200 requests/s per API (throttling is honoured anyway), and pages 10,000 tasks in about a second.
LIST_CONCURRENCY = 10


class ChatopsConfigError(Exception):
    """The Slack mode lacks a token; the message says, in one line, what to set."""


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def store_status(store: Store, health: Health, replica: str | None = None) -> Callable[[], RuntimeStatus]:
    """`/tasks status` from the engine's meta (last_cycle_at/complete/tasks), the leader the store names,
    and this replica's health."""

    def status() -> RuntimeStatus:
        started = _parse_time(store.get_meta("last_cycle_at"))
        complete = store.get_meta("last_cycle_complete")
        tasks = store.get_meta("last_cycle_tasks")
        seconds = None
        if started is not None and health.last_success is not None and health.last_success >= started:
            seconds = (health.last_success - started).total_seconds()
        return RuntimeStatus(
            last_poll_at=started,
            last_poll_seconds=seconds,
            last_poll_complete=None if complete is None else complete == "yes",
            last_poll_tasks=int(tasks) if tasks and tasks.isdigit() else None,
            api_error=health.last_error,
            leader=(leader := store.get_meta("leader")),
            leader_is_me=leader is not None and leader == replica,
        )

    return status


@dataclass
class DaemonChatops:
    service: ChatopsService
    client: WorkspaceClient
    deps: Deps
    #: `slack.admins` and `slack.allowed_channels` as configured: ids, and names to look up.
    admins: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    backoff: Backoff = field(default_factory=Backoff)
    _lookup: asyncio.Task[None] | None = None

    def reload(self, settings: Settings) -> None:
        """SIGHUP: new admins and allowed channels at once (names looked up again); a new mode, URL or
        token needs a restart."""
        self.admins, self.channels = settings.slack.admins, settings.slack.allowed_channels
        self.deps.access = Access.of(self.admins, self.channels)
        if (settings.slack.mode, settings.slack.api_url, settings.slack.listen) != (
            self.service.mode,
            self.service.settings.api_url,
            self.service.settings.listen,
        ):
            log.warning("chatops.restart_needed", reason="slack.mode, api_url or listen changed")
        log.info(
            "chatops.reloaded", admins=len(self.deps.access.admins), channels=len(self.deps.access.channels)
        )
        self._look_up_names()

    def _look_up_names(self) -> None:
        if self._lookup is not None:
            self._lookup.cancel()
        self._lookup = None
        if any(USER_HANDLE.fullmatch(n) for n in self.admins) or any(
            CHANNEL_NAME.fullmatch(n) for n in self.channels
        ):
            self._lookup = asyncio.create_task(self._names(), name="chatops-names")

    async def _names(self) -> None:
        """`@handle` and `#name` entries to ids (`monitor.chatops.names`), retried while Slack is out of
        reach; until then (and for names that are not found) they grant nothing."""
        self.backoff.reset()
        while True:
            try:
                found = await resolve_names(self.service.client, self.admins, self.channels)
                break
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                log.info("chatops.access_names_retry", error=repr(exc)[:200])
                await asyncio.sleep(self.backoff.delay())
        ids = Access.of(self.admins, self.channels)
        self.deps.access = Access(ids.admins | found.users, ids.channels | found.channels)
        for problem in found.problems:
            log.warning("chatops.access_name_unresolved", problem=problem)
        log.info(
            "chatops.access_names_resolved", admins=len(self.deps.access.admins),
            channels=len(self.deps.access.channels), unresolved=len(found.problems),
        )  # fmt: skip

    async def start(self) -> None:
        await self.service.start()
        self._look_up_names()

    async def stop(self) -> None:
        if self._lookup is not None:
            self._lookup.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lookup
        await self.service.stop()
        await self.client.aclose()


def status_with_tokens(
    status: Callable[[], RuntimeStatus], service: ChatopsService
) -> Callable[[], RuntimeStatus]:
    """`/tasks status` says first that Slack rejects a token ("Slack bot token rejected (token_revoked)")."""

    def with_tokens() -> RuntimeStatus:
        current = status()
        rejected = service.token_state.problem()
        if rejected is not None:
            current.slack_error = rejected
        return current

    return with_tokens


def chatops_for_daemon(
    settings: Settings,
    credentials: Credentials,
    store: Store,
    health: Health,
    *,
    clock: Callable[[], datetime],
    observer: Callable[[str, str], None] | None = None,
    env: Mapping[str, str] | None = None,
    replica: str | None = None,
    on_token_rejected: Callable[[TokenKind, str], None] | None = None,
) -> DaemonChatops | None:
    """The app for `run`, or None when Slack is off. Raises ChatopsConfigError when a token is missing."""
    tokens = SlackTokens.from_env(os.environ if env is None else env)
    problem = configuration_problem(settings.slack, tokens)
    if problem is not None:
        raise ChatopsConfigError(problem)
    if not app_enabled(settings.slack, tokens):
        return None
    # With several projects, /tasks answers about the first one listed (alerts and silences: all of them).
    _, prefix, first = settings.workspace.per_project()[0]
    if prefix:
        credentials = Credentials.from_env(os.environ if env is None else env, prefix)
    workspace = first.model_copy(update={"concurrency": max(first.concurrency, LIST_CONCURRENCY)})
    # Every request of the app's client waits for a token: at most API_RATE a second after a burst, so people
    # asking can never take the API quota the poller needs (the poller's client is another one).
    connections = httpx.Limits(max_connections=workspace.concurrency)
    transport = CappedTransport(
        httpx.AsyncHTTPTransport(verify=tls_context(workspace.ca_bundle), limits=connections),
        TokenBucket(API_RATE, API_BURST),
    )
    client = build_client(workspace, credentials, observer=observer, transport=transport)
    deps = Deps(
        tasks=client,
        store=store,
        clock=clock,
        access=Access.of(settings.slack.admins, settings.slack.allowed_channels),
        status=store_status(store, health, replica),
    )
    service = ChatopsService(settings.slack, tokens, deps, on_token_rejected=on_token_rejected)
    health.probes.append(service.problem)
    deps.status = status_with_tokens(deps.status, service)
    return DaemonChatops(
        service, client, deps, admins=settings.slack.admins, channels=settings.slack.allowed_channels
    )
