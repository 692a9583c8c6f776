"""The stand-in as the Slack client a person uses: it opens the app's Home tab, presses buttons on messages
and views, and submits modals, sending the app what Slack sends it, signed over HTTP or through Socket Mode.

    driver = AppDriver(stub, SignedHttp(events_url, signing_secret))    # or AppDriver(stub, OverSocket(hub))
    await driver.open_home("U0ADMIN001")                 # an `app_home_opened` event
    await driver.press("alert_ack", user=..., view=home) # a button as shown on the Home tab (or a message)
    await driver.submit(modal_id, {"reason": {"text": "patching"}}, user=...)

Payloads follow Slack's references:

    app_home_opened   api.slack.com/events/app_home_opened: an `event_callback` whose event has `user`,
                      `channel`, `tab: home`, `event_ts` and, once a Home tab was published, its `view`
    block_actions     api.slack.com/reference/interaction-payloads/block-actions: `container` (a message:
                      channel id and ts; a view: its id), `trigger_id`, `actions` (the element pressed:
                      action_id, block_id, value); a message's press carries `channel`, `message` and a
                      `response_url`, a view's carries `view` (with its `state`) and no response_url
    view_submission   api.slack.com/reference/interaction-payloads/views#view_submission: the modal's `view`
                      with `state.values` (block_id -> action_id -> value object), a new `trigger_id`;
                      the app's ack may carry `response_action` (`errors` keeps the modal open with them,
                      `update` replaces it, `clear` closes every view; none closes it)
                      (api.slack.com/surfaces/modals#responding)

A button with a `confirm` object asks the person first, in the client; only a confirmed press reaches the
app (api.slack.com/reference/block-kit/composition-objects#confirm): `press(..., confirm=False)` is the
person choosing the deny button, and the app is sent nothing. Every interaction gets a new trigger_id from
the stand-in (`views.issue_trigger`), good once for 3 seconds, as Slack's.

Over HTTP the request is signed with Slack's recipe (`v0:timestamp:body`, HMAC-SHA256 with the signing
secret, api.slack.com/authentication/verifying-requests-from-slack): events as a JSON body, interactions
as a form with one `payload` field. Through Socket Mode it is an envelope (`events_api` or `interactive`)
whose ack carries the answer. Either way `AppAnswer` is what the app answered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

import aiohttp

from monitor.devtools.slackstub.runner import SlackStub
from monitor.devtools.slackstub.socket import SocketHub
from monitor.devtools.slackstub.views import StubView

__all__ = [
    "AppAnswer",
    "AppDriver",
    "AppLink",
    "OverSocket",
    "SignedHttp",
    "find_element",
    "sign",
]

_VERIFICATION_TOKEN = "legacy-verification-token"  # noqa: S105 - the deprecated field Slack still sends


@dataclass(frozen=True)
class AppAnswer:
    """What the app answered: the HTTP status (200 for a Socket Mode ack) and the body, parsed."""

    status: int
    body: dict[str, Any]


class AppLink(Protocol):
    """How a payload reaches the app: `kind` is "events_api" or "interactive"."""

    async def deliver(self, kind: str, payload: dict[str, Any]) -> AppAnswer: ...


def sign(body: bytes, timestamp: int, secret: str) -> str:
    """Slack's request signature: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class SignedHttp:
    """The app's Request URL (HTTP mode), with requests signed by `signing_secret`."""

    url: str
    signing_secret: str

    async def deliver(self, kind: str, payload: dict[str, Any]) -> AppAnswer:
        if kind == "events_api":
            body, content_type = json.dumps(payload).encode(), "application/json"
        else:
            body = urlencode({"payload": json.dumps(payload)}).encode()
            content_type = "application/x-www-form-urlencoded"
        timestamp = int(time.time())
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": sign(body, timestamp, self.signing_secret),
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.url, data=body, headers=headers) as response,
        ):
            text = await response.text()
            return AppAnswer(response.status, _parsed(text))


