"""The SQL every backend shares: `SqlStore` (every `Store` method, once), the statements and the schema's
migrations. How values become columns and back is `monitor.store.rows`.

A backend subclasses `SqlStore` and supplies only what its driver does differently (the hooks at the end of
the class): its parameter style (`Statements.in_style`), how it runs a statement and reads rows, how it
opens a transaction and translates its driver's errors, and how it reads the list of tables. The SQLite and
PostgreSQL backends each keep their opening, their error translation, and what only one of them has.

Statements use `:name` parameters (sqlite3's named style); `pyformat()` turns them into `%(name)s` for
psycopg, and `positional()` into `?` or `%s` for the statements a large cycle runs once per alert or task
(alert upsert, outbox insert, the run history's mark upsert and daily counts), whose rows are built as
tuples because binding by position is cheaper.
Only syntax both SQLite (3.24+) and PostgreSQL accept is used here: `INSERT ... ON CONFLICT ... DO
UPDATE`, `excluded.`, `LIMIT`.
The migrations are written in SQLite's DDL; PostgreSQL rewrites the little that differs (`postgres_ddl`).
"""

from __future__ import annotations

import itertools
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

from monitor.decide import AlertState
from monitor.history import Mark, Sighting, TaskDay, runs_seen
from monitor.rules.load import RuleFileError
from monitor.silences import Silence
from monitor.store.base import CycleChanges, MessageRef, OutboxEntry, OutboxRow
from monitor.store.errors import CorruptStateError, PermanentStoreError
from monitor.store.rows import (
    alert_from_values,
    alert_row,
    due_params,
    from_db_time,
    message_ref_of,
    message_ref_params,
    outbox_row,
    outbox_row_from_row,
    silence_params,
    silences_from_rows,
    to_db_time,
)

__all__ = [
    "DEFAULT_CLAIM_LEASE",
    "MIGRATIONS",
    "SqlStore",
    "Statements",
    "positional",
    "pyformat",
]

_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
# Written out in full (not generated from column lists) so each statement reads, and ports, as it is.
UPSERT_ALERT = """
INSERT INTO alerts (
    fingerprint, rule_name, project, task_id, task_name, status, episode, last_status, record_id,
    next_execution_time, occurrences, consecutive_failures, opened_at, updated_at, notified_at,
    notified_occurrence, notified_status, silenced_by, closed_at, reason
) VALUES (
    :fingerprint, :rule_name, :project, :task_id, :task_name, :status, :episode, :last_status, :record_id,
    :next_execution_time, :occurrences, :consecutive_failures, :opened_at, :updated_at, :notified_at,
    :notified_occurrence, :notified_status, :silenced_by, :closed_at, :reason
)
ON CONFLICT (fingerprint) DO UPDATE SET
    rule_name = excluded.rule_name, project = excluded.project, task_id = excluded.task_id,
    task_name = excluded.task_name, status = excluded.status, episode = excluded.episode,
    last_status = excluded.last_status, record_id = excluded.record_id,
    next_execution_time = excluded.next_execution_time, occurrences = excluded.occurrences,
    consecutive_failures = excluded.consecutive_failures, opened_at = excluded.opened_at,
    updated_at = excluded.updated_at, notified_at = excluded.notified_at,
    notified_occurrence = excluded.notified_occurrence, notified_status = excluded.notified_status,
    silenced_by = excluded.silenced_by, closed_at = excluded.closed_at, reason = excluded.reason
"""
# The ack of the alert's current occurrence comes along: acks are kept apart so a cycle never overwrites one.
SELECT_ALERTS = """
SELECT a.fingerprint, a.rule_name, a.project, a.task_id, a.task_name, a.status, a.episode, a.last_status,
    a.record_id, a.next_execution_time, a.occurrences, a.consecutive_failures, a.opened_at, a.updated_at,
    a.notified_at, a.notified_occurrence, a.notified_status, a.silenced_by, a.closed_at, a.reason,
    k.acknowledged_by
FROM alerts a
LEFT JOIN acks k ON k.fingerprint = a.fingerprint AND k.episode = a.episode AND k.occurrence = a.occurrences
"""
SELECT_OPEN_ALERTS = SELECT_ALERTS + "WHERE a.status IN ('pending', 'firing')"
ACKNOWLEDGE = """
INSERT INTO acks (fingerprint, episode, occurrence, acknowledged_by, acknowledged_at)
SELECT fingerprint, episode, occurrences, :by, :at FROM alerts
WHERE fingerprint = :fingerprint AND status IN ('pending', 'firing')
ON CONFLICT (fingerprint, episode, occurrence) DO NOTHING
"""
IS_OPEN = "SELECT 1 FROM alerts WHERE fingerprint = :fingerprint AND status IN ('pending', 'firing')"

