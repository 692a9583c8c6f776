"""The chatops app, built and run in one place (the bolt listeners are `monitor.chatops.app`'s).

    chatops_for_daemon   the app next to the daemon, built from the settings and the environment
                         (`monitor.runtime` calls it): its own Workspace client (wider concurrency, so
                         `/tasks list` over 10,000 tasks answers in about a second; its requests capped by
                         `monitor.chatops.limits`), the daemon's store, a status read from the store's meta
                         (shared by HA replicas: a follower answers `/tasks status` about the leader's polls),
                         a `/healthz` probe; `DaemonChatops.reload` for who may silence; retries
                         (`slack.actions: [retry]`) with the same client
    ChatopsService       runs the app next to the daemon's scheduler, in the same event loop, in its mode

Modes:
    socket   (default) slack_sdk's aiohttp Socket Mode client: SLACK_APP_TOKEN (xapp-) opens a websocket
             through `apps.connections.open`; no public URL needed. Connecting happens in the background
             (the client retries until Slack answers), so alerts flow while Slack is unreachable. A token
             Slack rejects is said once and retried with a bounded backoff (`monitor.chatops.tokens`).
    http     bolt's aiohttp server on `slack.listen`, POST /slack/events, every request verified with
             SLACK_SIGNING_SECRET (unsigned, wrongly signed or older than 5 minutes: 401). A request whose
             body has not arrived within `body_timeout` seconds is answered 408 and its connection closed
             (aiohttp itself bounds the headers by its keep-alive timeout, but waits for a body for ever: a
             few slow clients would hold the listener's connections open).
    none     no app: alerts only.

Both modes need SLACK_BOT_TOKEN. `configuration_problem` says, in one line, what to set when a token is
missing; `check` (through `monitor.preflight`) and `run` refuse with it. A config that never mentions
`slack.mode` and an environment with no SLACK_BOT_TOKEN at all mean "no Slack" (alerts on the terminal, as
before there was an app), not an error.

`problem()` feeds `/healthz`: in Socket Mode it says why the link is down (checked every `watch_every`
seconds; down on two checks in a row, so Slack's routine link refresh goes unnoticed); an HTTP server that
listens is healthy. The app never depends on being the HA leader: followers answer commands too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
import httpx
import structlog
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from monitor.chatops.access import CHANNEL_NAME, USER_HANDLE, Access
from monitor.chatops.app import build_app
from monitor.chatops.handlers import Deps, RuntimeStatus
from monitor.chatops.limits import API_BURST, API_RATE, CappedTransport, TokenBucket
from monitor.chatops.names import resolve_names
from monitor.chatops.replies import ProjectPoll
from monitor.chatops.retry import Retrier
from monitor.chatops.tokens import TOKEN_ERRORS, Backoff, TokenKind, TokenState
from monitor.config import Credentials, Settings, SlackSettings, split_listen
from monitor.logs import register_secret
from monitor.metrics import Health
from monitor.slack.client import ObservedWebClient, SlackObserver, app_client
from monitor.store import Store
from monitor.workspace.client import WorkspaceClient
from monitor.workspace.factory import build_client, tls_context

__all__ = [
    "EVENTS_PATH",
    "LIST_CONCURRENCY",
    "ChatopsConfigError",
    "ChatopsService",
    "DaemonChatops",
    "SlackTokens",
    "app_enabled",
    "chatops_for_daemon",
    "configuration_problem",
    "status_with_tokens",
    "store_status",
]

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

EVENTS_PATH = "/slack/events"
#: Seconds a request's body may take to arrive (Slack sends a few kB at once and wants its ack within 3 s).
BODY_TIMEOUT = 10.0


@dataclass(frozen=True)
class SlackTokens:
    """bolt's variables, from the environment only. `repr` never shows them."""

    bot: str | None = None
    app: str | None = None
    signing_secret: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SlackTokens:
        tokens = cls(
            bot=env.get("SLACK_BOT_TOKEN") or None,
            app=env.get("SLACK_APP_TOKEN") or None,
            signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
        )
        register_secret(tokens.bot, tokens.app, tokens.signing_secret)
        return tokens

    def __repr__(self) -> str:
        present = [name for name, value in vars(self).items() if value]
        return f"SlackTokens(set={present})"


def app_enabled(settings: SlackSettings, tokens: SlackTokens) -> bool:
    """Whether to run the app: a mode other than none, chosen in the file or implied by a bot token."""
    if settings.mode == "none":
        return False
    return "mode" in settings.model_fields_set or tokens.bot is not None


