"""`SlackMessage`, what every renderer returns, and the message metadata that ties a Slack message to alerts.

Every message carries metadata of event type `workspace_monitor_alert`, so after a crash the dispatcher can
read the channel history (`conversations.history` with `include_all_metadata`) and see which alerts Slack
already shows. Two shapes, both read by `alerts_in_metadata`:

    one alert:  {"fingerprint": "...", "episode": 1, "kind": "NEW", "rule": "...", "task_id": "...",
                 "alert_status": "firing", "occurrences": 1}
    a digest:   {"kind": "NEW", "digest": true, "part": 1, "parts": 3,
                 "alerts": [{"fingerprint": "...", "episode": 1}, ...]}

Metadata values are never shown to anyone, so they are not escaped; they hold ids and counts, not names.
A digest lists its alerts as objects, because Slack documents event_payload arrays only of objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["EVENT_TYPE", "SlackMessage", "alert_metadata", "alerts_in_metadata", "digest_metadata"]

EVENT_TYPE = "workspace_monitor_alert"


@dataclass(frozen=True)
class SlackMessage:
    """One Slack message: `text` is the notification fallback (escaped like the blocks), `blocks` the body."""

    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any] | None = None
    #: A thread reply that also shows in the channel (`reply_broadcast`, "also send to channel").
    broadcast: bool = False

    def post_kwargs(self, channel: str, *, thread_ts: str | None = None) -> dict[str, Any]:
        """Arguments of `chat_postMessage`. Links are not unfurled (a task description with a URL must not
        grow a preview), and `link_names`/`parse` stay unset so plain `@here` text never pings."""
        kwargs: dict[str, Any] = {
            "channel": channel,
            "text": self.text,
            "blocks": self.blocks,
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if self.metadata is not None:
            kwargs["metadata"] = self.metadata
        if thread_ts is not None:
            kwargs["thread_ts"] = thread_ts
            if self.broadcast:
                kwargs["reply_broadcast"] = True
        return kwargs

    def update_kwargs(self, channel: str, ts: str) -> dict[str, Any]:
        """Arguments of `chat_update` (channel must be the id Slack answered the post with)."""
        kwargs: dict[str, Any] = {"channel": channel, "ts": ts, "text": self.text, "blocks": self.blocks}
        if self.metadata is not None:
            kwargs["metadata"] = self.metadata
        return kwargs

    @property
    def alerts(self) -> list[tuple[str, int]]:
        """The (fingerprint, episode) pairs this message is about, from its metadata."""
        return alerts_in_metadata(self.metadata)


def _text(value: object, limit: int = 200) -> str:
    """A metadata string: never shown, but it must encode to UTF-8 (no lone surrogates) and stay small."""
    text = "" if value is None else str(value)[:limit]
    return text.encode("utf-8", "replace").decode("utf-8") if not text.isascii() else text


def _int(value: object, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def alert_metadata(payload: Mapping[str, Any]) -> dict[str, Any]:
    task = payload.get("task")
    task_id = task.get("id") if isinstance(task, Mapping) else None
    return {
        "event_type": EVENT_TYPE,
        "event_payload": {
            "fingerprint": _text(payload.get("fingerprint") or ""),
            "episode": _int(payload.get("episode")),
            "kind": _text(payload.get("kind") or ""),
            "rule": _text(payload.get("rule") or ""),
            "task_id": _text(task_id or ""),
            "alert_status": _text(payload.get("alert_status") or ""),
            "occurrences": _int(payload.get("occurrences"), 1),
        },
    }


def digest_metadata(payloads: Sequence[Mapping[str, Any]], *, part: int, parts: int) -> dict[str, Any]:
    kinds = {_text(payload.get("kind") or "") for payload in payloads}
    return {
        "event_type": EVENT_TYPE,
        "event_payload": {
            "kind": kinds.pop() if len(kinds) == 1 else "MIXED",
            "digest": True,
            "part": part,
            "parts": parts,
            "alerts": [
                {"fingerprint": _text(p.get("fingerprint") or ""), "episode": _int(p.get("episode"))}
                for p in payloads
            ],
        },
    }


def alerts_in_metadata(metadata: Mapping[str, Any] | None) -> list[tuple[str, int]]:
    """(fingerprint, episode) of every alert a message's metadata names; [] for anybody else's metadata."""
    if not isinstance(metadata, Mapping) or metadata.get("event_type") != EVENT_TYPE:
        return []
    payload = metadata.get("event_payload")
    if not isinstance(payload, Mapping):
        return []
    items = payload.get("alerts") if payload.get("digest") else [payload]
    if not isinstance(items, list):
        return []
    found = []
    for item in items:
        if isinstance(item, Mapping) and isinstance(item.get("fingerprint"), str) and item["fingerprint"]:
            found.append((item["fingerprint"], _int(item.get("episode"))))
    return found
