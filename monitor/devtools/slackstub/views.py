"""Views on the stand-in: Home tabs (`views.publish`), modals (`views.open`, `views.update`) and the
trigger_ids that open modals, held as Slack holds them and checked as Slack checks them.

What Slack documents, and the stand-in does:

    views.publish   user_id + a `home` view; `hash` (optional) must be the current one (`hash_conflict`);
                    `not_enabled` when the app has no Home tab (api.slack.com/methods/views.publish)
    views.open      trigger_id + a `modal` view; a trigger is good once (`exchanged_trigger_id`) and for 3
                    seconds ("trigger_ids expire three seconds after they're issued",
                    api.slack.com/interactivity/handling#modal_responses: `expired_trigger_id`); one not in
                    the documented form `132456.7890123.abcdef` or never issued: `invalid_trigger_id`
                    (api.slack.com/methods/views.open)
    views.update    view_id or external_id (`not_found`), `hash` as above (api.slack.com/methods/views.update)
    every view      no larger than 250 kB (`view_too_large`); slack_sdk's own `View` model: type, title 1-24
                    characters, submit and close 24, 1-100 blocks, private_metadata 3,000, callback_id 255,
                    no submit/close on a home view (api.slack.com/reference/surfaces/views); each block as
                    in messages (`blockkit`); a modal needs a title and, with an input block, a submit
                    button. A view Slack refuses answers `invalid_arguments` with the problems in
                    `response_metadata.messages`, as Slack does for views.

The views are kept as plain data for assertions: `home(user)` (the Home tab a user sees now, `None` before
any publish), `modal(view_id)`, `open_modals(user)`, `published` (every views.publish, in order).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.views import View

from monitor.devtools.slackstub.blockkit import block_kit_problems

__all__ = [
    "MAX_VIEW_BLOCKS",
    "MAX_VIEW_BYTES",
    "TRIGGER_SECONDS",
    "StubView",
    "StubViews",
    "ViewRefused",
    "view_problems",
]

MAX_VIEW_BLOCKS = 100
MAX_VIEW_BYTES = 250_000
TRIGGER_SECONDS = 3.0
TRIGGER_ID = re.compile(r"\d+\.\d+\.[0-9a-f]+")


class ViewRefused(Exception):
    """What Slack answers instead: `{"ok": false, "error": error, ...extra}` (turned into a SlackError)."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def view_problems(view: Mapping[str, Any], *, kind: str) -> list[str]:
    """Why Slack would refuse this view as a `kind` ("home" or "modal"); empty when it would not."""
    if view.get("type") != kind:
        return [f"[ERROR] must be '{kind}' [json-pointer:/view/type]"]
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        return ["[ERROR] must provide an array [json-pointer:/view/blocks]"]
    problems = [
        problem.replace("[json-pointer:/blocks", "[json-pointer:/view/blocks")
        for problem in block_kit_problems(blocks, max_blocks=MAX_VIEW_BLOCKS)
    ]
    try:
        View(**{key: value for key, value in view.items() if key != "blocks"}, blocks=blocks).to_dict()
    except (SlackObjectFormationError, TypeError, KeyError, AttributeError, ValueError) as exc:
        problems.append(f"[ERROR] {exc} [json-pointer:/view]")
    if kind == "modal":
        if not isinstance(view.get("title"), Mapping):
            problems.append("[ERROR] missing required field: title [json-pointer:/view]")
        inputs = any(isinstance(block, Mapping) and block.get("type") == "input" for block in blocks)
        if inputs and not isinstance(view.get("submit"), Mapping):
            problems.append("[ERROR] must provide submit when an input block is present [json-pointer:/view]")
    return problems


@dataclass
class StubView:
    """A view as Slack holds it: what the app sent, with Slack's ids, its hash and what the user entered."""

    id: str
    type: str  # home | modal
    user: str
    body: dict[str, Any]
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    #: block_id -> action_id -> value object, as a view_submission's `view.state.values` carries them.
    values: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    @property
    def blocks(self) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = self.body.get("blocks") or []
        return blocks

    def wire(self, *, team_id: str, app_id: str, bot_id: str) -> dict[str, Any]:
        """The view as Slack returns it (views.* answers) and sends it in payloads."""
        return {
            "id": self.id,
            "team_id": team_id,
            "type": self.type,
            "blocks": self.blocks,
            "private_metadata": self.body.get("private_metadata", ""),
            "callback_id": self.body.get("callback_id", ""),
            "state": {"values": self.values},
            "hash": self.hash,
            "title": self.body.get("title"),
            "clear_on_close": bool(self.body.get("clear_on_close", False)),
            "notify_on_close": bool(self.body.get("notify_on_close", False)),
            "close": self.body.get("close"),
            "submit": self.body.get("submit"),
            "previous_view_id": self.previous_view_id,
            "root_view_id": self.root_view_id,
            "app_id": app_id,
            "external_id": self.body.get("external_id", ""),
            "app_installed_team_id": team_id,
            "bot_id": bot_id,
        }


