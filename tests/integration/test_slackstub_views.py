"""The stand-in's views against slack_sdk's client (views.publish, views.open, views.update: Slack's checks
and error codes), and its driver (`AppDriver`) against a real bolt app, signed over HTTP and through Socket
Mode: a Home tab opened, a button pressed (a confirm dialog denied sends nothing), a modal submitted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from monitor.devtools.slackstub import DEFAULT_APP_TOKEN, SlackStub, SlackStubOptions, start_slack_stub
from monitor.devtools.slackstub.interact import AppDriver, OverSocket, SignedHttp

SECRET = "views-signing-secret-0123456789"
USER = "U0DEMOALICE"
NOW = [1_764_403_200.0]


def home(*blocks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "home", "blocks": list(blocks) or [section("hello")], **extra}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def modal(*blocks: dict[str, Any], title: str = "Silence", **extra: Any) -> dict[str, Any]:
    return {"type": "modal", "title": {"type": "plain_text", "text": title}, "blocks": list(blocks), **extra}


REASON_INPUT = {
    "type": "input",
    "block_id": "reason",
    "label": {"type": "plain_text", "text": "Reason"},
    "element": {"type": "plain_text_input", "action_id": "text"},
}


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    NOW[0] = 1_764_403_200.0
    async with start_slack_stub(SlackStubOptions(clock=lambda: NOW[0])) as running:
        yield running


async def refused(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as caught:
        await call
    data: dict[str, Any] = caught.value.response.data
    return data


# -- views.publish / open / update -----------------------------------------------------------------------


async def test_publish_keeps_the_home_tab_per_user_and_answers_the_view(stub: SlackStub) -> None:
    client = stub.client()
    answer = await client.views_publish(user_id=USER, view=home(section("*firing*")))
    assert answer["view"]["type"] == "home"
    shown = stub.state.views.home(USER)
    assert shown is not None
    assert shown.id == answer["view"]["id"]
    assert shown.blocks == [section("*firing*")]
    await client.views_publish(user_id=USER, view=home(section("calm")))
    again = stub.state.views.home(USER)
    assert again is not None
    assert (again.id, again.blocks) == (shown.id, [section("calm")])
    assert stub.state.views.home("U0DEMOBOB1") is None
    assert [user for user, _ in stub.state.views.published] == [USER, USER]


@pytest.mark.parametrize(
    ("view", "says"),
    [
        (home(*[section(f"{i}") for i in range(101)]), "no more than 100 items"),
        (home(section("x" * 3001)), "text attribute cannot exceed 3000"),
        ({"type": "home", "blocks": [section("x")], "submit": {"type": "plain_text", "text": "Go"}},
         "home view cannot have submit and close"),
        (modal(section("x")), "must be 'home'"),
        (home(section("x"), private_metadata="m" * 3001), "private_metadata cannot exceed 3000"),
    ],
)  # fmt: skip
async def test_publish_refuses_what_slack_refuses(stub: SlackStub, view: dict[str, Any], says: str) -> None:
    data = await refused(stub.client().views_publish(user_id=USER, view=view))
    assert data["error"] == "invalid_arguments"
    assert says in " ".join(data["response_metadata"]["messages"])
    assert stub.state.views.home(USER) is None


async def test_a_hundred_blocks_is_the_most_a_view_holds(stub: SlackStub) -> None:
    await stub.client().views_publish(user_id=USER, view=home(*[section(f"{i}") for i in range(100)]))


async def test_a_view_over_250_kb_is_too_large(stub: SlackStub) -> None:
    view = home(*[section("y" * 2900) for _ in range(90)])
    assert (await refused(stub.client().views_publish(user_id=USER, view=view)))["error"] == "view_too_large"


async def test_publish_with_a_stale_hash_is_a_conflict(stub: SlackStub) -> None:
    client = stub.client()
    first = await client.views_publish(user_id=USER, view=home())
    await client.views_publish(user_id=USER, view=home(), hash=first["view"]["hash"])
    data = await refused(client.views_publish(user_id=USER, view=home(), hash=first["view"]["hash"]))
    assert data["error"] == "hash_conflict"


async def test_publish_without_a_home_tab_is_not_enabled(stub: SlackStub) -> None:
    stub.state.views.home_tab_enabled = False
    assert (await refused(stub.client().views_publish(user_id=USER, view=home())))["error"] == "not_enabled"


async def test_views_need_no_scope(stub: SlackStub) -> None:
    stub.state.options.scopes = frozenset({"chat:write"})
    await stub.client().views_publish(user_id=USER, view=home())


async def test_a_trigger_opens_one_modal_within_three_seconds(stub: SlackStub) -> None:
    client = stub.client()
    trigger = stub.state.views.issue_trigger(USER)
    opened = await client.views_open(trigger_id=trigger, view=modal(section("sure?")))
    assert opened["view"]["type"] == "modal"
    assert [view.user for view in stub.state.views.open_modals()] == [USER]
    again = await refused(client.views_open(trigger_id=trigger, view=modal(section("sure?"))))
    assert again["error"] == "exchanged_trigger_id"
    late = stub.state.views.issue_trigger(USER)
    NOW[0] += 3.5
    assert (await refused(client.views_open(trigger_id=late, view=modal(section("x")))))["error"] == (
        "expired_trigger_id"
    )


@pytest.mark.parametrize("trigger", ["1.2.3", "12345.98765.abcd2358fdea", "not a trigger"])
async def test_a_trigger_slack_never_issued_is_invalid(stub: SlackStub, trigger: str) -> None:
    data = await refused(stub.client().views_open(trigger_id=trigger, view=modal(section("x"))))
    assert data["error"] == "invalid_trigger_id"


@pytest.mark.parametrize(
    ("view", "says"),
    [
        (modal(section("x"), title="A title longer than 24 chars"), "title must be between 1 and 24"),
        ({"type": "modal", "blocks": [section("x")]}, "missing required field: title"),
        (modal(REASON_INPUT), "must provide submit"),
    ],
)
async def test_open_refuses_a_modal_slack_refuses(stub: SlackStub, view: dict[str, Any], says: str) -> None:
    trigger = stub.state.views.issue_trigger(USER)
    data = await refused(stub.client().views_open(trigger_id=trigger, view=view))
    assert says in " ".join(data["response_metadata"]["messages"])
    assert stub.state.views.open_modals() == []


async def test_update_by_view_id_or_external_id(stub: SlackStub) -> None:
    client = stub.client()
    trigger = stub.state.views.issue_trigger(USER)
    opened = await client.views_open(trigger_id=trigger, view=modal(section("loading"), external_id="e-1"))
    view_id = opened["view"]["id"]
    await client.views_update(view_id=view_id, view=modal(section("one"), external_id="e-1"))
    assert stub.state.views.modal(view_id).blocks == [section("one")]
    await client.views_update(external_id="e-1", view=modal(section("two"), external_id="e-1"))
    assert stub.state.views.modal(view_id).blocks == [section("two")]
    data = await refused(client.views_update(view_id="V0NOWHERE", view=modal(section("x"))))
    assert data["error"] == "not_found"


# -- the driver against a real bolt app --------------------------------------------------------------------


CONFIRMED_BUTTON = {
    "type": "button",
    "action_id": "danger",
    "value": "v-1",
    "text": {"type": "plain_text", "text": "Do it"},
    "confirm": {
        "title": {"type": "plain_text", "text": "Sure?"},
        "text": {"type": "plain_text", "text": "It cannot be undone."},
        "confirm": {"type": "plain_text", "text": "Do it"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    },
}


def bolt_app(stub: SlackStub, seen: list[tuple[str, Any]], *, secret: str | None) -> AsyncApp:
    """A small bolt app: its Home tab has a confirmed button that opens a modal; the modal's reason must
    not be empty (an `errors` answer), else it is taken."""
    app = AsyncApp(
        client=AsyncWebClient(token=stub.token, base_url=stub.api_url),
        signing_secret=secret or "",
        request_verification_enabled=secret is not None,
    )

    @app.event("app_home_opened")
    async def opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        seen.append(("home", event["user"]))
        blocks = [section("hi"), {"type": "actions", "elements": [CONFIRMED_BUTTON]}]
        await client.views_publish(user_id=event["user"], view={"type": "home", "blocks": blocks})

    @app.action("danger")
    async def pressed(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        seen.append(("press", body["actions"][0]["value"]))
        view = modal(REASON_INPUT, callback_id="why", submit={"type": "plain_text", "text": "Go"})
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view("why")
    async def submitted(ack: AsyncAck, view: dict[str, Any]) -> None:
        reason = view["state"]["values"]["reason"]["text"]["value"]
        if not reason.strip():
            await ack(response_action="errors", errors={"reason": "Say why"})
            return
        await ack()
        seen.append(("submit", reason))

    return app


@pytest.fixture(params=["http", "socket"])
async def driven(
    request: pytest.FixtureRequest, stub: SlackStub
) -> AsyncIterator[tuple[AppDriver, list[Any]]]:
    seen: list[tuple[str, Any]] = []
    if request.param == "http":
        app = bolt_app(stub, seen, secret=SECRET)
        runner = web.AppRunner(app.web_app(path="/slack/events"))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        try:
            yield AppDriver(stub, SignedHttp(f"http://{host}:{port}/slack/events", SECRET)), seen
        finally:
            await runner.cleanup()
    else:
        app = bolt_app(stub, seen, secret=None)
        handler = AsyncSocketModeHandler(app, app_token=DEFAULT_APP_TOKEN)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        try:
            await stub.socket.wait_connected()
            yield AppDriver(stub, OverSocket(stub.socket)), seen
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]


async def until(check: Any) -> None:
    async with asyncio.timeout(10):
        while True:
            if check():
                return
            await asyncio.sleep(0.01)


async def test_home_opened_press_confirmed_and_a_modal_submitted(driven: tuple[AppDriver, list[Any]]) -> None:
    driver, seen = driven
    stub = driver.stub
    assert (await driver.open_home(USER)).status == 200
    await until(lambda: stub.state.views.home(USER) is not None)
    shown = stub.state.views.home(USER)
    assert shown is not None
    # The person denies the confirm dialog: Slack sends the app nothing.
    assert await driver.press("danger", user=USER, view=shown, confirm=False) is None
    assert [what for what, _ in seen] == ["home"]
    await driver.press("danger", user=USER, view=shown)
    await until(lambda: stub.state.views.open_modals(USER) != [])
    [opened] = stub.state.views.open_modals(USER)
    empty = await driver.submit(opened.id, {"reason": {"text": "  "}}, user=USER)
    assert empty.body == {"response_action": "errors", "errors": {"reason": "Say why"}}
    assert stub.state.views.open_modals(USER) == [opened]  # kept open with the error
    await driver.submit(opened.id, {"reason": {"text": "patching"}}, user=USER)
    assert stub.state.views.open_modals(USER) == []
    assert seen == [("home", USER), ("press", "v-1"), ("submit", "patching")]


async def test_a_press_on_the_home_tab_carries_the_view_and_no_response_url(
    driven: tuple[AppDriver, list[Any]],
) -> None:
    driver, _ = driven
    await driver.open_home(USER)
    await until(lambda: driver.stub.state.views.home(USER) is not None)
    shown = driver.stub.state.views.home(USER)
    assert shown is not None
    await driver.press("danger", user=USER, view=shown)
    _, payload, _ = driver.sent[-1]
    assert payload["container"] == {"type": "view", "view_id": shown.id}
    assert payload["view"]["type"] == "home"
    assert "response_url" not in payload
    assert payload["actions"][0]["confirm"] == CONFIRMED_BUTTON["confirm"]