INSERT_OUTBOX = """
INSERT INTO outbox (
    fingerprint, episode, kind, channel, group_key, notify, update_message, payload, created_at, state,
    attempts, next_attempt_at
) VALUES (
    :fingerprint, :episode, :kind, :channel, :group_key, :notify, :update_message, :payload, :created_at,
    'pending', 0, :next_attempt_at
)
"""
OUTBOX_ROW_FIELDS = (
    "fingerprint", "episode", "kind", "channel", "group_key", "notify", "update_message", "payload",
    "created_at", "next_attempt_at",
)  # fmt: skip
# Due rows, oldest first; a row waits while an older row of the same alert for the same receiver is still
# unsent. Receivers are told apart as the dispatcher does: a `kind:target` channel is its own receiver's
# (pagerduty:oncall), every other channel the chat notifier's. So a page never waits for Slack's retries (a
# Slack outage must not hold the on-call's page back), nor Slack's recovery reply for PagerDuty's.
SELECT_DUE_OUTBOX = """
SELECT o.id, o.fingerprint, o.episode, o.kind, o.channel, o.group_key, o.notify, o.update_message, o.payload,
    o.created_at, o.state, o.attempts, o.next_attempt_at, o.claimed_by, o.last_error
FROM outbox o
WHERE ((o.state = 'pending' AND (o.next_attempt_at <= :now OR o.next_attempt_at > :horizon))
       OR (o.state = 'claimed' AND (o.claimed_at <= :stale_before OR o.claimed_at > :claim_horizon)))
  AND NOT EXISTS (
    SELECT 1 FROM outbox older
    WHERE older.fingerprint = o.fingerprint AND older.id < o.id AND older.state IN ('pending', 'claimed')
      AND (older.channel = o.channel OR (older.channel NOT LIKE '%:%' AND o.channel NOT LIKE '%:%'))
  )
ORDER BY o.id
LIMIT :limit
"""
# The WHERE clause is the claim: of two senders running it, only one sees its row counted.
CLAIM_OUTBOX = """
UPDATE outbox SET state = 'claimed', claimed_by = :claimer, claimed_at = :now, attempts = attempts + 1
WHERE id = :id
  AND ((state = 'pending' AND (next_attempt_at <= :now OR next_attempt_at > :horizon))
       OR (state = 'claimed' AND (claimed_at <= :stale_before OR claimed_at > :claim_horizon)))
"""
MARK_SENT = """
UPDATE outbox SET state = 'sent', sent_channel = :channel, sent_ts = :ts, sent_at = :now, last_error = NULL
WHERE id = :id AND state = 'claimed'
"""
MARK_RETRY = """
UPDATE outbox SET state = 'pending', next_attempt_at = :retry_at, claimed_by = NULL, claimed_at = NULL,
    last_error = :error
WHERE id = :id AND state = 'claimed'
"""
# A claim its sender never used (the sender's own, still held): pending again at once, as if never taken.
RELEASE_CLAIM = """
UPDATE outbox SET state = 'pending', next_attempt_at = :now, claimed_by = NULL, claimed_at = NULL
WHERE id = :id AND state = 'claimed' AND claimed_by = :claimer
"""
MARK_FAILED = """
UPDATE outbox SET state = 'failed', claimed_by = NULL, claimed_at = NULL, last_error = :error
WHERE id = :id AND state = 'claimed'
"""
# Notifications done with (sent, or failed for good) since before :before; pending and claimed rows stay.
PRUNE_OUTBOX = """
DELETE FROM outbox WHERE state IN ('sent', 'failed') AND COALESCE(sent_at, created_at) < :before
"""
UPSERT_MESSAGE_REF = """
INSERT INTO message_refs (fingerprint, episode, channel, ts, updated_at, digest)
VALUES (:fingerprint, :episode, :channel, :ts, :now, :digest)
ON CONFLICT (fingerprint) DO UPDATE SET
    episode = excluded.episode, channel = excluded.channel, ts = excluded.ts,
    updated_at = excluded.updated_at, digest = excluded.digest
"""


SELECT_MESSAGE_REF = (
    "SELECT fingerprint, episode, channel, ts, digest FROM message_refs WHERE fingerprint = :fingerprint"
)