@dataclass
class _Trigger:
    user: str
    issued: float
    used: bool = False


class StubViews:
    """Every view and trigger of one stand-in. `clock` is the stand-in's (seconds since the epoch)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._homes: dict[str, StubView] = {}
        self._views: dict[str, StubView] = {}
        self._triggers: dict[str, _Trigger] = {}
        #: Every views.publish that Slack accepted, in order: (user, the view as published).
        self.published: list[tuple[str, dict[str, Any]]] = []
        self._counter = 0
        #: Whether the app has a Home tab (App Home > Home Tab); off: views.publish answers `not_enabled`.
        self.home_tab_enabled = True

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    def _new_hash(self) -> str:
        return f"{int(self._clock())}.{secrets.token_hex(4)}"

    # Triggers.
    def issue_trigger(self, user: str) -> str:
        """A trigger_id as Slack sends with an interaction (a command, a button, a submission)."""
        trigger = f"{int(self._clock())}.{self._next()}.{secrets.token_hex(8)}"
        self._triggers[trigger] = _Trigger(user, self._clock())
        return trigger

    def _exchange(self, trigger_id: str) -> str:
        """The user a trigger was issued to; spent from now on."""
        trigger = self._triggers.get(trigger_id) if TRIGGER_ID.fullmatch(trigger_id) else None
        if trigger is None:
            raise ViewRefused("invalid_trigger_id")
        if trigger.used:
            raise ViewRefused("exchanged_trigger_id")
        if self._clock() - trigger.issued > TRIGGER_SECONDS:
            raise ViewRefused("expired_trigger_id")
        trigger.used = True
        return trigger.user

    # The methods.
    @staticmethod
    def _checked(view: Mapping[str, Any], kind: str) -> dict[str, Any]:
        if len(json.dumps(view, ensure_ascii=False).encode()) > MAX_VIEW_BYTES:
            raise ViewRefused("view_too_large")
        problems = view_problems(view, kind=kind)
        if problems:
            raise ViewRefused("invalid_arguments", response_metadata={"messages": problems})
        return dict(view)

    def publish(self, user: str, view: Mapping[str, Any], expected_hash: str | None = None) -> StubView:
        if not self.home_tab_enabled:
            raise ViewRefused("not_enabled")
        body = self._checked(view, "home")
        current = self._homes.get(user)
        if expected_hash and current is not None and current.hash != expected_hash:
            raise ViewRefused("hash_conflict")
        if current is None:
            view_id = f"V{self._next():010d}"
            current = StubView(view_id, "home", user, body, self._new_hash(), view_id)
            self._homes[user] = current
            self._views[view_id] = current
        else:
            current.body, current.hash = body, self._new_hash()
        self.published.append((user, body))
        return current

    def open(self, trigger_id: str, view: Mapping[str, Any]) -> StubView:
        body = self._checked(view, "modal")
        user = self._exchange(trigger_id)
        view_id = f"V{self._next():010d}"
        opened = StubView(view_id, "modal", user, body, self._new_hash(), view_id)
        self._views[view_id] = opened
        return opened

    def find(self, view_id: str | None = None, external_id: str | None = None) -> StubView:
        for candidate in self._views.values():
            if (view_id and candidate.id == view_id) or (
                external_id and candidate.body.get("external_id") == external_id
            ):
                return candidate
        raise ViewRefused("not_found")

    def update(
        self,
        view: Mapping[str, Any],
        *,
        view_id: str | None = None,
        external_id: str | None = None,
        expected_hash: str | None = None,
    ) -> StubView:
        target = self.find(view_id, external_id)
        body = self._checked(view, target.type)
        if expected_hash and target.hash != expected_hash:
            raise ViewRefused("hash_conflict")
        target.body, target.hash = body, self._new_hash()
        return target

    def close(self, view_id: str) -> None:
        """The user closed a modal (or a submission's answer closed it)."""
        view = self._views.get(view_id)
        if view is not None and view.type == "modal":
            del self._views[view_id]

    # Inspection.
    def home(self, user: str) -> StubView | None:
        return self._homes.get(user)

    def modal(self, view_id: str) -> StubView:
        view = self._views.get(view_id)
        if view is None or view.type != "modal":
            raise KeyError(f"no open modal {view_id}")
        return view

    def open_modals(self, user: str | None = None) -> list[StubView]:
        return [v for v in self._views.values() if v.type == "modal" and user in (None, v.user)]

    def snapshot(self) -> dict[str, Any]:
        """Plain data: each user's Home tab and the open modals, with ids and blocks."""
        return {
            "homes": {user: {"id": v.id, "blocks": v.blocks} for user, v in self._homes.items()},
            "modals": [{"id": v.id, "user": v.user, "view": v.body} for v in self.open_modals()],
        }

    def reset(self) -> None:
        self._homes.clear()
        self._views.clear()
        self._triggers.clear()
        self.published.clear()