@dataclass
class OverSocket:
    """The app's Socket Mode connection on the stand-in; the ack must come within Slack's 3 seconds."""

    hub: SocketHub
    within: float = 3.0

    async def deliver(self, kind: str, payload: dict[str, Any]) -> AppAnswer:
        envelope_id = await self.hub.send(kind, payload)
        ack = await self.hub.ack(envelope_id, within=self.within)
        answer = ack.get("payload")
        return AppAnswer(200, answer if isinstance(answer, dict) else {})


def _parsed(text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"text": text}
    return value if isinstance(value, dict) else {"value": value}


def _elements(blocks: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(block_id, element) for every interactive element: actions blocks and section accessories."""
    for index, block in enumerate(blocks):
        block_id = str(block.get("block_id") or f"b{index}")
        if block.get("type") == "actions":
            for element in block.get("elements") or []:
                yield block_id, element
        elif isinstance(block.get("accessory"), dict):
            yield block_id, block["accessory"]


def find_element(
    blocks: list[dict[str, Any]], action_id: str, value: str | None = None, option: str | None = None
) -> tuple[str, dict[str, Any]]:
    """The block_id and element a person would use: the first with `action_id` (and `value`, if given; a
    menu offering `option`, if given: several alerts' menus share an action_id, not their options)."""
    for block_id, element in _elements(blocks):
        if element.get("action_id") != action_id or value not in (None, element.get("value")):
            continue
        offered = [item.get("value") for item in element.get("options") or [] if isinstance(item, dict)]
        if option is None or option in offered:
            return block_id, element
    raise LookupError(f"no element {action_id!r} (value {value!r}, option {option!r}) is shown")


@dataclass
class AppDriver:
    """A person's Slack client against the app behind `link`, showing what the stand-in holds."""

    stub: SlackStub
    link: AppLink
    team_domain: str = "acme"
    #: Every payload sent and the app's answer, in order.
    sent: list[tuple[str, dict[str, Any], AppAnswer]] = field(default_factory=list)
    _responses: int = 0

    def _user(self, user: str) -> dict[str, Any]:
        name = self.stub.state.options.users.get(user, user.lower())
        team_id = self.stub.state.options.team_id
        return {"id": user, "username": name, "name": name, "team_id": team_id}

    def _team(self) -> dict[str, Any]:
        return {"id": self.stub.state.options.team_id, "domain": self.team_domain}

    def _wire(self, view: StubView) -> dict[str, Any]:
        options = self.stub.state.options
        return view.wire(team_id=options.team_id, app_id=options.app_id, bot_id=options.bot_id)

    async def _send(self, kind: str, payload: dict[str, Any]) -> AppAnswer:
        answer = await self.link.deliver(kind, payload)
        self.sent.append((kind, payload, answer))
        return answer

    async def open_home(self, user: str) -> AppAnswer:
        """The person clicks the app in the sidebar: Slack sends `app_home_opened` (tab home) every time."""
        options = self.stub.state.options
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user,
            "channel": f"D{user[1:]}",  # the person's DM with the app
            "tab": "home",
            "event_ts": self.stub.state.next_ts(),
        }
        home = self.stub.state.views.home(user)
        if home is not None:
            event["view"] = self._wire(home)
        payload = {
            "token": _VERIFICATION_TOKEN,
            "team_id": options.team_id,
            "api_app_id": options.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{len(self.sent) + 1:09d}",
            "event_time": int(options.clock()),
            "authorizations": [
                {"enterprise_id": None, "team_id": options.team_id, "user_id": options.bot_user_id,
                 "is_bot": True, "is_enterprise_install": False}
            ],
            "is_ext_shared_channel": False,
        }  # fmt: skip
        return await self._send("events_api", payload)

    def _action(self, block_id: str, element: dict[str, Any], option: str | None = None) -> dict[str, Any]:
        action = {
            "action_id": element.get("action_id"),
            "block_id": block_id,
            "type": element.get("type"),
            "action_ts": self.stub.state.next_ts(),
        }
        for key in ("value", "text", "style", "confirm", "url"):
            if key in element:
                action[key] = element[key]
        if option is not None:
            # block_actions of a menu: the option chosen, as shown (api.slack.com/reference/interaction-
            # payloads/block-actions: static_select and overflow send `selected_option`).
            offered = [item for item in element.get("options") or [] if isinstance(item, dict)]
            chosen = next((item for item in offered if item.get("value") == option), None)
            if chosen is None:
                raise LookupError(f"the menu {element.get('action_id')!r} offers no option {option!r}")
            action["selected_option"] = chosen
            action.pop("text", None)
        return action

    def _base(self, user: str) -> dict[str, Any]:
        options = self.stub.state.options
        return {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": options.app_id,
            "token": _VERIFICATION_TOKEN,
            "trigger_id": self.stub.state.views.issue_trigger(user),
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
        }

    async def press(
        self,
        action_id: str,
        *,
        user: str,
        view: StubView | None = None,
        message: tuple[str, str] | None = None,
        value: str | None = None,
        confirm: bool = True,
        option: str | None = None,
    ) -> AppAnswer | None:
        """Press the button `action_id` shown on `view` or on `message` (channel, ts), or with `option`
        choose that option (by value) of the menu `action_id` (a static_select or overflow: the action
        carries `selected_option`). An element with a confirm dialog is sent only when the person
        confirms; `confirm=False` denies it: None, nothing is sent."""
        if (view is None) == (message is None):
            raise ValueError("press a button on a view or on a message")
        if view is not None:
            block_id, element = find_element(view.blocks, action_id, value, option)
            if "confirm" in element and not confirm:
                return None
            payload = self._base(user) | {
                "container": {"type": "view", "view_id": view.id},
                "view": self._wire(view),
                "actions": [self._action(block_id, element, option)],
            }
            return await self._send("interactive", payload)
        assert message is not None
        channel_ref, ts = message
        channel = self.stub.state.channel(channel_ref)
        posted = self.stub.state.message(channel.id, ts)
        block_id, element = find_element(posted.blocks, action_id, value, option)
        if "confirm" in element and not confirm:
            return None
        self._responses += 1
        response_id = f"press-{self._responses}"
        payload = self._base(user) | {
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel.id,
                "is_ephemeral": False,
            },
            "channel": {"id": channel.id, "name": channel.name},
            "message": posted.wire(include_metadata=False),
            "state": {"values": {}},
            "response_url": self.stub.response_url(response_id),
            "actions": [self._action(block_id, element, option)],
        }
        return await self._send("interactive", payload)

    async def submit(self, view_id: str, values: Mapping[str, Mapping[str, Any]], *, user: str) -> AppAnswer:
        """Submit the open modal `view_id` with what the person entered: block_id -> action_id -> value
        object (`{"type": "plain_text_input", "value": "..."}`; a bare string is taken as that). The
        modal closes unless the app answers `errors` (kept open) or `update` (replaced)."""
        modal = self.stub.state.views.modal(view_id)
        modal.values = {
            block: {
                action: dict(item)
                if isinstance(item, Mapping)
                else {"type": "plain_text_input", "value": item}
                for action, item in by_action.items()
            }
            for block, by_action in values.items()
        }
        options = self.stub.state.options
        payload = {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user),
            "api_app_id": options.app_id,
            "token": _VERIFICATION_TOKEN,
            "trigger_id": self.stub.state.views.issue_trigger(user),
            "view": self._wire(modal),
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        answer = await self._send("interactive", payload)
        action = answer.body.get("response_action")
        if action == "update" and isinstance(answer.body.get("view"), dict):
            self.stub.state.views.update(answer.body["view"], view_id=view_id)
        elif action == "clear":
            for opened in self.stub.state.views.open_modals(user):
                self.stub.state.views.close(opened.id)
        elif action != "errors":
            self.stub.state.views.close(view_id)
        return answer
