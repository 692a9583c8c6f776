"""The stand-in as Slack: scopes granted to the token (default: what slack/manifest.yml asks for), with
`missing_scope` naming the scope `needed` and those `provided`; conversations.list honouring `types`,
`exclude_archived`, `limit` and `cursor`; and the notifier paging it 200 at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from slack_sdk.errors import SlackApiError

from monitor.devtools.slackstub import SlackStubOptions, start_slack_stub
from monitor.devtools.slackstub.options import DEFAULT_SCOPES
from monitor.devtools.slackstub.runner import SlackStub
from monitor.slack.notifier import SlackNotifier

MANIFEST = Path(__file__).resolve().parents[2] / "slack" / "manifest.yml"


def test_the_default_scopes_are_the_manifests() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert frozenset(manifest["oauth_config"]["scopes"]["bot"]) == DEFAULT_SCOPES


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    async with start_slack_stub(SlackStubOptions(channels={})) as running:
        yield running


async def list_all(stub: SlackStub, **kwargs: object) -> tuple[list[str], int]:
    client = stub.client()
    names: list[str] = []
    cursor = None
    pages = 0
    while True:
        answer = await client.conversations_list(cursor=cursor, **kwargs)
        pages += 1
        names += [channel["name"] for channel in answer["channels"]]
        cursor = answer["response_metadata"]["next_cursor"]
        if not cursor:
            return names, pages


async def test_conversations_list_pages_by_limit_and_cursor(stub: SlackStub) -> None:
    for number in range(450):
        stub.state.add_channel(f"c{number:03d}")
    names, pages = await list_all(stub, limit=200)
    assert pages == 3
    assert names == [f"c{number:03d}" for number in range(450)]


async def test_conversations_list_honours_types_and_exclude_archived(stub: SlackStub) -> None:
    stub.state.add_channel("public")
    stub.state.add_channel("secret", private=True)
    stub.state.add_channel("secret-without-bot", private=True, member=False)
    stub.state.add_channel("old", archived=True)
    assert (await list_all(stub))[0] == ["public", "old"]  # public_channel is the default type
    names, _ = await list_all(stub, types="public_channel,private_channel", exclude_archived=True)
    assert names == ["public", "secret"]


async def test_conversations_list_refuses_a_cursor_it_did_not_give(stub: SlackStub) -> None:
    with pytest.raises(SlackApiError) as caught:
        await stub.client().conversations_list(cursor="bm90IG1pbmU=")
    assert caught.value.response["error"] == "invalid_cursor"


@pytest.mark.parametrize(
    ("method", "kwargs", "needed"),
    [
        ("chat_postMessage", {"channel": "#x", "text": "hi"}, "chat:write"),
        ("conversations_history", {"channel": "C0123456789"}, "channels:history"),
        ("conversations_list", {"types": "public_channel"}, "channels:read"),
        ("conversations_list", {"types": "private_channel"}, "groups:read"),
    ],
)
async def test_a_call_without_its_scope_answers_missing_scope_with_needed_and_provided(
    method: str, kwargs: dict[str, object], needed: str
) -> None:
    granted = frozenset({"commands"})
    async with start_slack_stub(SlackStubOptions(scopes=granted)) as stub:
        with pytest.raises(SlackApiError) as caught:
            await getattr(stub.client(), method)(**kwargs)
    answer = caught.value.response
    assert answer["error"] == "missing_scope"
    assert answer["needed"] == needed
    assert answer["provided"] == "commands"


async def test_the_notifier_pages_conversations_list_200_at_a_time(stub: SlackStub) -> None:
    for number in range(450):
        stub.state.add_channel(f"c{number:03d}")
    notifier = SlackNotifier(stub.client(), per_channel_interval=0)
    assert await notifier.find_posted("#c449", "fingerprint", 1) is None  # looked up, then nothing there
    lists = [call for call in stub.state.calls if call.method == "conversations.list"]
    assert [str(call.params.get("limit")) for call in lists] == ["200"] * 3
    assert stub.state.count("conversations.history", ok=True) == 1
