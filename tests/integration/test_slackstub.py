"""The Slack stub against slack_sdk's own clients: posting, editing, threads, history with metadata and
paging, errors with Slack's codes, injected faults (429 + Retry-After through slack_sdk's retry handler,
5xx, dropped connections, a down switch), form and JSON bodies, response_url, the control API, and the
thread-based variant for synchronous callers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_async_handlers
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.webhook.async_client import AsyncWebhookClient

from monitor.devtools.slackstub import (
    DEFAULT_TOKEN,
    SlackStub,
    SlackStubOptions,
    SlackStubThread,
    start_slack_stub,
)
from monitor.slack.alert import render_alert, render_thread_reply, render_update
from monitor.slack.digest import render_digest
from tests.support.slack import many, payload

T0 = 1732860000.0


def options(**changes: Any) -> SlackStubOptions:
    """A stub whose clock stands still, so every ts is predictable (rate limits off: nothing would refill)."""
    values: dict[str, Any] = {"clock": lambda: T0, "rate_limits": False}
    values.update(changes)
    return SlackStubOptions(**values)


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    async with start_slack_stub(options()) as running:
        yield running


@pytest.fixture
def no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack_sdk's rate-limit handler sleeps Retry-After plus random() seconds: make it Retry-After alone."""
    monkeypatch.setattr(builtin_async_handlers, "random", SimpleNamespace(random=lambda: 0.0))


async def slack_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


# Posting, editing, threads.
async def test_post_answers_the_channel_id_and_increasing_ts(stub: SlackStub) -> None:
    client = stub.client()
    first = await client.chat_postMessage(channel="#desktop-ops", text="one")
    second = await client.chat_postMessage(channel="desktop-ops", text="two")
    third = await client.chat_postMessage(channel="C0DESKOPS01", text="three")
    assert [first["ts"], second["ts"], third["ts"]] == [
        "1732860000.000000",
        "1732860000.000100",
        "1732860000.000200",
    ]
    assert {first["channel"], second["channel"], third["channel"]} == {"C0DESKOPS01"}
    assert first["message"]["text"] == "one"
    assert [m.text for m in stub.state.messages("#desktop-ops")] == ["one", "two", "three"]


async def test_a_rendered_alert_its_update_and_its_replies(stub: SlackStub) -> None:
    client = stub.client()
    alert = payload()
    posted = await client.chat_postMessage(**render_alert(alert).post_kwargs("#desktop-ops"))
    channel, ts = posted["channel"], posted["ts"]
    recurred = payload(kind="RECURRED", occurrences=2)
    await client.chat_update(**render_update(recurred).update_kwargs(channel, ts))
    await client.chat_postMessage(**render_thread_reply(recurred).post_kwargs(channel, thread_ts=ts))
    resolved = payload(kind="RESOLVED", alert_status="resolved", occurrences=2)
    await client.chat_update(**render_update(resolved).update_kwargs(channel, ts))
    await client.chat_postMessage(**render_thread_reply(resolved).post_kwargs(channel, thread_ts=ts))

    (message,) = stub.state.messages("desktop-ops")
    assert message.text == render_update(resolved).text
    assert message.blocks == render_update(resolved).blocks
    assert [edit.text for edit in message.edits] == [render_alert(alert).text, render_update(recurred).text]
    assert [reply.text for reply in message.replies] == [
        render_thread_reply(recurred).text,
        render_thread_reply(resolved).text,
    ]
    assert message.metadata == render_update(resolved).metadata


async def test_update_errors(stub: SlackStub) -> None:
    client = stub.client()
    posted = await client.chat_postMessage(channel="#desktop-ops", text="x")
    unknown = await slack_error(client.chat_update(channel=posted["channel"], ts="1.000001", text="y"))
    assert unknown.response["error"] == "message_not_found"
    # Slack wants the id it answered the post with, not the name.
    by_name = await slack_error(client.chat_update(channel="#desktop-ops", ts=posted["ts"], text="y"))
    assert by_name.response["error"] == "channel_not_found"
    person = stub.state.add_user_message("desktop-ops", "a human wrote this")
    theirs = await slack_error(client.chat_update(channel=posted["channel"], ts=person.ts, text="y"))
    assert theirs.response["error"] == "cant_update_message"


async def test_update_keeps_what_it_is_not_given(stub: SlackStub) -> None:
    client = stub.client()
    metadata = {"event_type": "workspace_monitor_alert", "event_payload": {"fingerprint": "f"}}
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "body"}}]
    posted = await client.chat_postMessage(channel="#general", text="x", blocks=blocks, metadata=metadata)
    await client.chat_update(channel=posted["channel"], ts=posted["ts"], text="y")
    message = stub.state.message("general", posted["ts"])
    assert (message.text, message.blocks, message.metadata) == ("y", blocks, metadata)


