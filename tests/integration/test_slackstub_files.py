"""The stand-in's file uploads, as Slack documents them (monitor/devtools/slackstub/files.py): an upload URL
and file id from files.getUploadURLExternal, the bytes POSTed to that URL, files.completeUploadExternal
sharing the file in a channel; files:write needed, uploads refusable, a file never uploaded not completed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from monitor.devtools.slackstub import SlackStubOptions, start_slack_stub
from monitor.devtools.slackstub.options import DEFAULT_SCOPES
from monitor.devtools.slackstub.runner import SlackStub

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    async with start_slack_stub(SlackStubOptions()) as running:
        yield running


async def test_slack_sdks_upload_shares_the_file_in_the_channel(stub: SlackStub) -> None:
    answer = await stub.client().files_upload_v2(
        content=PNG, filename="chart.png", title="Weekly", channel="C0DESKOPS01"
    )
    [shared] = stub.state.files.shared("C0DESKOPS01")
    assert (shared.data, shared.title, answer["file"]["id"]) == (PNG, "Weekly", shared.id)
    [message] = stub.state.messages("#desktop-ops")
    assert [file["id"] for file in message.files] == [shared.id]
    assert message.ts == shared.ts


async def test_the_upload_url_takes_the_bytes_in_a_second_post(stub: SlackStub) -> None:
    """Slack: raw bytes or multipart; HTTP 200 when the upload worked."""
    answer = await stub.client().files_getUploadURLExternal(filename="chart.png", length=len(PNG))
    async with aiohttp.ClientSession() as session:
        form = aiohttp.FormData()
        form.add_field("file", PNG, filename="chart.png")
        async with session.post(answer["upload_url"], data=form) as response:
            assert (response.status, await response.text()) == (200, f"OK - {len(PNG)}")
    done = await stub.client().files_completeUploadExternal(files=[{"id": answer["file_id"], "title": "t"}])
    assert done["files"][0]["id"] == answer["file_id"]
    assert stub.state.files.shared() == [], "without channel_id the file stays private"


async def test_completing_a_file_never_uploaded_is_refused(stub: SlackStub) -> None:
    answer = await stub.client().files_getUploadURLExternal(filename="chart.png", length=len(PNG))
    with pytest.raises(SlackApiError) as refused:
        await stub.client().files_completeUploadExternal(
            files=[{"id": answer["file_id"]}], channel_id="C0DESKOPS01"
        )
    assert refused.value.response["error"] == "file_not_found"


async def test_a_zero_length_is_a_missing_argument(stub: SlackStub) -> None:
    with pytest.raises(SlackApiError) as refused:
        await stub.client().files_getUploadURLExternal(filename="chart.png", length=0)
    assert refused.value.response["error"] == "missing_argument"


async def test_uploads_need_files_write() -> None:
    async with start_slack_stub(SlackStubOptions(scopes=DEFAULT_SCOPES - {"files:write"})) as stub:
        with pytest.raises(SlackApiError) as refused:
            await stub.client().files_getUploadURLExternal(filename="chart.png", length=10)
    assert (refused.value.response["error"], refused.value.response["needed"]) == (
        "missing_scope",
        "files:write",
    )


async def test_a_workspace_may_turn_uploads_off() -> None:
    async with start_slack_stub(SlackStubOptions(file_uploads_disabled=True)) as stub:
        with pytest.raises(SlackApiError) as refused:
            await stub.client().files_getUploadURLExternal(filename="chart.png", length=10)
    assert refused.value.response["error"] == "file_uploads_disabled"


async def test_a_shared_file_shows_in_the_history(stub: SlackStub) -> None:
    await stub.client().files_upload_v2(content=PNG, filename="chart.png", channel="C0DESKOPS01")
    history = await stub.client().conversations_history(channel="C0DESKOPS01")
    assert json.dumps(history["messages"][0]["files"][0]["mimetype"]) == '"image/png"'
