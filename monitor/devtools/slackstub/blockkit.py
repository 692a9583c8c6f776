"""Block Kit as Slack checks it, for the stand-in: slack_sdk's own models (`Block.parse`, then
`validate_json`, which checks lengths and counts per element) plus the message-wide limits Slack documents.
Deliberately not the product's checker (`monitor.slack.check`): a bug there must not hide itself.

    50 blocks a message              api.slack.com/reference/block-kit/blocks ("up to 50 blocks")
    section fields: 2,000 each       api.slack.com/reference/block-kit/blocks#section (fields)
    a header's text is plain_text     api.slack.com/reference/block-kit/blocks#header
    section text 3,000, 10 fields,   slack_sdk.models.blocks (SectionBlock, HeaderBlock, ContextBlock,
    header 150, context 10 elements,  ActionsBlock, ButtonElement validators)
    actions 25, button text 75
    ~12,000 characters in all        undocumented; slackapi/bolt-js#2509 (`msg_blocks_too_long`)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

__all__ = ["MAX_BLOCKS", "block_kit_problems", "text_length"]

MAX_BLOCKS = 50
MAX_FIELD_TEXT = 2000


def _problem(index: int, block: object) -> str | None:
    if not isinstance(block, Mapping):
        return f"[ERROR] block {index} is not an object"
    try:
        parsed = Block.parse(dict(block))
        if parsed is None or type(parsed) is Block:
            return f"[ERROR] unsupported type {block.get('type')!r} [json-pointer:/blocks/{index}/type]"
        parsed.validate_json()
        parsed.to_dict()
    except (SlackObjectFormationError, TypeError, KeyError, AttributeError, ValueError) as exc:
        return f"[ERROR] {exc} [json-pointer:/blocks/{index}]"
    text = block.get("text")
    if block.get("type") == "header" and (not isinstance(text, Mapping) or text.get("type") != "plain_text"):
        # "in the form of a plain_text text object" (api.slack.com/reference/block-kit/blocks#header)
        return f"[ERROR] must be a plain_text text object [json-pointer:/blocks/{index}/text]"
    if block.get("type") == "section":
        for number, field in enumerate(block.get("fields") or []):
            text = field.get("text") if isinstance(field, Mapping) else None
            if not isinstance(text, str) or not text or len(text) > MAX_FIELD_TEXT:
                where = f"/blocks/{index}/fields/{number}"
                return f"[ERROR] must be 1 to {MAX_FIELD_TEXT} characters [json-pointer:{where}]"
    return None


def block_kit_problems(blocks: Sequence[Any], *, max_blocks: int = MAX_BLOCKS) -> list[str]:
    """What Slack's `invalid_blocks` would name (in its `errors`), empty when the blocks are fine.
    `max_blocks`: 50 in a message, 100 in a view (`views`)."""
    problems = []
    if len(blocks) > max_blocks:
        problems.append(f"[ERROR] no more than {max_blocks} items allowed [json-pointer:/blocks]")
    for index, block in enumerate(blocks):
        problem = _problem(index, block)
        if problem is not None:
            problems.append(problem)
    return problems


def text_length(value: Any) -> int:
    """All the `text` strings in the blocks, counted (for the ~12,000 cap)."""
    if isinstance(value, Mapping):
        return sum(
            len(item) if key == "text" and isinstance(item, str) else text_length(item)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return sum(text_length(item) for item in value)
    return 0
