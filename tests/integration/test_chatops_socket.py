"""The `/tasks` app in Socket Mode: slack_sdk's aiohttp client opens its websocket through the stand-in's
`apps.connections.open`, receives the Socket Mode envelope protocol (hello, envelopes, acks, disconnect) from
the stand-in's hub, and answers through response_url. Also: the stand-in's token rules, and `/healthz`'s view
of the link (`ChatopsService.problem`) following the connection down and up again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog
from slack_sdk.errors import SlackApiError

from monitor.chatops.access import Access
from monitor.chatops.handlers import Deps
from monitor.chatops.runner import ChatopsService, SlackTokens, status_with_tokens
from monitor.chatops.tokens import Backoff
from monitor.config import SlackSettings
from monitor.devtools.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    SimOptions,
    start_simulator,
)
from monitor.devtools.slackstub import DEFAULT_APP_TOKEN, SlackStubOptions, start_slack_stub
from monitor.devtools.slackstub.runner import SlackStub
from monitor.store import SQLiteStore
from monitor.workspace.auth import AkSkAuth
from monitor.workspace.client import RetryPolicy, WorkspaceClient
from tests.support.slack import ADMIN, as_message, assert_valid, blocks_text
from tests.support.world import START


@dataclass
class Socket:
    stub: SlackStub
    service: ChatopsService
    store: SQLiteStore
    #: (token kind, error) of every refusal the service counted (the metric's hook).
    rejections: list[tuple[str, str]]

    def command(self, text: str, response_id: str, user: str = ADMIN) -> dict[str, Any]:
        return {
            "token": "legacy-verification-token",
            "team_id": "T0STUBTEAM",
            "team_domain": "acme",
            "channel_id": "C0GENERAL01",
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/tasks",
            "text": text,
            "api_app_id": "A0STUBAPP1",
            "response_url": self.stub.response_url(response_id),
            "trigger_id": "1.2.3",
        }

    async def answer(self, response_id: str) -> dict[str, Any]:
        async with asyncio.timeout(15):
            while True:
                for response in self.stub.state.responses:
                    if response["id"] == response_id:
                        body: dict[str, Any] = response["body"]
                        return body
                await asyncio.sleep(0.01)

    async def until_problem(self, starts: str) -> str:
        async with asyncio.timeout(15):
            while True:
                problem = self.service.problem() or ""
                if problem.startswith(starts):
                    return problem
                await asyncio.sleep(0.02)

    async def until_rejected(self, times: int) -> None:
        async with asyncio.timeout(15):
            while True:
                if len(self.rejections) >= times:
                    return
                await asyncio.sleep(0.02)

    async def until(self, healthy: bool) -> None:
        async with asyncio.timeout(15):
            while True:
                if (self.service.problem() is None) == healthy:
                    return
                await asyncio.sleep(0.02)


@pytest.fixture
async def socket(tmp_path: Path) -> AsyncIterator[Socket]:
    async with (
        start_simulator(SimOptions(tasks=30, seed=3)) as sim,
        # Rate limits off: these drop and reopen the link within seconds; Tier 1 opens one a minute.
        start_slack_stub(SlackStubOptions(rate_limits=False)) as stub,
    ):
        client = WorkspaceClient(
            endpoint=sim.base_url,
            project_id=DEFAULT_PROJECT_ID,
            auth=AkSkAuth(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, project_id=DEFAULT_PROJECT_ID),
            retry=RetryPolicy(attempts=2, wait_initial=0, wait_max=0, wait_jitter=0),
        )
        store = SQLiteStore.open(tmp_path / "state.db")
        deps = Deps(tasks=client, store=store, clock=lambda: START, access=Access.of([ADMIN], []))
        settings = SlackSettings(mode="socket", api_url=stub.api_url)
        tokens = SlackTokens(bot=stub.token, app=DEFAULT_APP_TOKEN)
        rejections: list[tuple[str, str]] = []
        service = ChatopsService(
            settings, tokens, deps, ping_interval=1.0, watch_every=0.05,
            on_token_rejected=lambda kind, error: rejections.append((kind, error)),
            backoff=Backoff(first=0.05, longest=0.2), bot_check_every=0.1,
        )  # fmt: skip
        deps.status = status_with_tokens(deps.status, service)
        await service.start()
        try:
            async with client:
                await stub.socket.wait_connected()
                yield Socket(stub, service, store, rejections)
        finally:
            await service.stop()
            store.close()


async def test_the_app_connects_with_its_app_token_and_gets_hello(socket: Socket) -> None:
    await socket.until(healthy=True)
    assert socket.stub.socket.connected == 1
    opened = [call for call in socket.stub.state.calls if call.method == "apps.connections.open"]
    assert [call.error for call in opened] == [None]


async def test_a_slash_command_envelope_is_acked_then_answered(socket: Socket) -> None:
    envelope_id = await socket.stub.socket.send("slash_commands", socket.command("list", "s1"))
    ack = await socket.stub.socket.ack(envelope_id)
    assert ack["envelope_id"] == envelope_id
    answer = await socket.answer("s1")
    assert answer["response_type"] == "ephemeral"
    assert_valid(as_message(answer))
    assert "30 scheduled tasks" in blocks_text(answer)


async def test_a_button_envelope_is_acked_then_answered(socket: Socket) -> None:
    payload = {
        "type": "block_actions",
        "team": {"id": "T0STUBTEAM", "domain": "acme"},
        "user": {"id": "U0STRANGER", "username": "stranger", "team_id": "T0STUBTEAM"},
        "api_app_id": "A0STUBAPP1",
        "channel": {"id": "C0GENERAL01", "name": "general"},
        "container": {"type": "message", "message_ts": "1.1", "channel_id": "C0GENERAL01"},
        "message": {"type": "message", "ts": "1.1", "text": "alert"},
        "response_url": socket.stub.response_url("s2"),
        "trigger_id": "1.2.3",
        "actions": [
            {
                "action_id": "alert_silence_1h",
                "block_id": "b",
                "value": "00000000000000ff",
                "type": "button",
                "action_ts": "1.2",
            }
        ],
    }
    envelope_id = await socket.stub.socket.send("interactive", payload)
    await socket.stub.socket.ack(envelope_id)
    answer = await socket.answer("s2")
    assert "Sorry, only admins" in blocks_text(answer)
    assert socket.store.silences() == []


async def test_health_follows_the_link_down_and_up_again(socket: Socket) -> None:
    await socket.until(healthy=True)
    await socket.stub.set_down(True)  # connections refused, the websocket closed
    await socket.until(healthy=False)
    assert socket.service.problem() == "Socket Mode: the connection to Slack is down"
    await socket.stub.set_down(False)
    await socket.stub.socket.wait_connected()
    await socket.until(healthy=True)
    assert socket.stub.socket.connections >= 2  # a new connection, through apps.connections.open again


async def test_a_refreshed_link_reconnects(socket: Socket) -> None:
    await socket.stub.socket.disconnect_all("refresh_requested")
    await socket.stub.socket.wait_connected()
    envelope_id = await socket.stub.socket.send("slash_commands", socket.command("help", "s3"))
    await socket.stub.socket.ack(envelope_id)
    assert "`/tasks` commands" in blocks_text(await socket.answer("s3"))


APP_FIX = (
    "Slack app token rejected (invalid_auth): make a new app-level token with connections:write "
    "(Basic Information > App-Level Tokens), set SLACK_APP_TOKEN and restart"
)


async def test_an_app_token_revoked_mid_run_is_said_once_and_retried_with_a_backoff(
    socket: Socket, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 15 Slack #4: not a traceback every ping interval forever; one clear error, bounded backoff,
    /healthz says so, a metric counts it; and the link comes back once the token works again."""
    await socket.until(healthy=True)
    socket.stub.state.options.app_tokens = frozenset()
    with structlog.testing.capture_logs() as logs:
        await socket.stub.socket.disconnect_all("link_disabled")
        assert await socket.until_problem("Slack app token") == APP_FIX
        await socket.until_rejected(4)  # retried after 0.05 s, 0.1 s, 0.2 s, 0.2 s ... (bounded)
        socket.stub.state.options.app_tokens = frozenset({DEFAULT_APP_TOKEN})
        await socket.stub.socket.wait_connected()
        await socket.until(healthy=True)
    assert {rejection for rejection in socket.rejections} == {("app", "invalid_auth")}
    assert [e["kind"] for e in logs if e["event"] == "chatops.token_rejected"] == ["app"]
    assert [e["kind"] for e in logs if e["event"] == "chatops.token_accepted"] == ["app"]
    assert not [r for r in caplog.records if r.name == "monitor.chatops.socket" and r.exc_info]


