"""Block Kit for meta-alerts (`monitor.selfwatch`): the monitor telling the ops channel it cannot do its job.

    render_meta(payload)         the meta-alert's message (FIRING), or a recovery posted on its own
    render_meta_update(payload)  that message edited when it recovers (no mention, no buttons ever)
    render_meta_reply(payload)   the recovery, in the meta-alert's thread

The header holds our own words only; the check's subject (a channel name from a rule) and the error text
(which quotes API and Slack answers) are user data, escaped and clipped by `user_text`. Messages carry the
same metadata as alert messages, so the crash check (`find_posted`) recognises them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.slack.blocks import MAX_FALLBACK_TEXT, Block, context, header, section
from monitor.slack.message import SlackMessage, alert_metadata
from monitor.slack.mrkdwn import iso_epoch, safe_cut, slack_date, user_text

__all__ = ["render_meta", "render_meta_reply", "render_meta_update"]

_ERROR_LIMIT = 1500
_WHAT_LIMIT = 200


def _moment(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    epoch = iso_epoch(value)
    return slack_date(epoch) if epoch is not None else user_text(value or "?", 40)


def _what(payload: Mapping[str, Any]) -> str:
    return user_text(payload.get("title") or payload.get("check") or "?", _WHAT_LIMIT)


def _fixing(payload: Mapping[str, Any]) -> str:
    check = str(payload.get("check") or "")
    if check == "workspace" or check.startswith("workspace:"):  # one project's, with several
        return "Check the credentials, the project id, the endpoint and the API's health; alerts wait."
    if check.startswith("slack:pagerduty:"):
        return "Check the routing key (pagerduty.routing_key_env) and the PagerDuty service; pages are lost."
    if check.startswith("slack:"):
        return "Invite the bot to the channel, fix the channel name or the token; messages to it are lost."
    return "See the daemon's log."


def _facts(payload: Mapping[str, Any]) -> Block:
    lines = [f"*{_what(payload)}* is failing"]
    failures = payload.get("failures")
    if isinstance(failures, int) and failures > 1:
        lines[0] += f" ({failures} times in a row)"
    error = payload.get("error")
    if error:
        lines.append(f"Error: {user_text(error, _ERROR_LIMIT)}")
    return section("\n".join(lines))


def _footer(payload: Mapping[str, Any], *, resolved: bool) -> Block:
    since = f"Failing since {_moment(payload, 'since')}"
    if resolved:
        since += f" until {_moment(payload, 'decided_at')}"
    fingerprint = user_text(payload.get("fingerprint") or "?", 100)
    return context(since, f"Meta-alert {fingerprint} · episode {payload.get('episode', 0)}")


def _fallback(payload: Mapping[str, Any], *, resolved: bool) -> str:
    what = _what(payload)
    text = f"✅ workspace-monitor: {what} recovered" if resolved else f"⚠️ workspace-monitor: {what} failing"
    return safe_cut(text, MAX_FALLBACK_TEXT)


def _message(payload: Mapping[str, Any]) -> SlackMessage:
    resolved = payload.get("alert_status") == "resolved"
    title = "✅ Recovered: workspace-monitor works again" if resolved else "⚠️ workspace-monitor cannot work"
    blocks: list[Block] = [header(title), _facts(payload)]
    if not resolved:
        blocks.append(context(_fixing(payload)))
    blocks.append(_footer(payload, resolved=resolved))
    return SlackMessage(_fallback(payload, resolved=resolved), blocks, alert_metadata(payload))


def render_meta(payload: Mapping[str, Any]) -> SlackMessage:
    return _message(payload)


def render_meta_update(payload: Mapping[str, Any]) -> SlackMessage:
    return _message(payload)


def render_meta_reply(payload: Mapping[str, Any]) -> SlackMessage:
    resolved = payload.get("alert_status") == "resolved"
    if resolved:
        text = f"✅ *Recovered:* {_what(payload)} works again."
    else:
        text = f"⚠️ *Still failing:* {_what(payload)}."
    blocks: list[Block] = [section(text), _footer(payload, resolved=resolved)]
    return SlackMessage(_fallback(payload, resolved=resolved), blocks, alert_metadata(payload))