def configuration_problem(settings: SlackSettings, tokens: SlackTokens) -> str | None:
    """One line saying what to set when the chosen mode lacks a token; None when the app can start."""
    if not app_enabled(settings, tokens):
        return None
    mode = f"slack.mode is {settings.mode}" + (
        "" if "mode" in settings.model_fields_set else " (the default)"
    )
    alternative = "or set slack.mode: none for alerts only"
    if tokens.bot is None:
        return f"{mode}: set SLACK_BOT_TOKEN (the app's xoxb- bot token), {alternative}"
    if settings.mode == "socket" and not (tokens.app or "").startswith("xapp-"):
        what = "is not an app-level token (xapp-...)" if tokens.app else "is not set"
        return (
            f"{mode}, but SLACK_APP_TOKEN {what}: create one with connections:write under Basic Information "
            f"> App-Level Tokens, or use slack.mode: http with SLACK_SIGNING_SECRET, {alternative}"
        )
    if settings.mode == "http" and tokens.signing_secret is None:
        return f"{mode}: set SLACK_SIGNING_SECRET (Basic Information > Signing Secret), {alternative}"
    return None


class ChatopsService:
    """The app in its mode: `await start()` (returns at once), `problem()` for health, `await stop()`."""

    def __init__(
        self,
        settings: SlackSettings,
        tokens: SlackTokens,
        deps: Deps,
        *,
        client: AsyncWebClient | None = None,
        ping_interval: float = 10.0,
        watch_every: float = 5.0,
        on_token_rejected: Callable[[TokenKind, str], None] | None = None,
        backoff: Backoff | None = None,
        bot_check_every: float = 300.0,
        body_timeout: float = BODY_TIMEOUT,
    ) -> None:
        problem = configuration_problem(settings, tokens)
        if settings.mode == "none":
            problem = "slack.mode is none: there is no app to run"
        if problem is not None:
            raise ValueError(problem)
        self.settings = settings
        self.mode = settings.mode
        self.client = client or app_client(tokens.bot, settings.api_url)
        http = self.mode == "http"
        self.app = build_app(deps, client=self.client, signing_secret=tokens.signing_secret if http else None)
        self._tokens = tokens
        self._ping_interval = ping_interval
        self._watch_every = watch_every
        self._socket: AsyncSocketModeHandler | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self._problem: str | None = "not started"
        #: Tokens Slack refuses (logged once, counted, retried with `backoff`): first in `problem()`.
        self.token_state = TokenState(on_token_rejected or (lambda kind, error: None))
        self._backoff = backoff or Backoff()
        self._bot_check_every = bot_check_every
        #: HTTP mode: seconds a request's body may take to arrive (read when each request comes in).
        self.body_timeout = body_timeout
        #: HTTP mode: the address bolt listens on (the real port when `slack.listen` asks for port 0).
        self.address: str | None = None

    def problem(self) -> str | None:
        """Why the Slack app cannot answer right now (a rejected token first), or None when it can."""
        return self.token_state.problem() or self._problem

    async def start(self) -> None:
        if self.mode == "http":
            await self._start_http()
        else:
            await self._start_socket()
        self._tasks.append(asyncio.create_task(self._check_bot_token(), name="chatops-bot-token"))

    async def _check_bot_token(self) -> None:
        """`auth.test` now and every `bot_check_every` seconds: a bot token revoked mid-run shows in health
        and `/tasks status` (network trouble says nothing here: the link and the outbox report that)."""
        backoff = Backoff(self._backoff.first, self._backoff.longest)
        while True:
            delay = self._bot_check_every
            try:
                await self.client.auth_test()
            except SlackApiError as exc:
                error = str(exc.response.get("error"))
                if error in TOKEN_ERRORS:
                    self.token_state.rejected("bot", error)
                    delay = min(delay, backoff.delay())
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                log.info("chatops.bot_check_failed", error=repr(exc)[:200])
            else:
                self.token_state.accepted("bot")
                backoff.reset()
            await asyncio.sleep(delay)

    async def _issue_link(self, handler: AsyncSocketModeHandler) -> str:
        """Replaces slack_sdk's `issue_new_wss_url`: a rejected app token is said once and retried after a
        growing delay (5 s ... 5 minutes), instead of a traceback every ping interval forever."""
        while True:
            try:
                response = await handler.client.web_client.apps_connections_open(
                    app_token=handler.client.app_token
                )
            except SlackApiError as exc:
                error = str(exc.response.get("error"))
                if error not in TOKEN_ERRORS:
                    raise  # slack_sdk retries (and waits out `ratelimited`) as before
                self.token_state.rejected("app", error)
                if handler.client.closed:
                    raise
                await asyncio.sleep(self._backoff.delay())
                continue
            self.token_state.accepted("app")
            self._backoff.reset()
            return str(response["url"])

    async def _start_http(self) -> None:
        host, port = split_listen(self.settings.listen)
        web_app = self.app.web_app(path=EVENTS_PATH)
        web_app.middlewares.append(self._body_deadline)
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound = self._runner.addresses[0]
        self.address = f"{bound[0]}:{bound[1]}"
        self._problem = None
        log.info("chatops.listening", mode="http", address=self.address, path=EVENTS_PATH)

    @web.middleware
    async def _body_deadline(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Read the body within `body_timeout` (aiohttp keeps it for bolt's own read), or answer 408."""
        try:
            async with asyncio.timeout(self.body_timeout):
                await request.read()
        except TimeoutError:
            log.warning("chatops.request_body_timeout", seconds=self.body_timeout)
            return web.Response(status=408, text="request body too slow\n", headers={"Connection": "close"})
        return await handler(request)

    async def _start_socket(self) -> None:
        self._socket = AsyncSocketModeHandler(
            self.app,
            app_token=self._tokens.app,
            logger=logging.getLogger("monitor.chatops.socket"),
            ping_interval=self._ping_interval,
        )
        handler = self._socket
        handler.client.issue_new_wss_url = lambda: self._issue_link(handler)  # type: ignore[method-assign]
        self._problem = "Socket Mode: connecting to Slack"
        # connect() retries until Slack answers: in the background, so start-up never waits for Slack.
        self._tasks.append(asyncio.create_task(self._socket.connect_async(), name="chatops-connect"))  # type: ignore[no-untyped-call]
        self._tasks.append(asyncio.create_task(self._watch(self._socket), name="chatops-watch"))
        log.info("chatops.connecting", mode="socket")

    async def _watch(self, handler: AsyncSocketModeHandler) -> None:
        # Down only when two checks in a row find it down: Slack refreshes links every few hours, and the
        # client reconnects within a second; a probe catching that moment must not fail /healthz.
        was_down = False
        while True:
            down = not await handler.client.is_connected()
            if self._problem is not None and not down:
                log.info("chatops.connected", mode="socket")
                self._problem = None
            elif self._problem is None and down and was_down:
                log.warning("chatops.disconnected", mode="socket")
                self._problem = "Socket Mode: the connection to Slack is down"
            was_down = down
            await asyncio.sleep(self._watch_every)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._problem = "stopped"
        log.info("chatops.stopped", mode=self.mode)


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
    and this replica's health (its errors, and each project's last successful cycle as /healthz judges)."""

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
            projects=tuple(
                ProjectPoll(name, health.projects[name], health.errors.get(name))
                for name in sorted(health.projects)
            ),
        )

    return status


@dataclass
class DaemonChatops:
    """The app as a daemon runs it: the service in its mode, the app's own Workspace client (closed on
    `stop`), and who may silence (`reload`, names looked up to ids in the background)."""

    service: ChatopsService
    client: WorkspaceClient
    deps: Deps
    #: `slack.admins` and `slack.allowed_channels` as configured: ids, and names to look up.
    admins: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    backoff: Backoff = field(default_factory=Backoff)
    _lookup: asyncio.Task[None] | None = None

    def reload(self, settings: Settings) -> None:
        """SIGHUP: new admins and allowed channels at once (names looked up again); a new mode, URL,
        token or `slack.actions` needs a restart."""
        self.admins, self.channels = settings.slack.admins, settings.slack.allowed_channels
        self.deps.access = Access.of(self.admins, self.channels)
        if (settings.slack.mode, settings.slack.api_url, settings.slack.listen) != (
            self.service.mode,
            self.service.settings.api_url,
            self.service.settings.listen,
        ):
            log.warning("chatops.restart_needed", reason="slack.mode, api_url or listen changed")
        if settings.slack.retry_enabled != (self.deps.retry is not None):
            log.warning("chatops.restart_needed", reason="slack.actions changed")
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
    on_command: Callable[[str, str], None] | None = None,
    on_slack_call: SlackObserver | None = None,
) -> DaemonChatops | None:
    """The app for `run`, or None when Slack is off. Raises ChatopsConfigError when a token is missing."""
    tokens = SlackTokens.from_env(os.environ if env is None else env)
    problem = configuration_problem(settings.slack, tokens)
    if problem is not None:
        raise ChatopsConfigError(problem)
    if not app_enabled(settings.slack, tokens):
        return None
    # With several projects, /tasks answers about the first one listed (alerts and silences: all of them).
    project, prefix, first = settings.workspace.per_project()[0]
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
        # Retries write with the app's client (its writes are never resent: `WorkspaceClient._write`).
        retry=Retrier(client, project=project) if settings.slack.retry_enabled else None,
    )
    if on_command is not None:
        deps.on_command = on_command
    service = ChatopsService(settings.slack, tokens, deps, on_token_rejected=on_token_rejected)
    if isinstance(service.client, ObservedWebClient):
        service.client.observer = on_slack_call
    health.probes.append(service.problem)
    deps.status = status_with_tokens(deps.status, service)
    return DaemonChatops(
        service, client, deps, admins=settings.slack.admins, channels=settings.slack.allowed_channels
    )
