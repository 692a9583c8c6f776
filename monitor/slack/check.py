"""Block Kit validation: what Slack would reject in a message, as a list of problems (empty when fine).

Used by the tests of every renderer (the Slack stand-in keeps a checker of its own, so that a bug here
cannot hide itself). slack_sdk's models do the per-element checks
(`Block.parse(...).to_dict()` validates nested objects too); the message-wide limits are ours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from monitor.slack.blocks import MAX_BLOCKS, MAX_FIELD_TEXT, MAX_HEADER_TEXT, MAX_SECTION_TEXT
from monitor.slack.mrkdwn import slack_len

__all__ = ["block_problems", "blocks_text_length"]


def _block_problem(index: int, block: object) -> str | None:
    if not isinstance(block, Mapping):
        return f"block {index} is not an object"
    try:
        parsed = Block.parse(dict(block))
        if parsed is None or type(parsed) is Block:
            return f"block {index}: unknown type {block.get('type')!r}"
        parsed.validate_json()
        parsed.to_dict()
    except (SlackObjectFormationError, TypeError, KeyError, AttributeError) as exc:
        return f"block {index}: {exc}"
    kind = block.get("type")
    text = block.get("text")
    if kind == "section" and not text and not block.get("fields"):
        return f"block {index}: a section needs text or fields"
    if kind == "header" and (not isinstance(text, Mapping) or text.get("type") != "plain_text"):
        return f"block {index}: a header's text must be plain_text"
    if kind == "section":
        if isinstance(text, Mapping) and not 0 < slack_len(str(text.get("text", ""))) <= MAX_SECTION_TEXT:
            return f"block {index}: section text must be 1 to {MAX_SECTION_TEXT} characters"
        for field in block.get("fields") or []:
            if isinstance(field, Mapping) and not 0 < slack_len(str(field.get("text", ""))) <= MAX_FIELD_TEXT:
                return f"block {index}: a field must be 1 to {MAX_FIELD_TEXT} characters"
    if (
        kind == "header"
        and isinstance(text, Mapping)
        and slack_len(str(text.get("text", ""))) > MAX_HEADER_TEXT
    ):
        return f"block {index}: header text over {MAX_HEADER_TEXT} characters"
    return None


def block_problems(blocks: Sequence[Any]) -> list[str]:
    """What is wrong with a message's blocks, as Slack's `invalid_blocks` would see it."""
    problems = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks, more than {MAX_BLOCKS}")
    for index, block in enumerate(blocks):
        problem = _block_problem(index, block)
        if problem is not None:
            problems.append(problem)
    return problems


def _texts(value: Any) -> int:
    if isinstance(value, Mapping):
        return sum(
            slack_len(item) if key == "text" and isinstance(item, str) else _texts(item)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return sum(_texts(item) for item in value)
    return 0


def blocks_text_length(blocks: Sequence[Any]) -> int:
    """All the text in a message's blocks, plainly counted (Slack's cumulative limit is about 12,000)."""
    return _texts(list(blocks))