INSERT_SILENCE = """
INSERT INTO silences (id, match_spec, rule_names, until, comment, created_by, created_at, time_intervals)
VALUES (:id, :match_spec, :rule_names, :until, :comment, :created_by, :created_at, :time_intervals)
"""
SELECT_SILENCES = """
SELECT id, match_spec, rule_names, until, comment, created_by, created_at, time_intervals FROM silences
ORDER BY created_at, id
"""
DELETE_SILENCE = "DELETE FROM silences WHERE id = :id"

UPSERT_META = """
INSERT INTO meta (key, value) VALUES (:key, :value) ON CONFLICT (key) DO UPDATE SET value = excluded.value
"""
SELECT_META = "SELECT value FROM meta WHERE key = :key"
SET_SCHEMA_VERSION = "UPDATE schema_version SET version = :version"
# The claim is the statement: a new key inserts, a held one (expires_at still ahead) changes no row, an
# expired one is taken over. PostgreSQL: a concurrent upsert of the same key waits for the first and then sees
# its committed row; SQLite: writers take turns. Either way, of two claimers exactly one changes a row.
CLAIM_ACTION = """
INSERT INTO action_claims (key, claimed_at, expires_at) VALUES (:key, :now, :expires_at)
ON CONFLICT (key) DO UPDATE SET claimed_at = excluded.claimed_at, expires_at = excluded.expires_at
WHERE action_claims.expires_at <= :now
"""
RELEASE_ACTION = "DELETE FROM action_claims WHERE key = :key"
PRUNE_ACTION_CLAIMS = "DELETE FROM action_claims WHERE expires_at <= :now"

# Run history (monitor.history): a mark per task, and the daily summary the marks feed.
# The marks of some tasks of one project: each backend adds the condition on task_id in its own style
# (SqlStore._select_marks), for at most MARKS_CHUNK tasks.
SELECT_TASK_MARKS = "SELECT task_id, next_at, counted_until FROM task_marks "
#: Sightings whose stored marks `record_runs` reads (and holds) at once.
MARKS_CHUNK = 500
UPSERT_TASK_MARK = """
INSERT INTO task_marks (project, task_id, next_at, counted_until)
VALUES (:project, :task_id, :next_at, :counted_until)
ON CONFLICT (project, task_id) DO UPDATE SET
    next_at = excluded.next_at, counted_until = excluded.counted_until
"""
ADD_TASK_RUNS = """
INSERT INTO task_days (project, task_id, day, task_type, task_name, runs, fails, skips)
VALUES (:project, :task_id, :day, :task_type, :task_name, :runs, :fails, :skips)
ON CONFLICT (project, task_id, day) DO UPDATE SET
    task_type = excluded.task_type, task_name = excluded.task_name, runs = task_days.runs + excluded.runs,
    fails = task_days.fails + excluded.fails, skips = task_days.skips + excluded.skips
"""
SELECT_TASK_DAYS = """
SELECT project, task_id, day, task_type, task_name, runs, fails, skips FROM task_days
WHERE day >= :first AND day < :end
ORDER BY day, project, task_id
"""
# Per task over a span of days, dated its first day: a report's period before (only its totals count).
SELECT_TASK_TOTALS = """
SELECT project, task_id, MAX(task_type), MAX(task_name), SUM(runs), SUM(fails), SUM(skips)
FROM task_days
WHERE day >= :first AND day < :end
GROUP BY project, task_id
ORDER BY project, task_id
"""
PRUNE_TASK_DAYS = "DELETE FROM task_days WHERE day < :before"
PRUNE_TASK_MARKS = "DELETE FROM task_marks WHERE counted_until < :before"
# A report's firing, queued once: the insert that changes no row means another replica (or an earlier
# start) queued it already.
QUEUE_REPORT = "INSERT INTO reports (key, queued_at) VALUES (:key, :now) ON CONFLICT (key) DO NOTHING"
IS_REPORT_QUEUED = "SELECT 1 FROM reports WHERE key = :key"
PRUNE_REPORTS = "DELETE FROM reports WHERE queued_at < :before"

