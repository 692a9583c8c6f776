"""Why `run` would refuse to start, found without starting anything.

`start_problems(settings, env)` is what `check` reports and what `run` refuses with (one line each, exit 2),
so that `check` passing means `run` starts: the state location (for PostgreSQL, whether the server lets
this user into the database: a missing role or database), each project's credentials, project id, endpoint
and CA bundle (the clients are built, and never used), the Slack mode's tokens, and the addresses to listen
on (`metrics.listen`, `slack.listen` in HTTP mode: a host that does not resolve or is not this machine's, a
port in use or reserved). What only the Workspace API or Slack can tell (a wrong key, a missing scope or
IAM permission) is for `check --online` (`monitor.online`) or the running daemon. A problem that may go away
by itself (a PostgreSQL server not answering yet) is a `Transient`: `run` then exits 1, which systemd
restarts, where every other problem exits 2, which it does not.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

from monitor.config import Settings, split_listen
from monitor.store import StoreError, state_location_problem
from monitor.store.urls import redact_url
from monitor.workspace.errors import ConfigurationError

__all__ = ["Transient", "listen_problem", "start_problems"]


class Transient(str):
    """A start problem that may go away by itself: trying again later can succeed."""

    __slots__ = ()


def start_problems(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """Every reason `run` would refuse to start with these settings and environment, one line each."""
    from monitor.chatops.runner import SlackTokens, configuration_problem
    from monitor.runtime import project_clients

    problems: list[str] = []
    url = settings.state.url
    state = state_location_problem(url) or _state_port_problem(url) or _state_server_problem(url)
    if state is not None:
        problems.append(state)
    try:
        project_clients(settings, env)  # built only: nothing is opened until the first request
    except ConfigurationError as exc:
        problems.append(str(exc))
    slack = configuration_problem(settings.slack, SlackTokens.from_env(env))
    if slack is not None:
        problems.append(slack)
    listening = [("metrics.listen", settings.metrics.listen)]
    if settings.slack.mode == "http":
        listening.append(("slack.listen", settings.slack.listen))
    for name, listen in listening:
        problem = listen_problem(name, listen) if listen else None
        if problem is not None:
            problems.append(f"{settings.source}: {problem}")
    return problems


def _state_server_problem(url: str) -> str | None:
    """PostgreSQL state: whether the server lets this user into that database (a missing role or database,
    a wrong password, a server not answering), by connecting once as `run` will."""
    if url.startswith("sqlite://"):
        return None
    from monitor.store.postgres import connect

    try:
        connect(url).close()
    except StoreError as exc:
        return Transient(exc) if exc.retryable else str(exc)
    return None


def _state_port_problem(url: str) -> str | None:
    try:
        port = urlsplit(url).port
    except ValueError as exc:
        reason = str(exc)
        if (
            "could not be cast" in reason
        ):  # urlsplit quotes what it took for the port: maybe a password's part
            reason = "the port is not a number (a '/', '?', '#' or '@' in a password must be percent-encoded)"
        return f"state.url {redact_url(url)!r}: {reason}"
    return f"state.url {redact_url(url)!r}: port 0 cannot be reached" if port == 0 else None


def listen_problem(name: str, listen: str) -> str | None:
    """Why the daemon could not listen on `listen` (`host:port`), found by binding it for a moment."""
    host, port = split_listen(listen)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else "not a host name"
        return f"{name} {listen!r}: cannot resolve {host!r} ({reason})"
    family, kind, proto, _, address = found[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp's server does
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"{name} {listen!r}: port {port} is in use (another program, or another daemon)"
            if exc.errno == errno.EADDRNOTAVAIL:
                return f"{name} {listen!r}: {host} is not an address of this machine"
            if exc.errno == errno.EACCES:
                return f"{name} {listen!r}: port {port} needs privileges (use a port above 1023)"
            return f"{name} {listen!r}: cannot listen: {exc.strerror or exc}"
    return None
