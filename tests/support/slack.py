"""Slack messages as tests see them: sample alert payloads, and the checks every rendered message must pass.

payload(**changes) / minimal() / many(n)   a NEW alert's payload with everything known / without
                                           records / n of them for a digest
assert_valid(message, allowed=...)         valid Block Kit within every limit we promise, and escaped:
                                           only dates and `allowed` tokens are markup
texts(blocks) / all_text / blocks_of / buttons   what a message shows
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from monitor.slack.blocks import MAX_MESSAGE_WEIGHT, blocks_weight
from monitor.slack.check import block_problems
from monitor.slack.message import SlackMessage
from monitor.slack.mrkdwn import mention_text, slack_len

__all__ = [
    "ADMIN",
    "MENTION",
    "all_text",
    "allowed_tokens",
    "as_message",
    "assert_no_user_markup",
    "assert_valid",
    "blocks_of",
    "blocks_text",
    "buttons",
    "controls",
    "many",
    "minimal",
    "payload",
    "texts",
]

DATE_TOKEN = re.compile(r"<!date\^\d+\^\{date_short_pretty\} \{time\}\|[0-9: UTC-]+>")
SAFE_ENTITIES = re.compile(r"(?:[^&]|&(?:amp|lt|gt);)*", re.DOTALL)
MENTION = "<!subteam^S0123|@oncall>"
#: The Slack user the chatops tests' access lists make an admin.
ADMIN = "U0ADMIN001"


def texts(value: Any) -> Iterator[tuple[str, str]]:
    """(type of the text object, text) for every text in a block tree."""
    if isinstance(value, Mapping):
        if isinstance(value.get("text"), str):
            yield str(value.get("type", "")), value["text"]
        for key, item in value.items():
            if key != "text" or not isinstance(item, str):
                yield from texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from texts(item)


def allowed_tokens(mention: object) -> set[str]:
    """The markup a rendered mention may hold: its validated tokens."""
    return {token for token in mention_text(mention).split(" ") if token.startswith("<")}


def assert_no_user_markup(text: str, allowed: Iterable[str] = ()) -> None:
    rest = DATE_TOKEN.sub("", text)
    for token in sorted(allowed, key=len, reverse=True):
        rest = rest.replace(token, "")
    assert "<" not in rest, text
    assert ">" not in rest, text
    assert SAFE_ENTITIES.fullmatch(rest), text


def assert_valid(message: SlackMessage, *, allowed: Iterable[str] = ()) -> None:
    """Valid Block Kit within every limit, and escaped: only dates and `allowed` tokens are markup."""
    allowed = set(allowed)
    assert isinstance(message.text, str)
    assert 0 < slack_len(message.text) <= 4000
    assert 0 < len(message.blocks) <= 50
    assert block_problems(message.blocks) == []
    assert blocks_weight(message.blocks) <= MAX_MESSAGE_WEIGHT
    json.dumps(message.post_kwargs("C1"), ensure_ascii=False).encode()  # JSON, and UTF-8 encodable
    assert_no_user_markup(message.text, allowed)
    for kind, text in texts(message.blocks):
        if kind == "plain_text":
            assert not set(text) & set("<>&"), text  # our words only: user data never goes here
        else:
            assert_no_user_markup(text, allowed)


def payload(**changes: Any) -> dict[str, Any]:
    """A NEW alert with everything known: records, failed desktops, history."""
    base: dict[str, Any] = {
        "version": 1,
        "kind": "NEW",
        "reason": "new failure: task prod-reboot last_status FAIL",
        "fingerprint": "0123456789abcdef",
        "episode": 1,
        "rule": "prod-reboots",
        "severity": "critical",
        "mention": MENTION,
        "project": "p-1",
        "task": {
            "id": "t-1",
            "name": "prod-reboot",
            "type": "REBOOT",
            "scheduled_type": "FIXED_TIME",
            "life_cycle_type": None,
            "last_status": "FAIL",
            "next_execution_time": "2024-11-30 02:00:00",
            "time_zone": "Asia/Shanghai",
            "enable": True,
            "description": "Reboot prod desktops nightly",
        },
        "alert_status": "firing",
        "occurrences": 1,
        "opened_at": "2024-11-29T01:00:00+00:00",
        "decided_at": "2024-11-29T02:00:00+00:00",
        "acknowledged_by": None,
        "latest_execution": {
            "id": "r-1",
            "start_time": "2024-11-29 02:00:00",
            "time_zone": "Asia/Shanghai",
            "status": "FAIL",
            "success_num": 88,
            "failed_num": 12,
            "skip_num": 0,
        },
        "failed_desktops": [
            {
                "desktop_name": "desk-01",
                "exec_status": "FAIL",
                "result_code": "E001",
                "fail_reason": "timeout",
            },
            {"desktop_name": "desk-02", "exec_status": "FAIL", "result_code": None, "fail_reason": None},
        ],
        "history": ["FAIL", "FAIL", "SUCCESS", "SKIP", "SUCCESS"],
    }
    task_changes = changes.pop("task", {})
    base.update(changes)
    base["task"] = {**base["task"], **task_changes}
    return base


def minimal(**changes: Any) -> dict[str, Any]:
    """What a payload holds when the records API did not answer."""
    result = payload(**changes)
    for key in ("latest_execution", "failed_desktops", "history"):
        result.pop(key, None)
    return result


def all_text(message: SlackMessage) -> str:
    return "\n".join(text for _, text in texts(message.blocks))


def blocks_of(message: SlackMessage, kind: str) -> list[dict[str, Any]]:
    return [block for block in message.blocks if block["type"] == kind]


def _elements(message: SlackMessage) -> list[dict[str, Any]]:
    found = []
    for block in message.blocks:
        elements = block.get("elements", []) if block["type"] == "actions" else [block.get("accessory")]
        found.extend(e for e in elements if e)
    return found


def buttons(message: SlackMessage) -> list[tuple[str, str]]:
    """(action_id, value) of every button with a value (link buttons have a url instead)."""
    return [
        (e["action_id"], e["value"]) for e in _elements(message) if e.get("type") == "button" and "value" in e
    ]


def controls(message: SlackMessage) -> list[str]:
    """The action_id of every interactive element: buttons (link buttons too), menus."""
    return [e["action_id"] for e in _elements(message) if "action_id" in e]


# Escaping and clipping.


def many(count: int, *, name: str = "prod-reboot-{i:04d}", **changes: Any) -> list[dict[str, Any]]:
    severities = ("info", "critical", "warning")
    return [
        payload(
            fingerprint=f"{i:016x}",
            severity=severities[i % 3],
            task={"id": f"t-{i}", "name": name.format(i=i)},
            **changes,
        )
        for i in range(count)
    ]


def as_message(answer: dict[str, Any]) -> SlackMessage:
    """An app's answer (what it posted to a response_url) as the message it shows."""
    return SlackMessage(answer["text"], answer["blocks"])


def blocks_text(answer: dict[str, Any]) -> str:
    return json.dumps(answer["blocks"], ensure_ascii=False)