async def test_thread_replies_orphans_and_bad_thread_ts(stub: SlackStub) -> None:
    client = stub.client()
    parent = await client.chat_postMessage(channel="#general", text="parent")
    reply = await client.chat_postMessage(channel=parent["channel"], text="r1", thread_ts=parent["ts"])
    # A reply to a reply lands in the same thread, as on Slack.
    await client.chat_postMessage(channel=parent["channel"], text="r2", thread_ts=reply["ts"])
    gone = await slack_error(
        client.chat_postMessage(channel=parent["channel"], text="lost", thread_ts="1700000000.000001")
    )
    assert gone.response["error"] == "thread_not_found"
    stub.state.options.orphan_replies = True
    orphan = await client.chat_postMessage(
        channel=parent["channel"], text="lost", thread_ts="1700000000.000001"
    )
    assert orphan["ok"]
    assert [o.text for o in stub.state.orphans] == ["lost"]
    stub.state.options.orphan_replies = False
    bad = await slack_error(client.chat_postMessage(channel=parent["channel"], text="x", thread_ts="0"))
    assert bad.response["error"] == "invalid_thread_ts"

    thread = await client.conversations_replies(channel=parent["channel"], ts=reply["ts"])
    assert [m["text"] for m in thread["messages"]] == ["parent", "r1", "r2"]
    history = await client.conversations_history(channel=parent["channel"])
    (top,) = history["messages"]
    assert (top["text"], top["reply_count"], top["thread_ts"]) == ("parent", 2, parent["ts"])
    assert stub.state.snapshot()["general"][0]["replies"][1]["text"] == "r2"


# History.
async def test_history_is_newest_first_with_metadata_only_when_asked(stub: SlackStub) -> None:
    client = stub.client()
    for number in range(3):
        message = render_alert(payload(fingerprint=f"{number:016x}"))
        await client.chat_postMessage(**message.post_kwargs("#desktop-ops"))
    plain = await client.conversations_history(channel="C0DESKOPS01")
    assert all("metadata" not in m for m in plain["messages"])
    full = await client.conversations_history(channel="C0DESKOPS01", include_all_metadata=True)
    fingerprints = [m["metadata"]["event_payload"]["fingerprint"] for m in full["messages"]]
    assert fingerprints == [f"{n:016x}" for n in (2, 1, 0)]
    assert full["messages"][0]["blocks"] == render_alert(payload(fingerprint=f"{2:016x}")).blocks


async def test_history_pages_with_cursors_and_bounds(stub: SlackStub) -> None:
    client = stub.client()
    sent = [(await client.chat_postMessage(channel="#general", text=f"m{n}"))["ts"] for n in range(7)]
    texts = []
    async for page in await client.conversations_history(channel="C0GENERAL01", limit=3):
        texts.append([m["text"] for m in page["messages"]])
    assert texts == [["m6", "m5", "m4"], ["m3", "m2", "m1"], ["m0"]]
    bounded = await client.conversations_history(channel="C0GENERAL01", oldest=sent[2], latest=sent[5])
    assert [m["text"] for m in bounded["messages"]] == ["m4", "m3"]
    inclusive = await client.conversations_history(
        channel="C0GENERAL01", oldest=sent[2], latest=sent[5], inclusive=True
    )
    assert [m["text"] for m in inclusive["messages"]] == ["m5", "m4", "m3", "m2"]
    bad = await slack_error(client.conversations_history(channel="C0GENERAL01", cursor="nonsense!"))
    assert bad.response["error"] == "invalid_cursor"


# Errors.
async def test_auth_errors(stub: SlackStub) -> None:
    wrong = await slack_error(stub.client(token="xoxb-wrong").chat_postMessage(channel="#general", text="x"))
    assert wrong.response["error"] == "invalid_auth"
    assert wrong.response.status_code == 200
    ok = await stub.client().auth_test()
    assert (ok["user_id"], ok["team_id"], ok["bot_id"]) == ("U0STUBBOT1", "T0STUBTEAM", "B0STUBBOT1")
    async with aiohttp.ClientSession() as session, session.post(stub.api_url + "auth.test") as response:
        assert (await response.json())["error"] == "not_authed"
    assert stub.state.count("chat.postMessage", ok=False) == 1
    assert stub.state.snapshot() == {}


