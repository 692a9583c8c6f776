"""The modals the alert message's controls open, as plain dicts, and reading what a person submitted.

    silence_modal(...)         the Silence menu's "Custom…": a duration and a reason (both required);
                               its private_metadata names the alert and the message (for the thread note)
    read_silence_form(view)    the submitted duration and reason, or the errors Slack shows under each field
    loading_modal()            shown at once (a trigger_id is good for 3 seconds; the API may be slower)
    output_modal(record)       a script record: desktop, status, exit code, reason, and the end of its output
                               (what the client kept: `client.MAX_OUTPUT`) as code blocks

Titles, labels and buttons are our own words (plain_text, max 24 characters a title); user data appears
only in mrkdwn, escaped. A modal holds at most 100 blocks; the output is cut to MODAL_OUTPUT characters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from monitor.chatops.commands import MAX_REASON, CommandError, silence_duration, storable
from monitor.slack.actions import SILENCE_CUSTOM_CALLBACK_ID
from monitor.slack.blocks import Block, context, section
from monitor.slack.mrkdwn import code_tail, slack_len, user_text
from monitor.workspace.actions import ScriptRecord

__all__ = [
    "MODAL_OUTPUT",
    "SilenceForm",
    "SilenceTarget",
    "loading_modal",
    "output_modal",
    "read_silence_form",
    "silence_modal",
    "unavailable_modal",
]

#: The most of an output a modal shows (escaped), in code blocks of at most _CHUNK characters each.
MODAL_OUTPUT = 24_000
_CHUNK = 2_900
_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")
DURATION_BLOCK = "duration"
REASON_BLOCK = "reason"
VALUE_ACTION = "value"


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


@dataclass(frozen=True)
class SilenceTarget:
    """What a custom silence is for: the alert, and the message whose thread hears of it."""

    fingerprint: str
    channel: str = ""
    ts: str = ""

    def metadata(self) -> str:
        return json.dumps({"alert": self.fingerprint, "channel": self.channel, "ts": self.ts})

    @classmethod
    def from_metadata(cls, text: object) -> SilenceTarget | None:
        """The target our modal carried; None for anything else (the metadata is ours, but read warily)."""
        try:
            data = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        fields = [data.get(key) for key in ("alert", "channel", "ts")]
        if not all(isinstance(value, str) for value in fields) or not _ID.fullmatch(str(fields[0])):
            return None
        channel, ts = str(fields[1]), str(fields[2])
        if not _ID.fullmatch(channel) or not _ID.fullmatch(ts):
            channel, ts = "", ""
        return cls(str(fields[0]), channel, ts)


def silence_modal(target: SilenceTarget) -> dict[str, Any]:
    def field(block_id: str, label: str, placeholder: str, *, multiline: bool, max_length: int) -> Block:
        return {
            "type": "input",
            "block_id": block_id,
            "label": _plain(label),
            "element": {
                "type": "plain_text_input",
                "action_id": VALUE_ACTION,
                "placeholder": _plain(placeholder),
                "multiline": multiline,
                "max_length": max_length,
            },
        }

    return {
        "type": "modal",
        "callback_id": SILENCE_CUSTOM_CALLBACK_ID,
        "title": _plain("Silence alert"),
        "submit": _plain("Silence"),
        "close": _plain("Cancel"),
        "private_metadata": target.metadata(),
        "blocks": [
            section(
                f"Mutes alert `{target.fingerprint}`'s rule for its task. `/tasks silences` lists it, "
                "`/tasks unsilence` ends it early."
            ),
            field(
                DURATION_BLOCK,
                "For how long",
                "30m, 12h, 3d, 2w (at most 90d)",
                multiline=False,
                max_length=20,
            ),
            field(
                REASON_BLOCK, "Why", "patching the pool until Friday", multiline=True, max_length=MAX_REASON
            ),
        ],
    }


@dataclass(frozen=True)
class SilenceForm:
    duration: timedelta
    reason: str


def _submitted(values: Mapping[str, Any], block_id: str) -> str:
    by_action = values.get(block_id)
    item = by_action.get(VALUE_ACTION) if isinstance(by_action, Mapping) else None
    value = item.get("value") if isinstance(item, Mapping) else None
    return storable(value.strip()) if isinstance(value, str) else ""


def read_silence_form(view: Mapping[str, Any]) -> SilenceForm | dict[str, str]:
    """The duration and reason submitted, or {block_id: what is wrong} for `response_action: errors`."""
    state = view.get("state")
    values = state.get("values") if isinstance(state, Mapping) else None
    values = values if isinstance(values, Mapping) else {}
    errors: dict[str, str] = {}
    duration = None
    try:
        duration = silence_duration(_submitted(values, DURATION_BLOCK) or "?")
    except CommandError as exc:
        errors[DURATION_BLOCK] = exc.message[:150]
    reason = _submitted(values, REASON_BLOCK)
    if not reason:
        errors[REASON_BLOCK] = "Say why, so whoever sees the silence knows."
    elif len(reason) > MAX_REASON:
        errors[REASON_BLOCK] = f"At most {MAX_REASON} characters."
    if errors or duration is None:
        return errors
    return SilenceForm(duration, reason)


def loading_modal(title: str = "Script output") -> dict[str, Any]:
    return {
        "type": "modal",
        "title": _plain(title),
        "close": _plain("Close"),
        "blocks": [section("⏳ Looking it up…")],
    }


def unavailable_modal(problem: str) -> dict[str, Any]:
    """The output modal when there is no output to show: why (our words, or an API error, escaped)."""
    return {
        "type": "modal",
        "title": _plain("Script output"),
        "close": _plain("Close"),
        "blocks": [section(f"⚠️ {user_text(problem, 1000, keep_marks=True)}")],
    }


def _chunks(text: str, size: int) -> list[str]:
    """Escaped text in pieces of at most `size` as Slack counts (UTF-16 units), cut at a line break when
    one is in the second half of a piece, never inside an entity."""
    pieces: list[str] = []
    start = 0
    while start < len(text):
        used, end, newline = 0, start, -1
        while end < len(text):
            step = slack_len(text[end])
            if used + step > size:
                break
            if text[end] == "\n" and used >= size // 2:
                newline = end
            used += step
            end += 1
        if end < len(text):
            if newline != -1:
                end = newline
            else:
                amp = text.rfind("&", max(start, end - 5), end)
                if amp > start and ";" not in text[amp:end]:
                    end = amp
        pieces.append(text[start:end])
        start = end + 1 if end < len(text) and text[end] == "\n" else end
    return [piece for piece in pieces if piece.strip()]


def output_modal(record: ScriptRecord) -> dict[str, Any]:
    """A script record's modal: who, how it ended, why, and the end of its output."""
    name = user_text(record.resource_name or record.resource_id, 80) or "?"
    status = user_text(record.status, 40) or "?"
    code = user_text(record.result_code, 40)
    head = f"📜 *{name}* · {status}" + (f" · exit {code}" if code else "")
    reason = user_text(record.reason, 1000)
    blocks: list[Block] = [section(head + (f"\n{reason}" if reason else ""))]
    output = code_tail(record.output, MODAL_OUTPUT) if record.output else ""
    pieces = _chunks(output, _CHUNK)
    for piece in pieces:
        blocks.append(section(f"```{piece}```"))
    if not pieces:
        blocks.append(context("The script printed nothing (or the API kept no output)."))
    elif output.startswith("…"):
        blocks.append(context("Only the end of the output is shown; the console has all of it."))
    script = user_text(record.script_name, 80)
    if script:
        blocks.append(context(f"Script {script} · record `{user_text(record.id, 128, code=True)}`"))
    return {"type": "modal", "title": _plain("Script output"), "close": _plain("Close"), "blocks": blocks}
