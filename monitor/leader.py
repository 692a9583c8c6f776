"""Which replica leads: only the leader polls the API and sends notifications; the others stand by.

Leadership is a PostgreSQL session-level advisory lock, `pg_try_advisory_lock(key)`, held on a connection of
its own (`AdvisoryLockLeadership`), the key derived from the state's database and schema. Chosen over a lease
row with an expiry because:
- PostgreSQL releases it the moment the holder's session ends: a SIGKILLed or crashed leader's socket is
  closed by its kernel, its backend exits, and a follower's next try succeeds. No expiry to wait out.
- no clocks compared across hosts, no heartbeat writes: holding it costs nothing; a check is `SELECT 1`.
- a leader cut off from the server finds out itself: its next check fails (TCP keepalives and
  tcp_user_timeout bound how long that takes to `lease`), it says so loudly and stops at once.
The price: a leader whose host vanishes without closing the socket keeps the lock until the server's TCP
keepalives give up (set per session here, to about `lease`).

Checks run every lease/2 (followers try to take over; the leader confirms it still holds the lock) and
right before every cycle. Between a lost connection and the check that notices it, an old leader could
still be mid-cycle. Two things keep that harmless: a new leader starts a term in the store first
(`PostgresStore.begin_term`), after which the old leader's cycle writes are refused, so decisions never
interleave; and every outbox row is claimed with a conditional UPDATE, so no row is ever sent twice.

SQLite state is a single replica's: `SoleLeadership` always leads. Calls block (psycopg): the daemon runs
them in a thread. psycopg is imported only when a PostgreSQL leadership connects: a SQLite daemon never
loads it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import structlog
from prometheus_client import CollectorRegistry, Gauge

from monitor.store.base import Store
from monitor.store.errors import StoreError
from monitor.store.urls import redact_url

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "AdvisoryLockLeadership",
    "LeaderWatch",
    "Leadership",
    "SoleLeadership",
    "TermedStore",
    "leadership_for",
]

log = structlog.get_logger(__name__)


class Leadership(Protocol):
    """Whether this replica leads; `check()` also tries to become the leader when it does not."""

    replica: str

    @property
    def leading(self) -> bool: ...

    def check(self) -> bool:
        """Confirm leadership, or try to take it; True while this replica leads."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class TermedStore(Protocol):
    """A store shared by replicas (PostgreSQL): a new leader starts a term, after which the writes of the
    replicas that led before are refused."""

    def begin_term(self) -> int: ...


class SoleLeadership:
    """The only replica (SQLite state): always the leader."""

    def __init__(self, replica: str) -> None:
        self.replica = replica

    @property
    def leading(self) -> bool:
        return True

    def check(self) -> bool:
        return True

    def close(self) -> None:
        pass