async def test_a_wrong_app_token_at_start_is_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with start_slack_stub() as stub:
        store = SQLiteStore.open(tmp_path / "state.db")
        deps = Deps(tasks=None, store=store, clock=lambda: START)  # type: ignore[arg-type]
        settings = SlackSettings(mode="socket", api_url=stub.api_url)
        tokens = SlackTokens(bot=stub.token, app="xapp-1-A0STUBAPP1-revoked")
        service = ChatopsService(settings, tokens, deps, ping_interval=0.05, backoff=Backoff(0.05, 0.2))
        with structlog.testing.capture_logs() as logs:
            await service.start()
            try:
                async with asyncio.timeout(15):
                    while True:
                        opened = [c for c in stub.state.calls if c.method == "apps.connections.open"]
                        if len(opened) >= 4:
                            break
                        await asyncio.sleep(0.02)
                assert service.problem() == APP_FIX
            finally:
                await service.stop()
                store.close()
    assert len([e for e in logs if e["event"] == "chatops.token_rejected"]) == 1
    assert not [r for r in caplog.records if r.name == "monitor.chatops.socket" and r.exc_info]


async def test_a_bot_token_revoked_mid_run_shows_in_health_and_status(socket: Socket) -> None:
    await socket.until(healthy=True)
    # Running: it has answered before (bolt checked the token with auth.test then, and keeps the result).
    envelope_id = await socket.stub.socket.send("slash_commands", socket.command("help", "s8"))
    await socket.stub.socket.ack(envelope_id)
    await socket.answer("s8")
    token = socket.stub.token
    socket.stub.state.options.tokens = frozenset()
    problem = await socket.until_problem("Slack bot token")
    assert problem.startswith("Slack bot token rejected (invalid_auth): reinstall the app")
    envelope_id = await socket.stub.socket.send("slash_commands", socket.command("status", "s9"))
    await socket.stub.socket.ack(envelope_id)
    assert "Slack bot token rejected (invalid_auth)" in blocks_text(await socket.answer("s9"))
    assert ("bot", "invalid_auth") in socket.rejections
    socket.stub.state.options.tokens = frozenset({token})
    await socket.until(healthy=True)


@pytest.mark.parametrize(
    ("method", "token", "error"),
    [
        ("apps_connections_open", "bot", "not_allowed_token_type"),
        ("apps_connections_open", "xapp-1-unknown", "invalid_auth"),
        ("auth_test", "app", "not_allowed_token_type"),
    ],
)
async def test_the_stand_in_keeps_token_types_apart(method: str, token: str, error: str) -> None:
    async with start_slack_stub() as stub:
        value = {"bot": stub.token, "app": DEFAULT_APP_TOKEN}.get(token, token)
        client = stub.client(token=value)
        call = (
            client.apps_connections_open(app_token=value)
            if method == "apps_connections_open"
            else client.auth_test()
        )
        with pytest.raises(SlackApiError) as caught:
            await call
        assert caught.value.response["error"] == error