#: Schema migrations, in SQLite's DDL: step N (1-based) brings a version N-1 state to version N. Append, never
#: edit. PostgreSQL reads them through `postgres_ddl`, so a schema version means the same tables in both.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE alerts (
            fingerprint TEXT PRIMARY KEY,
            rule_name TEXT NOT NULL,
            project TEXT NOT NULL,
            task_id TEXT NOT NULL,
            task_name TEXT,
            status TEXT NOT NULL,
            episode INTEGER NOT NULL,
            last_status TEXT NOT NULL,
            record_id TEXT,
            next_execution_time TEXT,
            occurrences INTEGER NOT NULL,
            consecutive_failures INTEGER NOT NULL,
            opened_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            notified_at TEXT,
            notified_occurrence INTEGER NOT NULL,
            notified_status TEXT,
            silenced_by TEXT,
            closed_at TEXT,
            reason TEXT NOT NULL
        )
        """,
        "CREATE INDEX alerts_by_status ON alerts (status)",
        """
        CREATE TABLE acks (
            fingerprint TEXT NOT NULL,
            episode INTEGER NOT NULL,
            occurrence INTEGER NOT NULL,
            acknowledged_by TEXT NOT NULL,
            acknowledged_at TEXT NOT NULL,
            PRIMARY KEY (fingerprint, episode, occurrence)
        )
        """,
        # AUTOINCREMENT: ids are never reused, so "oldest first" holds after deletes (PostgreSQL: IDENTITY).
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            fingerprint TEXT NOT NULL,
            episode INTEGER NOT NULL,
            kind TEXT NOT NULL,
            channel TEXT NOT NULL,
            group_key TEXT NOT NULL,
            notify INTEGER NOT NULL,
            update_message INTEGER NOT NULL,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt_at TEXT NOT NULL,
            claimed_by TEXT,
            claimed_at TEXT,
            sent_channel TEXT,
            sent_ts TEXT,
            sent_at TEXT,
            last_error TEXT
        )
        """,
        "CREATE INDEX outbox_by_state ON outbox (state, next_attempt_at)",
        "CREATE INDEX outbox_by_alert ON outbox (fingerprint, id)",
        """
        CREATE TABLE message_refs (
            fingerprint TEXT PRIMARY KEY,
            episode INTEGER NOT NULL,
            channel TEXT NOT NULL,
            ts TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE silences (
            id TEXT PRIMARY KEY,
            match_spec TEXT NOT NULL,
            rule_names TEXT NOT NULL,
            until TEXT NOT NULL,
            comment TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT
        )
        """,
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    # 2: whether an alert's message is a digest, so an edit never has to read the channel's history.
    ("ALTER TABLE message_refs ADD COLUMN digest INTEGER",),
    # 3: claims of actions taken from Slack (a retry per alert and record), so two clicks start one action.
    (
        """
        CREATE TABLE action_claims (
            key TEXT PRIMARY KEY,
            claimed_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )
        """,
    ),
    # 4: run history (monitor.history): each task's mark (so no run is counted twice) and a compact daily
    # summary per task, which reports read; days are yyyy-mm-dd in the task's zone, kept 400 days.
    (
        """
        CREATE TABLE task_marks (
            project TEXT NOT NULL,
            task_id TEXT NOT NULL,
            next_at TEXT,
            counted_until TEXT NOT NULL,
            PRIMARY KEY (project, task_id)
        )
        """,
        """
        CREATE TABLE task_days (
            project TEXT NOT NULL,
            task_id TEXT NOT NULL,
            day TEXT NOT NULL,
            task_type TEXT,
            task_name TEXT,
            runs INTEGER NOT NULL,
            fails INTEGER NOT NULL,
            skips INTEGER NOT NULL,
            PRIMARY KEY (project, task_id, day)
        )
        """,
        "CREATE INDEX task_days_by_day ON task_days (day)",
    ),
    # 5: the report firings queued (monitor.reports), so each is posted once across restarts and failover.
    ("CREATE TABLE reports (key TEXT PRIMARY KEY, queued_at TEXT NOT NULL)",),
    # 6: the time intervals a runtime silence is limited to (`/tasks silence prod-* patch-night`): a JSON list
    # of names, NULL for a silence that mutes until its `until` throughout.
    ("ALTER TABLE silences ADD COLUMN time_intervals TEXT",),
)

#: How long an outbox claim holds unless the configuration says otherwise (state.claim_lease).
DEFAULT_CLAIM_LEASE = timedelta(minutes=5)


def pyformat(statement: str) -> str:
    """`:name` parameters as psycopg's `%(name)s` (literal `%` doubled); `::type` casts are left alone."""
    return _PARAMETER.sub(r"%(\1)s", statement.replace("%", "%%"))