class AdvisoryLockLeadership:
    """Leadership as a session-level advisory lock on a dedicated connection to `url`."""

    def __init__(self, url: str, replica: str, lease: timedelta) -> None:
        self.replica = replica
        self._url = url
        self._lease = lease
        self._connection: psycopg.Connection[Any] | None = None
        self._leading = False

    @property
    def leading(self) -> bool:
        return self._leading

    def check(self) -> bool:
        try:
            if self._leading:
                self._confirm()
            else:
                self._try_take()
        # Anything at all (psycopg's errors, ours, an OSError): a replica unsure of its lock must not lead.
        except Exception as exc:
            self._drop(exc)
        return self._leading

    def close(self) -> None:
        # Unlocked before the session closes: the server frees a closed session's locks only once its
        # backend has exited, a moment later, and a follower trying in between would find it still held.
        if self._connection is not None:
            if self._leading and not self._connection.closed:
                import psycopg

                from monitor.store.postgres import advisory_key

                with contextlib.suppress(psycopg.Error):
                    key = advisory_key(self._connection, "leader")
                    self._connection.execute("SELECT pg_advisory_unlock(%s)", (key,))
            self._connection.close()
            self._connection = None
        if self._leading:
            log.info("leader.resigned", replica=self.replica)
        self._leading = False

    def _try_take(self) -> None:
        from monitor.store.postgres import advisory_key

        db = self._connect()
        row = db.execute("SELECT pg_try_advisory_lock(%s)", (advisory_key(db, "leader"),)).fetchone()
        if row is not None and row[0] is True:
            self._leading = True
            log.info("leader.elected", replica=self.replica, state=redact_url(self._url))

    def _confirm(self) -> None:
        assert self._connection is not None
        # The session still being there is the lock still being held: only it could have released it.
        self._connection.execute("SELECT 1")

    def _drop(self, exc: BaseException) -> None:
        if self._leading:
            log.error(
                "leader.lost",
                replica=self.replica,
                error=str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                action="stopped polling and sending; will try to lead again",
            )
        else:
            log.warning("leader.unavailable", replica=self.replica, error=str(exc).strip().split("\n")[0])
        self._leading = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> psycopg.Connection[Any]:
        if self._connection is None or self._connection.closed:
            from monitor.store.postgres import connect

            seconds = max(1, int(self._lease.total_seconds()))
            self._connection = connect(
                self._url,
                # Both ends give up on a silent peer within about a lease: the client through these ...
                keepalives=1,
                keepalives_idle=max(1, seconds // 3),
                keepalives_interval=max(1, seconds // 6),
                keepalives_count=3,
                tcp_user_timeout=seconds * 1000,
                # ... the server (freeing the lock of a vanished leader) through the same, per session.
                options=_server_keepalives(self._url, seconds),
            )
        return self._connection


def _server_keepalives(url: str, seconds: int) -> str:
    """`options` for the lock session: the URL's own (its search_path) plus server-side TCP keepalives."""
    import psycopg.conninfo

    own = psycopg.conninfo.conninfo_to_dict(url).get("options") or ""
    extra = (
        f"-c tcp_keepalives_idle={max(1, seconds // 3)} -c tcp_keepalives_interval={max(1, seconds // 6)} "
        f"-c tcp_keepalives_count=3 -c tcp_user_timeout={seconds * 1000}"
    )
    return f"{own} {extra}".strip()


def leadership_for(url: str, replica: str, lease: timedelta) -> Leadership:
    """The leadership that suits the state at `url`: shared PostgreSQL state elects, SQLite's is sole."""
    if url.startswith(("postgresql://", "postgres://")):
        return AdvisoryLockLeadership(url, replica, lease)
    return SoleLeadership(replica)


class LeaderWatch:
    """The daemon's view of its leadership: checks run in a thread, one at a time, and every change is
    published: the `workspace_monitor_leader` gauge, the store's meta `leader` (the replica id, read by
    `/tasks status` on any replica), and `on_change(leading)` for the daemon to start or stop its work.
    A replica leads once it holds the lock AND has started its term in the store."""

    def __init__(
        self,
        leadership: Leadership,
        store: Store,
        registry: CollectorRegistry,
        on_change: Callable[[bool], None] = lambda leading: None,
    ) -> None:
        self.leadership = leadership
        self._store = store
        #: Told of every change (the daemon sets it to start or stop its work).
        self.on_change = on_change
        self._lock = asyncio.Lock()
        self._gauge = Gauge(
            "workspace_monitor_leader",
            "1 while this replica leads (polls and sends), 0 while it stands by",
            registry=registry,
        )
        self._was_leading = False
        self._in_term = False

    @property
    def leading(self) -> bool:
        return self.leadership.leading and self._in_term

    async def check(self) -> bool:
        """Confirm or try to take leadership (blocking I/O, off the event loop); publish a change."""
        async with self._lock:
            holds = await asyncio.to_thread(self.leadership.check)
            if not holds:
                self._in_term = False
            elif not self._in_term:
                self._in_term = await asyncio.to_thread(self._begin_term)
            leading = self.leading
            if leading != self._was_leading:
                self._was_leading = leading
                self._gauge.set(int(leading))
                self.on_change(leading)
            return leading

    async def close(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self.leadership.close)
            self._in_term = False
            self._gauge.set(0)

    def _begin_term(self) -> bool:
        """Start the term and record who leads; False (try again at the next check) when the store fails."""
        try:
            if isinstance(self._store, TermedStore):
                term = self._store.begin_term()
                log.info("leader.term_started", replica=self.leadership.replica, term=term)
            self._store.set_meta("leader", self.leadership.replica)
        except StoreError as exc:
            log.error("leader.term_failed", error=str(exc), action="not leading until the next check")
            return False
        return True
