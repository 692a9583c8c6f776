"""The stand-in's unkind parts that Slack documents: rate limits by tier and one message a second a channel
(with a short burst), response_url's five uses in 30 minutes, and Block Kit checked with slack_sdk's own
models (not the product's checker)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from monitor.decide import alert_fingerprint
from monitor.devtools.sim import DEFAULT_PROJECT_ID
from monitor.devtools.slackstub import DEFAULT_APP_TOKEN, SlackStubOptions, start_slack_stub
from monitor.devtools.slackstub.ratelimit import METHOD_TIERS
from monitor.devtools.slackstub.runner import SlackStub
from monitor.slack.message import alerts_in_metadata
from tests.support.world import open_world

RULES = """
rules:
  - name: ops
    match: {task_name: "prod-*"}
    channel: "#alerts"
    group_by: [task_name]   # eight messages to one channel at once
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def stub(clock: Clock) -> AsyncIterator[SlackStub]:
    async with start_slack_stub(SlackStubOptions(rate_limits=True, clock=clock)) as running:
        yield running


async def status(call: object) -> tuple[int, str | None]:
    try:
        await call  # type: ignore[misc]
    except SlackApiError as exc:
        return exc.response.status_code, exc.response.headers.get("Retry-After")
    return 200, None


async def test_a_channel_takes_a_short_burst_then_one_message_a_second(stub: SlackStub, clock: Clock) -> None:
    client = stub.client(retry_handlers=[])
    answers = [await status(client.chat_postMessage(channel="#general", text=str(n))) for n in range(4)]
    assert answers == [(200, None)] * 3 + [(429, "1")]
    assert (await status(client.chat_postMessage(channel="#desktop-ops", text="x")))[0] == 200  # per channel
    clock.now += 1
    assert (await status(client.chat_postMessage(channel="#general", text="x")))[0] == 200
    assert len(stub.state.messages("general")) == 4  # the refused one changed nothing


async def test_a_tier_2_method_takes_20_calls_a_minute(stub: SlackStub, clock: Clock) -> None:
    client = stub.client(retry_handlers=[])
    answers = [await status(client.conversations_list()) for _ in range(21)]
    assert answers[:20] == [(200, None)] * 20
    assert answers[20] == (429, "3")
    clock.now += 3
    assert (await status(client.conversations_list()))[0] == 200


async def test_the_outbox_delivers_everything_once_under_slacks_posting_limit(tmp_path: Path) -> None:
    now = [0.0]
    options = SlackStubOptions(rate_limits=True, clock=lambda: now[0])
    tasks = tuple(f"prod-{n}" for n in range(8))
    async with open_world(tmp_path, RULES, tasks=tasks, stub_options=options) as world:
        now[0] = world.now[0].timestamp()
        for name in tasks:
            world.execute(name, "FAIL")
        await world.poll()
        for _ in range(20):
            await world.flush()
            if not world.store.pending_outbox(now=world.now[0] + timedelta(days=1)):
                break
            world.advance(timedelta(seconds=30))
            now[0] = world.now[0].timestamp()
        shown = [alerts_in_metadata(message.metadata)[0][0] for message in world.top_level("alerts")]
    assert sorted(shown) == sorted(
        alert_fingerprint("ops", DEFAULT_PROJECT_ID, world.sim.state.task(name).id) for name in tasks
    )
    assert world.stub.state.count("chat.postMessage", ok=False) > 0  # Slack's limit was met


async def post(url: str, body: dict[str, object]) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        return response.status, await response.text()


async def test_a_response_url_takes_five_uses(stub: SlackStub) -> None:
    url = stub.response_url("five")
    answers = [await post(url, {"text": str(n)}) for n in range(6)]
    assert answers == [(200, "ok")] * 5 + [(404, "used_url")]
    assert len(stub.state.responses) == 5


async def test_a_response_url_expires_after_30_minutes(stub: SlackStub, clock: Clock) -> None:
    url = stub.response_url("late")
    clock.now += 30 * 60 + 1
    assert await post(url, {"text": "too late"}) == (404, "expired_url")


async def test_a_response_url_refuses_blocks_slack_would_refuse(stub: SlackStub) -> None:
    header = {"type": "header", "text": {"type": "mrkdwn", "text": "*x*"}}
    assert await post(stub.response_url("bad"), {"text": "x", "blocks": [header]}) == (400, "invalid_blocks")


@pytest.mark.parametrize(
    "blocks",
    [
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2001}]}],
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "x"}] * 11}],
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
        [{"type": "no_such_block"}],
        [{"type": "divider"}] * 51,
    ],
    ids=["field-2001", "11-fields", "section-3001", "unknown-type", "51-blocks"],
)
async def test_block_kit_is_checked_with_slack_sdks_models(stub: SlackStub, blocks: list[object]) -> None:
    with pytest.raises(SlackApiError) as caught:
        await stub.client().chat_postMessage(channel="#general", text="x", blocks=blocks)
    assert caught.value.response["error"] == "invalid_blocks"


async def test_a_default_stub_limits_as_slack_does() -> None:
    """Rate limits are on unless a test turns them off; a Tier 1 method takes its first call and refuses the
    next within the minute (on the real clock: the first call once met a bucket born a moment after it)."""
    async with start_slack_stub() as running:
        client = running.client(retry_handlers=[])
        assert await status(client.apps_connections_open(app_token=DEFAULT_APP_TOKEN)) == (200, None)
        code, retry_after = await status(client.apps_connections_open(app_token=DEFAULT_APP_TOKEN))
    assert code == 429
    assert retry_after is not None
    assert 1 <= int(retry_after) <= 60


@pytest.mark.parametrize(
    ("method", "tier"),
    [("users.list", 2), ("files.getUploadURLExternal", 4), ("files.completeUploadExternal", 4)],
)
def test_the_methods_the_product_calls_have_slacks_tiers(method: str, tier: int) -> None:
    """As each method's page says (docs.slack.dev/reference/methods/<method>, "Rate limits")."""
    assert METHOD_TIERS[method] == tier