async def test_channel_errors() -> None:
    async with start_slack_stub(options(strict_channels=True, not_in_channel=frozenset({"general"}))) as stub:
        client = stub.client()
        missing = await slack_error(client.chat_postMessage(channel="#nowhere", text="x"))
        assert missing.response["error"] == "channel_not_found"
        outside = await slack_error(client.chat_postMessage(channel="#general", text="x"))
        assert outside.response["error"] == "not_in_channel"
        stub.state.set_member("general", True)
        assert (await client.chat_postMessage(channel="#general", text="x"))["ok"]
    async with start_slack_stub(options()) as lenient:
        created = await lenient.client().chat_postMessage(channel="#new-channel", text="x")
        assert lenient.state.channel("new-channel").id == created["channel"]


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
async def test_message_content_errors(stub: SlackStub) -> None:
    client = stub.client()
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "no_text"),
        ({"text": "x" * 40_001}, "msg_too_long"),
        (
            {"text": "x", "blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}]},
            "invalid_blocks",
        ),
        ({"text": "x", "blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
        (
            {
                "text": "x",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 2900}}] * 5,
            },
            "msg_blocks_too_long",
        ),
        ({"text": "x", "metadata": {"event_type": "x"}}, "invalid_metadata_format"),
    ]
    for arguments, error in cases:
        failed = await slack_error(client.chat_postMessage(channel="#general", **arguments))
        assert failed.response["error"] == error, arguments
    assert stub.state.snapshot() == {}


# Faults.
async def test_rate_limited_then_posted_by_slack_sdks_retry_handler(stub: SlackStub, no_jitter: None) -> None:
    stub.state.faults.rate_limit(2, retry_after=0, method="chat.postMessage")
    client = stub.client(retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)])
    posted = await client.chat_postMessage(channel="#general", text="eventually")
    assert posted["ok"]
    assert [(call.status, call.error) for call in stub.state.calls] == [
        (429, "rate_limit"),
        (429, "rate_limit"),
        (200, None),
    ]
    assert len(stub.state.messages("general")) == 1


async def test_rate_limited_without_a_retry_handler(stub: SlackStub) -> None:
    stub.state.faults.rate_limit(1, retry_after=7)
    limited = await slack_error(stub.client(retry_handlers=[]).chat_postMessage(channel="#general", text="x"))
    assert limited.response.status_code == 429
    assert limited.response.headers["Retry-After"] == "7"
    assert limited.response["error"] == "ratelimited"


async def test_every_third_call_is_rate_limited(stub: SlackStub) -> None:
    stub.state.faults.rate_limit(None, every=3, retry_after=0)
    client = stub.client(retry_handlers=[])
    outcomes = []
    for _ in range(7):
        try:
            await client.auth_test()
            outcomes.append("ok")
        except SlackApiError as exc:
            outcomes.append(str(exc.response.status_code))
    assert outcomes == ["ok", "ok", "429", "ok", "ok", "429", "ok"]
    assert stub.state.faults.pending()[0]["fired"] == 2


async def test_server_errors_and_slack_sdks_server_error_handler(stub: SlackStub) -> None:
    stub.state.faults.server_error(1, status=503)
    failed = await slack_error(stub.client(retry_handlers=[]).auth_test())
    assert failed.response.status_code == 503
    stub.state.faults.server_error(1)
    handler = AsyncServerErrorRetryHandler(interval_calculator=FixedValueRetryIntervalCalculator(0.0))
    assert (await stub.client(retry_handlers=[handler]).auth_test())["ok"]


async def test_injected_error_codes(stub: SlackStub) -> None:
    stub.state.faults.error("fatal_error", method="chat.update")
    client = stub.client()
    posted = await client.chat_postMessage(channel="#general", text="x")  # not a chat.update: untouched
    failed = await slack_error(client.chat_update(channel=posted["channel"], ts=posted["ts"], text="y"))
    assert failed.response["error"] == "fatal_error"
    assert stub.state.message("general", posted["ts"]).text == "x"


async def test_a_dropped_connection(stub: SlackStub) -> None:
    stub.state.faults.drop(1)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await stub.client(retry_handlers=[]).auth_test()
    assert (await stub.client().auth_test())["ok"]


async def test_a_fault_is_not_used_up_by_a_bad_token(stub: SlackStub) -> None:
    stub.state.faults.rate_limit(1, retry_after=0)
    assert (await slack_error(stub.client(token="bad").auth_test())).response["error"] == "invalid_auth"
    assert len(stub.state.faults.pending()) == 1


async def test_down_refuses_connections_until_up_again(stub: SlackStub) -> None:
    client = stub.client(retry_handlers=[])
    await stub.set_down(True)
    with pytest.raises(aiohttp.ClientConnectorError):
        await client.auth_test()
    await stub.set_down(False)
    assert (await client.auth_test())["ok"]


