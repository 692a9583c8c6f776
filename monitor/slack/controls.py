"""The interactive parts of an alert message besides its plain buttons: the Silence menu, the Runbook link and
the script records' "Full output" buttons, and what their values mean to the listeners that answer them.

    Silence menu   a static_select of 1h, 4h, 1d, 1w and "Custom…", with a confirm dialog (Slack shows it
                   after the choice, before anything is sent); option value "<duration>|<fingerprint>"
    Runbook        a link button (`url`): the rule's runbook_url rendered for this task at decision time
    Full output    a section accessory per failed desktop shown; value: the script record id

Labels and dialog texts are our own words (plain_text holds no user data); values hold ids only.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from monitor.slack.actions import RUNBOOK_ACTION_ID, SCRIPT_OUTPUT_ACTION_ID, SILENCE_MENU_ACTION_ID
from monitor.slack.blocks import Block, confirm_dialog

__all__ = [
    "CUSTOM",
    "SILENCE_CHOICES",
    "output_button",
    "parse_silence_choice",
    "runbook_button",
    "silence_menu",
]

#: The Silence menu's fixed choices: (option value prefix, label, duration).
SILENCE_CHOICES: tuple[tuple[str, str, timedelta], ...] = (
    ("1h", "Silence 1 hour", timedelta(hours=1)),
    ("4h", "Silence 4 hours", timedelta(hours=4)),
    ("1d", "Silence 1 day", timedelta(days=1)),
    ("1w", "Silence 1 week", timedelta(weeks=1)),
)
CUSTOM = "custom"
_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_URL = re.compile(r"https://[!#$%&'()*+,\-./0-9:;=?@A-Z\[\]_a-z~]{1,2992}")
_DURATIONS = {key: duration for key, _, duration in SILENCE_CHOICES}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def silence_menu(fingerprint: str) -> Block | None:
    """The Silence menu for one alert, or None for an id that cannot be carried in an option value."""
    if not _ID.fullmatch(fingerprint):
        return None
    options = [{"text": _plain(label), "value": f"{key}|{fingerprint}"} for key, label, _ in SILENCE_CHOICES]
    options.append({"text": _plain("Custom… (with a reason)"), "value": f"{CUSTOM}|{fingerprint}"})
    return {
        "type": "static_select",
        "action_id": SILENCE_MENU_ACTION_ID,
        "placeholder": _plain("🔕 Silence…"),
        "options": options,
        "confirm": confirm_dialog(
            "Silence this alert?",
            "Mutes this rule's alerts for this task for the time you chose (Custom asks for it and a "
            "reason). /tasks silences lists it; /tasks unsilence ends it early.",
            confirm="Silence",
        ),
    }


def parse_silence_choice(value: str) -> tuple[str, timedelta | None] | None:
    """(fingerprint, duration) of a menu option's value; duration None for "Custom…"; None if malformed."""
    key, _, fingerprint = value.partition("|")
    if not _ID.fullmatch(fingerprint):
        return None
    if key == CUSTOM:
        return fingerprint, None
    duration = _DURATIONS.get(key)
    return (fingerprint, duration) if duration is not None else None


def runbook_button(url: object) -> Block | None:
    """A link button to the rendered runbook_url; None unless it is an https URL a button can hold."""
    if not isinstance(url, str) or not _URL.fullmatch(url):
        return None
    return {"type": "button", "text": _plain("📖 Runbook"), "action_id": RUNBOOK_ACTION_ID, "url": url}


def output_button(record_id: object) -> Block | None:
    """ "Full output" for one script record; None for an id that is not one."""
    if not isinstance(record_id, str) or not _ID.fullmatch(record_id):
        return None
    return {
        "type": "button",
        "text": _plain("Full output"),
        "action_id": SCRIPT_OUTPUT_ACTION_ID,
        "value": record_id,
    }
