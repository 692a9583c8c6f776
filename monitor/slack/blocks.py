"""Block Kit building blocks as plain dicts, and the limits every message we render stays within.

Documented limits (also checked by slack_sdk's `Block.validate_json`): 50 blocks a message, 3,000 characters
a section text, 2,000 a section field, 10 fields, 150 a header, 10 context elements, 75 a button label.
Undocumented but real: Slack rejects a message whose blocks hold more than about 12,000 characters in all
(`msg_blocks_too_long`, slackapi/bolt-js#2509), so every message also keeps under `MAX_MESSAGE_WEIGHT`,
where an emoji weighs as much as the `:shortcode:` Slack may store it as.

Builders never put user data in `plain_text` objects (headers, button labels): Slack's handling of entities
there is not documented, so plain text only ever holds our own words, and user data lives in mrkdwn,
escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from monitor.slack.mrkdwn import safe_cut, slack_len

__all__ = [
    "MAX_BLOCKS",
    "MAX_BUTTON_TEXT",
    "MAX_CONTEXT_ELEMENTS",
    "MAX_FALLBACK_TEXT",
    "MAX_FIELDS",
    "MAX_FIELD_TEXT",
    "MAX_HEADER_TEXT",
    "MAX_MESSAGE_WEIGHT",
    "MAX_SECTION_TEXT",
    "Block",
    "actions",
    "block_texts",
    "blocks_weight",
    "button",
    "confirm_dialog",
    "context",
    "divider",
    "header",
    "section",
    "text_weight",
]

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_CONTEXT_TEXT = 3000
MAX_BUTTON_TEXT = 75
#: A confirmation dialog's title, text and buttons.
MAX_CONFIRM_TITLE = 100
MAX_CONFIRM_TEXT = 300
MAX_CONFIRM_BUTTON = 30
#: Our cap on the top-level `text` (Slack truncates at 40,000; notifications show far less).
MAX_FALLBACK_TEXT = 4000
#: Our cap on the characters in one message's blocks, below Slack's undocumented ~12,000.
MAX_MESSAGE_WEIGHT = 10_000
# What one emoji may cost in Slack's count: the longest shortcode we use is ":black_right_pointing_..."
_EMOJI_WEIGHT = 30
_EMOJI = re.compile(r"[\u2190-\u2bff\U0001f000-\U0001faff]\ufe0f?")


def text_weight(text: str) -> int:
    """What `text` counts against MAX_MESSAGE_WEIGHT: its length, each emoji as a long shortcode."""
    if text.isascii():
        return len(text)
    emoji = len(_EMOJI.findall(text))
    return slack_len(text) + emoji * (_EMOJI_WEIGHT - 1)


def block_texts(block: Mapping[str, Any]) -> Iterator[str]:
    """Every text string in a block, nested objects included (for weights and for tests)."""
    for key, value in block.items():
        if key == "text" and isinstance(value, str):
            yield value
        elif isinstance(value, Mapping):
            yield from block_texts(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    yield from block_texts(item)


def blocks_weight(blocks: Iterable[Mapping[str, Any]]) -> int:
    return sum(text_weight(text) for block in blocks for text in block_texts(block))


def _mrkdwn(text: str, limit: int) -> dict[str, str]:
    # Slack rejects empty text objects; our callers always have something, this is the last guard.
    return {"type": "mrkdwn", "text": safe_cut(text, limit) if text.strip() else "-"}


def header(text: str) -> Block:
    """A header of our own words (never user data; see the module docstring)."""
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": safe_cut(text, MAX_HEADER_TEXT), "emoji": True},
    }


def section(text: str | None = None, *, fields: Sequence[str] = (), accessory: Block | None = None) -> Block:
    block: Block = {"type": "section"}
    if text is not None:
        block["text"] = _mrkdwn(text, MAX_SECTION_TEXT)
    if fields:
        block["fields"] = [_mrkdwn(field, MAX_FIELD_TEXT) for field in fields[:MAX_FIELDS]]
    if "text" not in block and "fields" not in block:
        block["text"] = _mrkdwn("-", MAX_SECTION_TEXT)
    if accessory is not None:
        block["accessory"] = accessory
    return block


def context(*texts: str) -> Block:
    return {
        "type": "context",
        "elements": [_mrkdwn(text, MAX_CONTEXT_TEXT) for text in texts[:MAX_CONTEXT_ELEMENTS]],
    }


def divider() -> Block:
    return {"type": "divider"}


def confirm_dialog(title: str, text: str, *, confirm: str, deny: str = "Cancel") -> Block:
    """Block Kit's confirmation dialog: every part is plain_text (docs.slack.dev, "Confirmation dialog
    object"); `text` holds user values only through `mrkdwn.plain_user_text`."""

    def plain(value: str, limit: int) -> dict[str, Any]:
        return {"type": "plain_text", "text": safe_cut(value, limit), "emoji": True}

    return {
        "title": plain(title, MAX_CONFIRM_TITLE),
        "text": plain(text, MAX_CONFIRM_TEXT),
        "confirm": plain(confirm, MAX_CONFIRM_BUTTON),
        "deny": plain(deny, MAX_CONFIRM_BUTTON),
    }


def button(
    text: str, action_id: str, value: str, *, style: str | None = None, confirm: Block | None = None
) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": safe_cut(text, MAX_BUTTON_TEXT), "emoji": True},
        "action_id": action_id,
        "value": value[:2000],
    }
    if style is not None:
        element["style"] = style
    if confirm is not None:
        element["confirm"] = confirm
    return element


def actions(*elements: Block) -> Block:
    return {"type": "actions", "elements": list(elements)}