async def test_down_drops_requests_on_open_connections(stub: SlackStub) -> None:
    async with aiohttp.ClientSession() as session:
        client = stub.client(session=session, retry_handlers=[])
        assert (await client.auth_test())["ok"]  # the session keeps this connection open
        await stub.set_down(True)
        with pytest.raises(aiohttp.ClientError):
            await client.auth_test()
        await stub.set_down(False)
        assert (await client.auth_test())["ok"]


# Bodies, ephemeral messages, response_url.
async def test_form_bodies_with_token_and_json_strings(stub: SlackStub) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*formed*"}}]
    form = {"token": DEFAULT_TOKEN, "channel": "#general", "text": "x", "blocks": json.dumps(blocks)}
    async with aiohttp.ClientSession() as session:
        async with session.post(stub.api_url + "chat.postMessage", data=form) as response:
            answer = await response.json()
        assert answer["ok"]
        # A JSON body's token does not count: Slack wants it in the Authorization header.
        async with session.post(stub.api_url + "auth.test", json={"token": DEFAULT_TOKEN}) as response:
            assert (await response.json())["error"] == "not_authed"
        async with session.get(stub.api_url + "auth.test", params={"token": DEFAULT_TOKEN}) as response:
            assert (await response.json())["ok"]
    assert stub.state.messages("general")[0].blocks == blocks


async def test_ephemeral_and_response_url(stub: SlackStub) -> None:
    client = stub.client()
    answer = await client.chat_postEphemeral(channel="#general", user="U0SOMEONE1", text="only you")
    assert answer["message_ts"]
    assert stub.state.ephemeral[0]["text"] == "only you"
    assert stub.state.messages("general") == []
    webhook = AsyncWebhookClient(stub.response_url("cmd-1"))
    sent = await webhook.send(text="3 tasks failing", response_type="ephemeral")
    assert (sent.status_code, sent.body) == (200, "ok")
    assert stub.state.responses == [
        {"id": "cmd-1", "body": {"text": "3 tasks failing", "response_type": "ephemeral"}}
    ]


# The control API.
async def test_control_api(stub: SlackStub) -> None:
    control = stub.base_url + "/_stub/"
    async with aiohttp.ClientSession() as session:
        async with session.post(
            control + "faults", json={"kind": "rate_limit", "retry_after": 0}
        ) as response:
            assert response.status == 201
        async with session.post(control + "faults", json=[{"kind": "nope"}]) as response:
            assert response.status == 400
            assert "kind must be" in (await response.json())["error"]
        async with session.post(
            control + "channels", json={"name": "#alerts", "id": "C0ALERTS001"}
        ) as response:
            assert (await response.json()) == {"id": "C0ALERTS001", "name": "alerts", "member": True}
        client = stub.client(retry_handlers=[])
        assert (await slack_error(client.auth_test())).response.status_code == 429
        await client.chat_postMessage(channel="C0ALERTS001", text="hello")
        async with session.get(control + "state") as response:
            state = await response.json()
        assert state["messages"]["alerts"][0]["text"] == "hello"
        async with session.get(control + "calls") as response:
            assert [call["method"] for call in await response.json()] == ["auth.test", "chat.postMessage"]
        async with session.post(control + "reset") as response:
            assert response.status == 200
        assert stub.state.calls == []
        assert stub.state.snapshot() == {}
        async with session.post(control + "down", json={"seconds": 0.05}) as response:
            assert response.status == 202
    assert stub.state.down
    for _ in range(200):  # back up after its timer; no wall-clock assertion, just wait for it
        if not stub.state.down:
            break
        await asyncio.sleep(0.01)
    assert (await stub.client().auth_test())["ok"]


# The whole digest passes Slack's checks.
async def test_every_part_of_a_large_digest_is_accepted(stub: SlackStub) -> None:
    client = stub.client()
    messages = render_digest(many(1000))
    for message in messages:
        await client.chat_postMessage(**message.post_kwargs("#desktop-ops"))
    posted = stub.state.messages("desktop-ops")
    assert len(posted) == len(messages)
    assert sum(len(m.metadata["event_payload"]["alerts"]) for m in posted if m.metadata) == 1000


# For synchronous callers.
def test_thread_variant_with_the_sync_client() -> None:
    with SlackStubThread(options()) as stub:
        client = WebClient(token=stub.token, base_url=stub.api_url, retry_handlers=[])
        posted = client.chat_postMessage(channel="#general", text="from a thread")
        assert posted["channel"] == "C0GENERAL01"
        stub.call(stub.state.faults.error, "ratelimited")
        with pytest.raises(SlackApiError):
            client.auth_test()
        stub.set_down(True)
        assert stub.state.down
        stub.set_down(False)
        assert client.auth_test()["ok"]
        assert [m.text for m in stub.state.messages("general")] == ["from a thread"]
