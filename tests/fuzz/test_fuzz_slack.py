"""Fuzzing what Slack answers, through the real SlackNotifier (slack_sdk over HTTP) and the Dispatcher.

A loopback HTTP server plays Slack and answers each Web API call with a drawn answer; the notifier, slack_sdk,
the dispatcher and a real SQLite outbox are the product's.

What it proves (hypothesis; examples per target from the profile, see tests/fuzz/__init__.py for CI counts):
- whatever Slack answers (ok without `channel`/`ts`, `ok: false` with any error, any status code, a garbage,
  huge or infinite `Retry-After`, HTML, truncated or empty bodies, JSON that is not an object, wrong types in
  history pages), a flush of the outbox returns: every row ends sent, put back for a retry, or failed - none
  is left claimed, and the flush never raises (one bad answer must not stop the delivery of every other
  alert). Before the fix each of the `@example`s below raised out of the flush.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import strategies as st
from slack_sdk.web.async_client import AsyncWebClient

from monitor.decide import DecisionKind
from monitor.devtools.slackstub import DEFAULT_TOKEN
from monitor.notify.dispatch import Dispatcher
from monitor.slack.notifier import SlackNotifier
from monitor.store import SQLiteStore
from monitor.store.base import CycleChanges, OutboxEntry, OutboxState
from tests.fuzz import examples
from tests.support.slack import payload

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
OK = {"ok": True, "channel": "C0OPS00001", "ts": "1764403200.000100"}

Answer = tuple[int, dict[str, str], bytes]


class FakeSlack(BaseHTTPRequestHandler):
    """Answers every call with the next scripted answer, then with a plain ok."""

    answers: ClassVar[list[Answer]] = []
    calls: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        FakeSlack.calls.append(self.path)
        status, headers, body = (
            FakeSlack.answers.pop(0) if FakeSlack.answers else (200, {}, json.dumps(OK).encode())
        )
        self.send_response(status)
        for name, value in {"Content-Type": "application/json; charset=utf-8", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def slack_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSlack)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/"
    finally:
        server.shutdown()
        server.server_close()


pieces = st.one_of(
    st.text(max_size=12), st.sampled_from(["channel_not_found", "ratelimited", "invalid_auth", ""])
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), pieces),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(pieces, inner, max_size=3),
    max_leaves=6,
)
answer_bodies = st.one_of(
    st.just(OK),
    st.fixed_dictionaries({"ok": st.just(True)}, optional={"channel": json_values, "ts": json_values}),
    st.fixed_dictionaries({"ok": st.just(False), "error": st.one_of(pieces, json_values)}),
    st.fixed_dictionaries(
        {"ok": st.just(True), "messages": st.one_of(st.lists(json_values, max_size=2), json_values)},
        optional={"response_metadata": json_values, "channels": json_values},
    ),
    json_values,
)
encoded = st.one_of(
    answer_bodies.map(lambda body: json.dumps(body).encode()),
    st.tuples(answer_bodies, st.integers(0, 40)).map(lambda cut: json.dumps(cut[0]).encode()[: cut[1]]),
    st.just(b"<html><body>502 Bad Gateway</body></html>"),
    st.just(b""),
)
answers = st.tuples(
    st.one_of(
        st.sampled_from([200] * 6 + [201, 302, 400, 401, 404, 429, 500, 502, 503]), st.integers(200, 599)
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "Retry-After": st.sampled_from(["1", "0", "abc", "inf", "nan", "-5", "1e300", ""]),
            "Content-Type": st.sampled_from(["text/html", "text/plain", "application/json"]),
        },
    ),
    encoded,
)


def outbox_row(kind: DecisionKind) -> OutboxEntry:
    return OutboxEntry(
        fingerprint="0123456789abcdef", episode=1, kind=kind, channel="#desktop-ops",
        payload=payload(kind=kind.value), created_at=NOW, notify=True,
        update_message=kind is DecisionKind.RECURRED,
    )  # fmt: skip


RATELIMITED = b'{"ok": false, "error": "ratelimited"}'


# What the first runs found, kept as examples that always run (each raised out of the flush before the fix):
@example([(429, {"Retry-After": "inf"}, RATELIMITED)], DecisionKind.NEW)  # OverflowError in the backoff
@example([(429, {"Retry-After": "1e300"}, RATELIMITED)], DecisionKind.NEW)  # OverflowError
@example([(429, {"Retry-After": "abc"}, RATELIMITED)], DecisionKind.NEW)  # ValueError
@example([(200, {}, b'{"ok": true}')], DecisionKind.NEW)  # KeyError: no channel, no ts
@example([(200, {}, b"[]")], DecisionKind.NEW)  # AttributeError in slack_sdk and in the error translation
@example([(200, {}, b"5")], DecisionKind.RECURRED)  # AttributeError in slack_sdk
@example(
    [(200, {"Content-Type": "text/html"}, b"<html>502</html>")], DecisionKind.NEW
)  # raw aiohttp response
@example(
    [(200, {}, json.dumps({"ok": True, "messages": [5], "response_metadata": 1}).encode())],
    DecisionKind.RECURRED,
)
@examples(ci_cap=300, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(answers, min_size=1, max_size=4), st.sampled_from([DecisionKind.NEW, DecisionKind.RECURRED]))
def test_any_slack_answer_leaves_every_row_settled_and_the_flush_alive(
    slack_url: str, scripted: list[Answer], kind: DecisionKind
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore.open(Path(folder) / "state.db")
        try:
            entries = [outbox_row(kind), outbox_row(DecisionKind.NEW)._replace(channel="#other")]
            store.apply_cycle(CycleChanges(alerts=[], outbox=entries, meta={}))
            FakeSlack.answers = list(scripted)

            async def flush() -> None:
                client = AsyncWebClient(token=DEFAULT_TOKEN, base_url=slack_url, timeout=5)
                notifier = SlackNotifier(client, per_channel_interval=0)
                await Dispatcher(store, notifier, claimer="fuzz", clock=lambda: NOW).flush()

            asyncio.run(flush())
        finally:
            store.close()
        with sqlite3.connect(Path(folder) / "state.db") as db:
            states = [state for (state,) in db.execute("SELECT state FROM outbox")]
        db.close()
    assert len(states) == 2
    assert OutboxState.CLAIMED.value not in states, states
