"""Slack rendering: Block Kit messages as pure functions of alert payloads (`monitor.notify.payload`).

The public face of the `slack_*` modules; the notifier imports from here.

    render_alert(payload) -> SlackMessage          the message posted for an alert (NEW)
    render_digest(payloads) -> list[SlackMessage]  several alerts of one channel and group (usually one
                                                   message; more only when Block Kit's limits demand it)
    render_update(payload) -> SlackMessage         the posted message, edited to the alert's current state
    render_thread_reply(payload) -> SlackMessage   REPEAT / RECURRED / CHANGED / RESOLVED in the thread

    message.post_kwargs(channel, thread_ts=None)   -> AsyncWebClient.chat_postMessage(**kwargs)
    message.update_kwargs(channel, ts)             -> AsyncWebClient.chat_update(**kwargs)
    message.alerts / alerts_in_metadata(metadata)  -> [(fingerprint, episode)] a message is about

Safety, in one place each: user values are escaped and clipped in `slack_facts` (via
`slack_mrkdwn.user_text`); only the rule's validated mention may ping (`slack_mrkdwn.mention_text`);
limits are kept by `slack_blocks` builders and the digest packer. Buttons (`alert_ack`,
`alert_silence_1h`, value = fingerprint) appear on firing alerts only.
"""

from __future__ import annotations

from monitor.notify.slack_alert import (
    ACK_ACTION_ID,
    SILENCE_1H_ACTION_ID,
    render_alert,
    render_thread_reply,
    render_update,
)
from monitor.notify.slack_digest import render_digest
from monitor.notify.slack_message import EVENT_TYPE, SlackMessage, alerts_in_metadata
from monitor.notify.slack_mrkdwn import escape_mrkdwn, history_strip

__all__ = [
    "ACK_ACTION_ID",
    "EVENT_TYPE",
    "SILENCE_1H_ACTION_ID",
    "SlackMessage",
    "alerts_in_metadata",
    "escape_mrkdwn",
    "history_strip",
    "render_alert",
    "render_digest",
    "render_thread_reply",
    "render_update",
]