def positional(statement: str, marker: str = "?") -> tuple[str, tuple[str, ...]]:
    """The statement with each `:name` replaced by `marker` ("?" for sqlite3, "%s" for psycopg), and the
    names in the order their values must be given."""
    names = tuple(_PARAMETER.findall(statement))
    escaped = statement.replace("%", "%%") if marker == "%s" else statement
    return _PARAMETER.sub(marker, escaped), names


@dataclass(frozen=True)
class Statements:
    """The shared statements in one driver's parameter style (made once per backend, at import)."""

    upsert_alert: str  # by position: see alert_row
    insert_outbox: str  # by position: see outbox_row
    select_open_alerts: str
    acknowledge: str
    is_open: str
    select_due_outbox: str
    claim_outbox: str
    mark_sent: str
    mark_retry: str
    mark_failed: str
    release_claim: str
    prune_outbox: str
    upsert_message_ref: str
    select_message_ref: str
    insert_silence: str
    select_silences: str
    delete_silence: str
    upsert_meta: str
    select_meta: str
    set_schema_version: str
    claim_action: str
    release_action: str
    prune_action_claims: str
    upsert_task_mark: str  # by position: see SqlStore._moved_marks
    add_task_runs: str  # by position: see SqlStore._moved_marks
    select_task_days: str
    select_task_totals: str
    prune_task_days: str
    prune_task_marks: str
    queue_report: str
    is_report_queued: str
    prune_reports: str

    @classmethod
    def in_style(cls, named: Callable[[str], str], marker: str) -> Statements:
        """`named` rewrites a statement's `:name` parameters for the driver (or leaves them); `marker` is
        its positional placeholder."""
        return cls(
            upsert_alert=positional(UPSERT_ALERT, marker)[0],
            insert_outbox=positional(INSERT_OUTBOX, marker)[0],
            select_open_alerts=named(SELECT_OPEN_ALERTS),
            acknowledge=named(ACKNOWLEDGE),
            is_open=named(IS_OPEN),
            select_due_outbox=named(SELECT_DUE_OUTBOX),
            claim_outbox=named(CLAIM_OUTBOX),
            mark_sent=named(MARK_SENT),
            mark_retry=named(MARK_RETRY),
            mark_failed=named(MARK_FAILED),
            release_claim=named(RELEASE_CLAIM),
            prune_outbox=named(PRUNE_OUTBOX),
            upsert_message_ref=named(UPSERT_MESSAGE_REF),
            select_message_ref=named(SELECT_MESSAGE_REF),
            insert_silence=named(INSERT_SILENCE),
            select_silences=named(SELECT_SILENCES),
            delete_silence=named(DELETE_SILENCE),
            upsert_meta=named(UPSERT_META),
            select_meta=named(SELECT_META),
            set_schema_version=named(SET_SCHEMA_VERSION),
            claim_action=named(CLAIM_ACTION),
            release_action=named(RELEASE_ACTION),
            prune_action_claims=named(PRUNE_ACTION_CLAIMS),
            upsert_task_mark=positional(UPSERT_TASK_MARK, marker)[0],
            add_task_runs=positional(ADD_TASK_RUNS, marker)[0],
            select_task_days=named(SELECT_TASK_DAYS),
            select_task_totals=named(SELECT_TASK_TOTALS),
            prune_task_days=named(PRUNE_TASK_DAYS),
            prune_task_marks=named(PRUNE_TASK_MARKS),
            queue_report=named(QUEUE_REPORT),
            is_report_queued=named(IS_REPORT_QUEUED),
            prune_reports=named(PRUNE_REPORTS),
        )


class _Connection(Protocol):
    def close(self) -> None: ...


Db = TypeVar("Db", bound=_Connection)
Params = Mapping[str, Any] | Sequence[Any]


