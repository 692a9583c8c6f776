"""Meta-alerts: the decision as a table, and `SelfWatch` persisting it (state + outbox) in a SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.decide import DecisionKind
from monitor.notify.text import render_text, summary_line
from monitor.selfwatch import (
    WORKSPACE_CHECK,
    CheckState,
    Event,
    Outcome,
    SelfWatch,
    meta_payload,
    observe,
    slack_check,
)
from monitor.slack.meta import render_meta, render_meta_reply, render_meta_update
from monitor.store import SQLiteStore
from monitor.workspace.errors import (
    AuthError,
    ConfigurationError,
    MalformedResponseError,
    ServerError,
    TransportError,
)
from tests.support.slack import assert_valid

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
EARLIER = "2026-11-29T08:58:00+00:00"
OK, FAILED, REJECTED = Outcome.OK, Outcome.FAILED, Outcome.REJECTED
FIRING, RECOVERED = Event.FIRING, Event.RECOVERED


@pytest.mark.parametrize(
    ("before", "outcome", "threshold", "after", "event"),
    [
        # Healthy stays healthy, quietly.
        (CheckState(), OK, 3, CheckState(), None),
        # Failures count up to the threshold; the one reaching it fires, once.
        (CheckState(), FAILED, 3, CheckState(1, False, 0, NOW.isoformat(), "e"), None),
        (CheckState(1, False, 0, EARLIER, "x"), FAILED, 3, CheckState(2, False, 0, EARLIER, "e"), None),
        (CheckState(2, False, 0, EARLIER, "x"), FAILED, 3, CheckState(3, True, 1, EARLIER, "e"), FIRING),
        (CheckState(), FAILED, 1, CheckState(1, True, 1, NOW.isoformat(), "e"), FIRING),
        # Firing: more failures are counted and remembered, never announced again.
        (CheckState(3, True, 1, EARLIER, "x"), FAILED, 3, CheckState(4, True, 1, EARLIER, "e"), None),
        (CheckState(3, True, 1, EARLIER, "x"), REJECTED, 3, CheckState(4, True, 1, EARLIER, "e"), None),
        # Rejected (auth, a channel refusing): at once, whatever the threshold.
        (CheckState(), REJECTED, 3, CheckState(1, True, 1, NOW.isoformat(), "e"), FIRING),
        (CheckState(1, False, 4, EARLIER, "x"), REJECTED, 5, CheckState(2, True, 5, EARLIER, "e"), FIRING),
        # A success below the threshold forgets the streak; one while firing recovers, keeping the episode.
        (CheckState(2, False, 0, EARLIER, "x"), OK, 3, CheckState(), None),
        (CheckState(4, True, 1, EARLIER, "x"), OK, 3, CheckState(episode=1), RECOVERED),
        # The next streak is a new episode.
        (CheckState(episode=1), REJECTED, 3, CheckState(1, True, 2, NOW.isoformat(), "e"), FIRING),
    ],
)
def test_observe(
    before: CheckState, outcome: Outcome, threshold: int, after: CheckState, event: Event | None
) -> None:
    error = None if outcome is OK else "e"
    assert observe(before, outcome, error=error, now=NOW, threshold=threshold) == (after, event)


def test_state_round_trips_through_json() -> None:
    state = CheckState(4, True, 2, EARLIER, "HTTP 503")
    assert CheckState.from_json(state.to_json()) == state
    assert CheckState.from_json(None) == CheckState()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore.open(tmp_path / "state.db") as opened:
        yield opened


def watch(store: SQLiteStore, *, ops: str | None = "#ops", threshold: int = 3) -> SelfWatch:
    return SelfWatch(store, ops_channel=ops, threshold=threshold, clock=lambda: NOW)


def outbox(store: SQLiteStore) -> list[tuple[str, int, DecisionKind, str]]:
    """Every outbox row, in order (pending_outbox would hold a recovery back until its alert is sent)."""
    with closing(sqlite3.connect(store.path)) as db:
        rows = db.execute("SELECT fingerprint, episode, kind, channel FROM outbox ORDER BY id").fetchall()
    return [
        (fingerprint, episode, DecisionKind(kind), channel) for fingerprint, episode, kind, channel in rows
    ]


def test_an_api_outage_fires_once_after_the_threshold_and_recovers_once(store: SQLiteStore) -> None:
    selfwatch = watch(store)
    for _ in range(2):
        selfwatch.cycle_failed(ServerError("down", status=503))
    assert outbox(store) == []
    for _ in range(5):
        selfwatch.cycle_failed(TransportError("connection refused"))
    selfwatch.cycle_succeeded(complete=True)
    selfwatch.cycle_succeeded(complete=True)
    assert outbox(store) == [
        ("meta:workspace", 1, DecisionKind.NEW, "#ops"),
        ("meta:workspace", 1, DecisionKind.RESOLVED, "#ops"),
    ]


def test_rejected_credentials_fire_at_once(store: SQLiteStore) -> None:
    watch(store).cycle_failed(AuthError("signature rejected", status=401, error_code="APIGW.0301"))
    [row] = store.pending_outbox(now=NOW, limit=10)
    assert row.entry.payload["error"] == "signature rejected (HTTP 401, APIGW.0301)"
    assert row.entry.payload["check"] == WORKSPACE_CHECK


def test_a_wrong_endpoint_fires_at_once_naming_it(store: SQLiteStore) -> None:
    error = ConfigurationError(
        "Workspace API unreachable at https://workspace.xx-nowhere-1.myhuaweicloud.com: not published",
        status=404,
        error_code="APIGW.0101",
    )
    watch(store).cycle_failed(error)
    [row] = store.pending_outbox(now=NOW, limit=10)
    assert "https://workspace.xx-nowhere-1.myhuaweicloud.com" in row.entry.payload["error"]
    assert "APIGW.0101" in row.entry.payload["error"]


def test_incomplete_listings_count_as_failures(store: SQLiteStore) -> None:
    selfwatch = watch(store, threshold=2)
    selfwatch.cycle_succeeded(complete=False, problems=["page at offset 50: garbage"])
    selfwatch.cycle_failed(MalformedResponseError("not JSON"))
    [row] = store.pending_outbox(now=NOW, limit=10)
    assert row.entry.payload["failures"] == 2


def test_the_state_survives_a_restart(tmp_path: Path) -> None:
    """A daemon restarted mid-outage neither forgets the streak nor announces the outage again."""
    with SQLiteStore.open(tmp_path / "state.db") as first:
        for _ in range(3):
            watch(first).cycle_failed(ServerError("down"))
    with SQLiteStore.open(tmp_path / "state.db") as second:
        watch(second).cycle_failed(ServerError("down"))
        watch(second).cycle_succeeded(complete=True)
        assert [kind for _, _, kind, _ in outbox(second)] == [DecisionKind.NEW, DecisionKind.RESOLVED]


def test_a_channel_refusing_is_reported_to_the_ops_channel_and_heals_with_a_delivery(
    store: SQLiteStore,
) -> None:
    selfwatch = watch(store)
    selfwatch.deliveries({"#ops"}, {"#gone": "slack chat_postMessage to #gone: channel_not_found"})
    selfwatch.deliveries(set(), {"#gone": "slack chat_postMessage to #gone: channel_not_found"})
    selfwatch.deliveries({"#gone"}, {})
    assert outbox(store) == [
        ("meta:slack:#gone", 1, DecisionKind.NEW, "#ops"),
        ("meta:slack:#gone", 1, DecisionKind.RESOLVED, "#ops"),
    ]
    assert selfwatch.state(slack_check("#ops")) == CheckState()  # healthy channels store nothing


def test_rows_without_a_channel_are_not_a_channel_to_watch(store: SQLiteStore) -> None:
    watch(store).deliveries(set(), {"": "no channel: set the rule's channel or slack.default_channel"})
    assert outbox(store) == []


def test_without_an_ops_channel_the_state_is_kept_and_nothing_queued(store: SQLiteStore) -> None:
    selfwatch = watch(store, ops=None)
    selfwatch.cycle_failed(AuthError("rejected"))
    assert outbox(store) == []
    assert selfwatch.state(WORKSPACE_CHECK).firing


def test_an_unreadable_state_starts_afresh(store: SQLiteStore) -> None:
    store.set_meta("selfwatch:workspace", "{not json")
    watch(store).cycle_failed(AuthError("rejected"))
    assert [kind for _, _, kind, _ in outbox(store)] == [DecisionKind.NEW]


HOSTILE = "<!channel> & <http://evil|click>"


@pytest.mark.parametrize("event", [Event.FIRING, Event.RECOVERED])
@pytest.mark.parametrize("check", [WORKSPACE_CHECK, "workspace:<!here>", slack_check("#ops <!here>")])
def test_meta_messages_are_valid_block_kit_and_inert(check: str, event: Event) -> None:
    state = CheckState(4, event is Event.FIRING, 2, EARLIER, f"HTTP 503 {HOSTILE}")
    payload = meta_payload(check, state, event, now=NOW)
    for message in (render_meta(payload), render_meta_update(payload), render_meta_reply(payload)):
        assert_valid(message)
        assert message.alerts == [(f"meta:{check}", 2)]
    body = str(render_meta(payload).blocks)
    assert "&lt;!channel&gt; &amp; &lt;http://evil|click&gt;" in body
    if event is Event.FIRING:
        assert "4 times in a row" in body
        assert ("credentials" in body) is check.startswith("workspace")  # what to check, for the API
    else:
        assert "Recovered" in render_meta(payload).text or "recovered" in render_meta(payload).text


def test_the_console_shows_meta_alerts() -> None:
    firing = meta_payload(WORKSPACE_CHECK, CheckState(3, True, 1, EARLIER, "HTTP 503"), Event.FIRING, now=NOW)
    recovered = meta_payload(WORKSPACE_CHECK, CheckState(3, True, 1, EARLIER), Event.RECOVERED, now=NOW)
    assert (
        render_text(firing) == "[ops] workspace-monitor cannot work: Workspace API failing\n  error: HTTP 503"
    )
    assert summary_line(recovered) == (
        f"[ops] workspace-monitor recovered: Workspace API works again (failing since {EARLIER})"
    )
