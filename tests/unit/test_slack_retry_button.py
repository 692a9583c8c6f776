"""The "Retry failed desktops" button on alert messages: only with `slack.actions: [retry]`, only for the
task types that can be redone (issue 18), and with a confirm naming the action, the task and the desktop
count, in plain text that no task name can turn into markup."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.slack.actions import RETRY_ACTION_ID
from monitor.slack.alert import render_alert, render_thread_reply, render_update
from monitor.slack.digest import render_digest
from monitor.slack.message import SlackMessage
from tests.support.slack import MENTION, allowed_tokens, assert_valid, buttons, many, minimal, payload


def retry_element(message: SlackMessage) -> dict[str, Any] | None:
    for block in message.blocks:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element.get("action_id") == RETRY_ACTION_ID:
                found: dict[str, Any] = element
                return found
    return None


def test_no_retry_button_unless_the_config_enables_it() -> None:
    message = render_alert(payload())
    assert RETRY_ACTION_ID not in dict(buttons(message))


@pytest.mark.parametrize("task_type", ["START", "STOP", "REBOOT", "HIBERNATE", "EXECUTE_SCRIPT"])
def test_redoable_task_types_get_the_button_when_enabled(task_type: str) -> None:
    message = render_alert(payload(task={"type": task_type}), retry=True)
    assert dict(buttons(message))[RETRY_ACTION_ID] == "0123456789abcdef"
    assert_valid(message, allowed=allowed_tokens(MENTION))


@pytest.mark.parametrize(
    "task_type", ["REBUILD", "CREATE_SNAPSHOT", "DELETE_BLACK_ECS", "SOMETHING_NEW", None]
)
def test_other_task_types_get_no_button(task_type: str | None) -> None:
    message = render_alert(payload(task={"type": task_type}), retry=True)
    assert RETRY_ACTION_ID not in dict(buttons(message))


@pytest.mark.parametrize(
    ("task_type", "action"),
    [("REBOOT", "Reboot (reboot)"), ("START", "Start (os-start)"), ("EXECUTE_SCRIPT", "Run the script")],
)
def test_the_confirm_names_the_action_the_task_and_the_desktop_count(task_type: str, action: str) -> None:
    element = retry_element(render_alert(payload(task={"type": task_type}), retry=True))
    assert element is not None
    confirm = element["confirm"]
    assert confirm["title"]["text"] == "Retry failed desktops?"
    text = confirm["text"]["text"]
    assert text.startswith(f"{action} again on the 12 desktops that failed in the last run of prod-reboot.")
    assert confirm["confirm"]["text"] == "Retry"
    assert {confirm[part]["type"] for part in ("title", "text", "confirm", "deny")} == {"plain_text"}


def test_without_records_the_confirm_says_the_desktops_without_a_count() -> None:
    element = retry_element(render_alert(minimal(), retry=True))
    assert element is not None
    assert "again on the desktops that failed" in element["confirm"]["text"]["text"]


def test_a_hostile_task_name_in_the_confirm_is_plain_and_clipped() -> None:
    name = "<!channel> & <https://evil.example|click> " + "x" * 400
    message = render_alert(payload(task={"name": name}), retry=True)
    element = retry_element(message)
    assert element is not None
    text = element["confirm"]["text"]["text"]
    assert not set(text) & set("<>&")
    assert len(text) <= 300
    assert_valid(message, allowed=allowed_tokens(MENTION))


def test_updates_and_reminders_keep_the_button_and_settled_alerts_lose_it() -> None:
    assert RETRY_ACTION_ID in dict(buttons(render_update(payload(kind="REPEAT"), retry=True)))
    assert RETRY_ACTION_ID in dict(buttons(render_thread_reply(payload(kind="REPEAT"), retry=True)))
    resolved = payload(kind="RESOLVED", alert_status="resolved")
    assert RETRY_ACTION_ID not in dict(buttons(render_update(resolved, retry=True)))


def test_a_digest_of_one_is_the_alert_with_its_button() -> None:
    [message] = render_digest([payload()], retry=True)
    assert RETRY_ACTION_ID in dict(buttons(message))
    assert all(RETRY_ACTION_ID not in dict(buttons(m)) for m in render_digest(many(3), retry=True))