class SqlStore(ABC, Generic[Db]):
    """The `Store` over SQL: every method once, on the hooks a backend defines (the abstract methods).

    Each call is one transaction (`_read` or `_write`), serialised by a lock: the daemon shares one
    connection between the poller, the dispatcher and the Slack handlers."""

    #: The backend's statements (`Statements.in_style`) and migrations (MIGRATIONS, in its DDL).
    statements: ClassVar[Statements]
    MIGRATIONS: ClassVar[tuple[tuple[str, ...], ...]]
    #: Tables the database keeps for itself, which do not make a schema someone else's.
    own_tables: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, connection: Db, label: str, claim_lease: timedelta) -> None:
        self._connection = connection
        #: How messages name the state ("state file /var/lib/...", "PostgreSQL postgresql://..."; redacted).
        self._label = label
        self._claim_lease = claim_lease
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def schema_version(self) -> int:
        with self._read() as db:
            return self._schema_version(db)

    # Alert state.

    def load_alerts(self, fingerprints: Iterable[str]) -> dict[str, AlertState]:
        wanted = list(dict.fromkeys(fingerprints))
        with self._read() as db:
            states = [alert_from_values(row) for row in self._select_alerts(db, wanted)]
        return {state.fingerprint: state for state in states}

    def load_open_alerts(self) -> dict[str, AlertState]:
        with self._read() as db:
            states = [alert_from_values(row) for row in self._rows(db, self.statements.select_open_alerts)]
        return {state.fingerprint: state for state in states}

    def apply_cycle(self, changes: CycleChanges) -> None:
        meta = [{"key": key, "value": value} for key, value in changes.meta.items()]
        with self._write() as db:
            self._before_cycle(db)
            # Rows made as the driver takes them, not all first: a mass failure's outbox rows, JSON text each,
            # would otherwise all be alive at once beside the payloads (the cycle's peak RSS).
            self._executemany(db, self.statements.upsert_alert, map(alert_row, changes.alerts))
            self._executemany(db, self.statements.insert_outbox, map(outbox_row, changes.outbox))
            self._executemany(db, self.statements.upsert_meta, meta)

    def acknowledge(self, fingerprint: str, *, by: str, at: datetime) -> bool:
        with self._write() as db:
            if not self._rows(db, self.statements.is_open, {"fingerprint": fingerprint}):
                return False
            params = {"fingerprint": fingerprint, "by": by, "at": to_db_time(at)}
            self._execute(db, self.statements.acknowledge, params)
            return True

    # Outbox.

    def pending_outbox(self, *, now: datetime, limit: int = 100) -> list[OutboxRow]:
        params = {**self._due(now), "limit": limit}
        with self._read() as db:
            rows = self._mapping_rows(db, self.statements.select_due_outbox, params)
        return [outbox_row_from_row(row) for row in rows]

    def claim_outbox(self, row_id: int, *, claimer: str, now: datetime) -> bool:
        # The statement's WHERE clause is the claim. PostgreSQL (READ COMMITTED): a second UPDATE of the row
        # waits for the first and re-checks the clause against the row the first one committed; SQLite:
        # writers take turns. Either way, of two claimers exactly one counts the row.
        params = {**self._due(now), "id": row_id, "claimer": claimer}
        with self._write() as db:
            return self._execute(db, self.statements.claim_outbox, params) == 1

    def mark_sent(
        self,
        row_ids: Sequence[int],
        *,
        channel: str,
        ts: str,
        now: datetime,
        message_refs: Sequence[MessageRef] = (),
    ) -> None:
        at = to_db_time(now)
        sent = [{"id": i, "channel": channel, "ts": ts, "now": at} for i in row_ids]
        refs = [message_ref_params(r, at) for r in message_refs]
        with self._write() as db:
            self._executemany(db, self.statements.mark_sent, sent)
            self._executemany(db, self.statements.upsert_message_ref, refs)

    def mark_failed(self, row_id: int, *, error: str, now: datetime, retry_at: datetime | None) -> None:
        with self._write() as db:
            if retry_at is None:
                self._execute(db, self.statements.mark_failed, {"id": row_id, "error": error})
            else:
                params = {"id": row_id, "error": error, "retry_at": to_db_time(retry_at)}
                self._execute(db, self.statements.mark_retry, params)

    def release_claim(self, row_id: int, *, claimer: str, now: datetime) -> bool:
        params = {"id": row_id, "claimer": claimer, "now": to_db_time(now)}
        with self._write() as db:
            return self._execute(db, self.statements.release_claim, params) == 1

    def prune_outbox(self, *, before: datetime) -> int:
        with self._write() as db:
            return self._execute(db, self.statements.prune_outbox, {"before": to_db_time(before)})

    def message_ref(self, fingerprint: str) -> MessageRef | None:
        with self._read() as db:
            rows = self._rows(db, self.statements.select_message_ref, {"fingerprint": fingerprint})
        return message_ref_of(*rows[0]) if rows else None

    # Runtime silences.

    def add_silence(self, silence: Silence) -> None:
        with self._write() as db:
            self._execute(db, self.statements.insert_silence, silence_params(silence))

    def silences(self) -> list[Silence]:
        with self._read() as db:
            rows = self._mapping_rows(db, self.statements.select_silences)
        try:
            return silences_from_rows(rows)
        except RuleFileError as exc:
            raise PermanentStoreError(
                f"{self._label}: a stored silence no longer reads ({exc}); delete it"
            ) from None

    def delete_silence(self, silence_id: str) -> bool:
        with self._write() as db:
            return self._execute(db, self.statements.delete_silence, {"id": silence_id}) == 1

    # Meta.

    def get_meta(self, key: str) -> str | None:
        with self._read() as db:
            rows = self._rows(db, self.statements.select_meta, {"key": key})
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as db:
            self._execute(db, self.statements.upsert_meta, {"key": key, "value": value})

    # Action claims.

    def claim_action(self, key: str, ttl: timedelta, now: datetime) -> bool:
        if ttl <= timedelta(0):
            raise ValueError("an action claim needs a positive ttl")
        params = {"key": key, "now": to_db_time(now), "expires_at": to_db_time(now + ttl)}
        with self._write() as db:
            return self._execute(db, self.statements.claim_action, params) == 1

    def release_action(self, key: str) -> None:
        with self._write() as db:
            self._execute(db, self.statements.release_action, {"key": key})

    def prune_action_claims(self, *, now: datetime) -> int:
        with self._write() as db:
            return self._execute(db, self.statements.prune_action_claims, {"now": to_db_time(now)})

    # Run history (monitor.history).

    def record_runs(self, project: str, sightings: Iterable[Sighting], now: datetime) -> int:
        # A chunk of sightings at a time: its tasks' stored marks read, and the moved ones written as the
        # driver takes them (as apply_cycle's rows). A listing of every task is a sighting and a mark per task
        # (100,000 of each), which would otherwise all be alive at once beside the cycle (bench/findings.md).
        pending = iter(sightings)
        counts: dict[tuple[str, str], list[Any]] = {}
        with self._write() as db:
            self._before_cycle(db)
            while chunk := list(itertools.islice(pending, MARKS_CHUNK)):
                # Read after the chunks before it were written: a task sighted again finds the mark its
                # first sighting moved (within a chunk, _moved_marks keeps it), so its runs count once.
                marks: dict[str, Sequence[Any]] = {
                    row[0]: row for row in self._select_marks(db, project, [seen.task_id for seen in chunk])
                }
                moved = self._moved_marks(project, chunk, marks, counts, now)
                self._executemany(db, self.statements.upsert_task_mark, moved)
            self._executemany(db, self.statements.add_task_runs, counts.values())
        return sum(row[5] for row in counts.values())

    @staticmethod
    def _moved_marks(
        project: str,
        sightings: Iterable[Sighting],
        marks: dict[str, Sequence[Any]],
        counts: dict[tuple[str, str], list[Any]],
        now: datetime,
    ) -> Iterator[tuple[object, ...]]:
        """UPSERT_TASK_MARK's parameters (by position) for each sighted task whose mark moves; the runs seen
        are added to `counts` (ADD_TASK_RUNS's parameters by position, per task and day) on the way."""
        for seen in sightings:
            known = marks.get(seen.task_id)
            before = known if known is None or isinstance(known, Mark) else _stored_mark(known)
            after, runs = runs_seen(before, seen, now)
            marks[seen.task_id] = after
            for run in runs:
                row = counts.setdefault(
                    (seen.task_id, run.day),
                    [project, seen.task_id, run.day, seen.task_type, seen.task_name, 0, 0, 0],
                )
                row[5] += 1
                row[6] += run.status == "FAIL"
                row[7] += run.status == "SKIP"
            if after != before:
                next_at = None if after.next_at is None else to_db_time(after.next_at)
                yield project, seen.task_id, next_at, to_db_time(after.counted_until)

    def task_days(self, first: str, end: str) -> list[TaskDay]:
        with self._read() as db:
            rows = self._rows(db, self.statements.select_task_days, {"first": first, "end": end})
        return [TaskDay(*row) for row in rows]

    def task_totals(self, first: str, end: str) -> list[TaskDay]:
        with self._read() as db:
            rows = self._rows(db, self.statements.select_task_totals, {"first": first, "end": end})
        return [TaskDay(project, task_id, first, kind, name, int(runs), int(fails), int(skips))
                for project, task_id, kind, name, runs, fails, skips in rows]  # fmt: skip

    def prune_history(self, *, before: datetime) -> int:
        with self._write() as db:
            deleted = self._execute(
                db, self.statements.prune_task_days, {"before": before.date().isoformat()}
            )
            self._execute(db, self.statements.prune_task_marks, {"before": to_db_time(before)})
            self._execute(db, self.statements.prune_reports, {"before": to_db_time(before)})
        return deleted

    def report_queued(self, key: str) -> bool:
        with self._read() as db:
            return bool(self._rows(db, self.statements.is_report_queued, {"key": key}))

    def queue_report(self, key: str, entry: OutboxEntry) -> bool:
        with self._write() as db:
            self._before_cycle(db)
            if (
                self._execute(
                    db, self.statements.queue_report, {"key": key, "now": to_db_time(entry.created_at)}
                )
                != 1
            ):
                return False
            self._executemany(db, self.statements.insert_outbox, [outbox_row(entry)])
            return True

    # Schema.

    def _schema_version(self, db: Db) -> int:
        tables = self._tables(db)
        if "schema_version" not in tables:
            if tables - self.own_tables:
                raise self._not_ours(tables)
            return 0
        rows = self._rows(db, "SELECT version FROM schema_version")
        if not rows or not isinstance(rows[0][0], int):
            raise CorruptStateError(f"{self._label} has no readable schema version")
        return int(rows[0][0])

    def _migrate(self) -> None:
        """Apply the missing migrations, each in its own transaction."""
        for version in range(1, len(self.MIGRATIONS) + 1):
            with self._write() as db:
                self._lock_migrations(db)
                # Re-read inside the transaction: another process may have migrated meanwhile.
                current = self._schema_version(db)
                if current >= version:
                    continue
                if current == 0:
                    self._execute(db, "CREATE TABLE schema_version (version INTEGER NOT NULL)")
                    self._execute(db, "INSERT INTO schema_version (version) VALUES (0)")
                for statement in self.MIGRATIONS[version - 1]:
                    self._execute(db, statement)
                self._execute(db, self.statements.set_schema_version, {"version": version})

    def _due(self, now: datetime) -> dict[str, Any]:
        return due_params(now, self._claim_lease)

    # The hooks: what each backend's driver does its own way.

    @abstractmethod
    def _read(self) -> AbstractContextManager[Db]:
        """A transaction for reading, under the store's lock; driver errors leave it as StoreError."""

    @abstractmethod
    def _write(self) -> AbstractContextManager[Db]:
        """A transaction that will write, under the store's lock; driver errors leave it as StoreError."""

    @abstractmethod
    def _rows(self, db: Db, statement: str, params: Params | None = None) -> Sequence[Sequence[Any]]:
        """The statement's rows, columns by position."""

    @abstractmethod
    def _mapping_rows(self, db: Db, statement: str, params: Params | None = None) -> Sequence[Any]:
        """The statement's rows, columns by name (`row["id"]`)."""

    @abstractmethod
    def _execute(self, db: Db, statement: str, params: Params | None = None) -> int:
        """Run one statement; the number of rows it changed."""

    @abstractmethod
    def _executemany(self, db: Db, statement: str, rows: Iterable[Params]) -> None:
        """Run one statement for each of `rows`, taken as they come."""

    @abstractmethod
    def _select_alerts(self, db: Db, fingerprints: list[str]) -> Iterator[Sequence[Any]]:
        """SELECT_ALERTS for these fingerprints, columns by position."""

    @abstractmethod
    def _select_marks(self, db: Db, project: str, task_ids: list[str]) -> Sequence[Sequence[Any]]:
        """SELECT_TASK_MARKS for these tasks of `project` (at most MARKS_CHUNK), columns by position."""

    @abstractmethod
    def _tables(self, db: Db) -> set[str]:
        """The names of the tables in the state's database (or schema)."""

    @abstractmethod
    def _not_ours(self, tables: set[str]) -> CorruptStateError:
        """What to say of a database holding these tables but no schema version."""

    def _lock_migrations(self, db: Db) -> None:
        """Make processes that migrate together take turns (SQLite's write transaction does already)."""

    def _before_cycle(self, db: Db) -> None:
        """Check, in the cycle's transaction, that its changes may be written (PostgreSQL: the term)."""


def _stored_mark(row: Sequence[Any]) -> Mark:
    """A mark as SELECT_TASK_MARKS reads it: (task_id, next_at, counted_until)."""
    _, next_at, counted_until = row
    return Mark(None if next_at is None else from_db_time(next_at), from_db_time(counted_until))
