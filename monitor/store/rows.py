"""How the store's values become columns and back: times as text, alert states and outbox entries as row
tuples, payloads as JSON, silences as their match spec.

Times are stored as fixed-width ISO 8601 UTC text ("2026-01-31T08:00:00.000000+00:00"), which sorts and
compares as text the same way as the instants. The alert upsert and the outbox insert, which a large cycle
runs tens of thousands of times, take their rows as tuples by position (`alert_row`, `outbox_row`, in the
order of the statements in `monitor.store.sql`; a test holds them together); the rest are dicts by name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson
import structlog

from monitor.decide import AlertState, AlertStatus, DecisionKind
from monitor.rules.load import compile_match
from monitor.silences import Silence, SilenceOrigin
from monitor.store.base import CLAIM_SKEW, RETRY_HORIZON, MessageRef, OutboxEntry, OutboxRow, OutboxState

__all__ = [
    "alert_from_row",
    "alert_from_values",
    "alert_row",
    "due_params",
    "encode_payload",
    "from_db_time",
    "message_ref_of",
    "message_ref_params",
    "outbox_row",
    "outbox_row_from_row",
    "silence_from_row",
    "silence_params",
    "silences_from_rows",
    "to_db_time",
]

log = structlog.get_logger(__name__)

_ALERT_STATUSES = {status.value: status for status in AlertStatus}
# orjson for payloads: a first cycle after a mass failure writes tens of thousands (bench/engine.py); the
# standard encoder stays for what orjson refuses (a lone surrogate from the API's JSON), escaped to ASCII so
# the text is valid UTF-8 for the database.
_ASCII_JSON = json.JSONEncoder(ensure_ascii=True, sort_keys=True)


def message_ref_params(ref: MessageRef, now: str) -> dict[str, Any]:
    digest = None if ref.digest is None else int(ref.digest)
    return {"fingerprint": ref.fingerprint, "episode": ref.episode, "channel": ref.channel, "ts": ref.ts,
            "now": now, "digest": digest}  # fmt: skip


def message_ref_of(fingerprint: str, episode: int, channel: str, ts: str, digest: int | None) -> MessageRef:
    return MessageRef(fingerprint, episode, channel, ts, None if digest is None else bool(digest))


# Cached: a flush claims many rows with the same `now`. Small: every flush has a new `now`, so a larger cache
# only holds stale entries, which a steady daemon's RSS would carry (bench/findings.md).
@lru_cache(maxsize=8)
def due_params(now: datetime, claim_lease: timedelta) -> dict[str, str]:
    """The times sql.SELECT_DUE_OUTBOX and sql.CLAIM_OUTBOX compare with (the horizons: see
    base.RETRY_HORIZON)."""
    return {
        "now": to_db_time(now),
        "stale_before": to_db_time(now - claim_lease),
        "horizon": to_db_time(now + RETRY_HORIZON),
        "claim_horizon": to_db_time(now + CLAIM_SKEW),
    }


# Cached: a cycle stores the same few instants (its `now`, a mass failure's opened_at) in tens of thousands
# of rows, and formatting each again was a large part of persisting them (bench/findings.md). Safe to key on
# the datetime: equal aware datetimes are the same instant, whatever their zones, and so the same UTC text.
# Small: the repeats are a few instants of the current cycle; older ones would only pile up in a daemon.
@lru_cache(maxsize=64)
def to_db_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: the store only keeps aware times")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _optional_time(moment: datetime | None) -> str | None:
    return None if moment is None else to_db_time(moment)


def _optional_from_db(text: str | None) -> datetime | None:
    return None if text is None else from_db_time(text)


def alert_row(state: AlertState) -> tuple[object, ...]:
    """sql.UPSERT_ALERT's parameters by position: AlertState's fields in order, less the ack (a test holds the
    statement's order and this one together)."""
    return (
        state.fingerprint,
        state.rule_name,
        state.project,
        state.task_id,
        state.task_name,
        state.status.value,
        state.episode,
        state.last_status,
        state.record_id,
        state.next_execution_time,
        state.occurrences,
        state.consecutive_failures,
        to_db_time(state.opened_at),
        to_db_time(state.updated_at),
        _optional_time(state.notified_at),
        state.notified_occurrence,
        state.notified_status,
        state.silenced_by,
        _optional_time(state.closed_at),
        state.reason,
    )


def alert_from_row(row: Mapping[str, Any]) -> AlertState:
    """An AlertState from a row of sql.SELECT_ALERTS (columns by name)."""
    return alert_from_values([row[name] for name in AlertState._fields])


def alert_from_values(values: Sequence[Any]) -> AlertState:
    """An AlertState from a row of sql.SELECT_ALERTS by position: its columns are AlertState's fields in order
    (a test holds the two together). Loading a large state reads tens of thousands of these."""
    (
        fingerprint, rule_name, project, task_id, task_name, status, episode, last_status, record_id,
        next_execution_time, occurrences, consecutive_failures, opened_at, updated_at, notified_at,
        notified_occurrence, notified_status, silenced_by, closed_at, reason, acknowledged_by,
    ) = values  # fmt: skip
    return AlertState(
        fingerprint,
        rule_name,
        project,
        task_id,
        task_name,
        _ALERT_STATUSES.get(status) or AlertStatus(status),
        episode,
        last_status,
        record_id,
        next_execution_time,
        occurrences,
        consecutive_failures,
        from_db_time(opened_at),
        from_db_time(updated_at),
        None if notified_at is None else from_db_time(notified_at),
        notified_occurrence,
        notified_status,
        silenced_by,
        None if closed_at is None else from_db_time(closed_at),
        reason,
        acknowledged_by,
    )


def outbox_row(entry: OutboxEntry) -> tuple[object, ...]:
    """sql.INSERT_OUTBOX's parameters by position, in the order of sql.OUTBOX_ROW_FIELDS."""
    created = to_db_time(entry.created_at)
    return (
        entry.fingerprint,
        entry.episode,
        entry.kind.value,
        entry.channel,
        entry.group_key,
        # Booleans as 0/1: the same in SQLite and PostgreSQL (SMALLINT) without driver adapters.
        int(entry.notify),
        int(entry.update_message),
        encode_payload(entry.payload),
        created,
        created,  # next_attempt_at: due at once
    )


def encode_payload(payload: Mapping[str, Any]) -> str:
    """An outbox payload as JSON text, keys sorted (stable text for equal payloads)."""
    try:
        return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError: a lone surrogate, most likely
        return _ASCII_JSON.encode(payload)


def outbox_row_from_row(row: Mapping[str, Any]) -> OutboxRow:
    entry = OutboxEntry(
        fingerprint=row["fingerprint"],
        episode=row["episode"],
        kind=DecisionKind(row["kind"]),
        channel=row["channel"],
        payload=orjson.loads(row["payload"]),
        created_at=from_db_time(row["created_at"]),
        group_key=row["group_key"],
        notify=bool(row["notify"]),
        update_message=bool(row["update_message"]),
    )
    return OutboxRow(
        id=row["id"],
        entry=entry,
        state=OutboxState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=from_db_time(row["next_attempt_at"]),
        claimed_by=row["claimed_by"],
        last_error=row["last_error"],
    )


def silence_params(silence: Silence) -> dict[str, Any]:
    return {
        "id": silence.id,
        "match_spec": json.dumps(silence.matcher.to_spec(), sort_keys=True),
        "rule_names": json.dumps(sorted(silence.rules)),
        "until": to_db_time(silence.until),
        "comment": silence.comment,
        "created_by": silence.created_by,
        "created_at": _optional_time(silence.created_at),
        "time_intervals": json.dumps(list(silence.time_intervals)) if silence.time_intervals else None,
    }


#: Ids of stored regex silences already reported, so that a cycle's read does not log them again.
_REPORTED_REGEX_SILENCES: set[str] = set()


def _has_regex(spec: object) -> bool:
    """Whether a stored match spec names tasks by a `re:` pattern (older versions took them from Slack)."""
    names = spec.get("task_name") if isinstance(spec, Mapping) else None
    patterns = names if isinstance(names, list) else [names]
    return any(isinstance(pattern, str) and pattern.startswith("re:") for pattern in patterns)


def silences_from_rows(rows: Sequence[Mapping[str, Any]]) -> list[Silence]:
    """The stored silences, less those matching by a regular expression: before issue 20, `/tasks silence
    re:...` stored them, and a pattern like `re:(.+)+z` froze every cycle on Python's backtracking engine.
    Each is skipped (and reported once, with how to delete it), never run. Raises RuleFileError when a
    stored match no longer compiles."""
    silences = []
    for row in rows:
        if _has_regex(json.loads(row["match_spec"])):
            if row["id"] not in _REPORTED_REGEX_SILENCES:
                _REPORTED_REGEX_SILENCES.add(row["id"])
                log.warning(
                    "silences.regex_skipped",
                    silence=row["id"],
                    created_by=row["created_by"],
                    fix=f"/tasks unsilence {row['id']}, then silence by task id or name glob",
                )
            continue
        silences.append(silence_from_row(row))
    return silences


def silence_from_row(row: Mapping[str, Any]) -> Silence:
    """Raises RuleFileError when the stored match no longer compiles."""
    return Silence(
        id=row["id"],
        matcher=compile_match(json.loads(row["match_spec"]), where=f"stored silence {row['id']}"),
        until=from_db_time(row["until"]),
        comment=row["comment"],
        created_by=row["created_by"],
        created_at=_optional_from_db(row["created_at"]),
        rules=frozenset(json.loads(row["rule_names"])),
        origin=SilenceOrigin.RUNTIME,
        time_intervals=tuple(json.loads(row["time_intervals"])) if row["time_intervals"] else (),
    )
