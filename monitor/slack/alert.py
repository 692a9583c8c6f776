"""Messages about one alert: the message posted for it, the same message edited later, and thread replies.

    render_alert(payload)         the alert's own message (NEW; also any first message of an episode)
    render_update(payload)        that message edited to the alert's current state: firing (count, status,
                                  acknowledged), resolved (no buttons), closed (greyed, no buttons)
    render_thread_reply(payload)  REPEAT reminder, RECURRED "failed again", CHANGED, RESOLVED (also in the
                                  channel with `notify_resolved: broadcast`), CLOSED

Layout of the alert message (the edited one keeps it, so an update never jumps around):

    header     🔴 CRITICAL: scheduled task failed              (our words only)
    section    <mention on NEW> *task name* / description, with fields: type, status, schedule, project,
               failed at, next run, rule
    section    latest run counts and the first failed desktops with their fail_reason (when known)
    section    EXECUTE_SCRIPT: per failed desktop (up to 3) its script reason and the tail of its output
               in a code block, with a "Full output" button (a modal)        (firing alerts only)
    context    history strip, oldest -> newest
    context    open since / acknowledged / resolved, why, alert id
    actions    Acknowledge, the Silence menu (1h, 4h, 1d, 1w, custom with a reason; a confirm), the rule's
               Runbook link, and with `slack.actions: [retry]` "Retry failed desktops" on
               alerts of redoable task types (a confirm naming the action, the task, the desktop count)
                                                              (firing alerts only)

The rule's mention is the only markup that can ping; it appears on NEW messages only (in the fallback text,
which drives notifications, and on top of the body, so readers see who was called).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.slack.actions import ACK_ACTION_ID, RETRY_ACTION_ID
from monitor.slack.blocks import (
    MAX_FALLBACK_TEXT,
    MAX_MESSAGE_WEIGHT,
    Block,
    actions,
    blocks_weight,
    button,
    confirm_dialog,
    context,
    header,
    section,
)
from monitor.slack.controls import output_button, runbook_button, silence_menu
from monitor.slack.facts import Facts, plain_word
from monitor.slack.message import SlackMessage, alert_metadata
from monitor.slack.mrkdwn import plain_user_text, safe_cut
from monitor.workspace.redo import POWER_OPS, REDOABLE_TYPES

__all__ = [
    "RETRY_LABEL",
    "alert_buttons",
    "render_alert",
    "render_thread_reply",
    "render_update",
    "retry_button",
    "retry_confirm_text",
]

RETRY_LABEL = "Retry failed desktops"
#: A missed-run alert's task status in its payload (monitor.decide.OVERDUE_STATUS; renderers read payloads).
OVERDUE_STATUS = "OVERDUE"


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def retry_confirm_text(task_type: str, task_name: object, desktops: int | None) -> str:
    """What the confirm dialog of a retry says: the action, the task, how many desktops (plain text)."""
    what = (
        f"{task_type.capitalize()} ({POWER_OPS[task_type]})" if task_type in POWER_OPS else "Run the script"
    )
    count = "the desktops" if desktops is None else f"the {desktops} desktop{'s' * (desktops != 1)}"
    name = plain_user_text(task_name, 80) or "this task"
    return (
        f"{what} again on {count} that failed in the last run of {name}. It acts on the desktops now; "
        "the next poll still decides whether the alert recovers."
    )


def retry_button(facts: Facts) -> Block | None:
    """ "Retry failed desktops" with its confirm, for an alert of a redoable task type; else None."""
    task_type = facts.task.get("type")
    if not facts.fingerprint or not isinstance(task_type, str) or task_type not in REDOABLE_TYPES:
        return None
    if facts.last_status_raw == OVERDUE_STATUS:
        return None  # a missed run has no failed desktops to retry
    name = facts.task.get("name") or facts.task.get("id")
    confirm = confirm_dialog(
        "Retry failed desktops?", retry_confirm_text(task_type, name, facts.failed_num), confirm="Retry"
    )
    return button(RETRY_LABEL, RETRY_ACTION_ID, facts.fingerprint, confirm=confirm)


def alert_buttons(facts: Facts, *, retry: bool = False) -> Block | None:
    """Acknowledge (unless someone did) and Silence 1h, for a firing alert, and with `retry` (the config's
    `slack.actions: [retry]`) "Retry failed desktops" when the task's type can be redone; their value is
    the fingerprint."""
    if not facts.firing or not facts.fingerprint:
        return None
    elements = []
    if not facts.acknowledged_by:
        elements.append(button("Acknowledge", ACK_ACTION_ID, facts.fingerprint, style="primary"))
    menu = silence_menu(facts.fingerprint)
    if menu is not None:
        elements.append(menu)
    redo = retry_button(facts) if retry else None
    if redo is not None:
        elements.append(redo)
    runbook = runbook_button(facts.runbook_url)
    if runbook is not None:
        elements.append(runbook)
    return actions(*elements)


#: How much of each output tail a message tries, longest first, until the whole message is light enough
#: for Slack (`MAX_MESSAGE_WEIGHT`: an output of emoji weighs 30 times its length).
_OUTPUT_LIMITS = (900, 400, 150, 0)


def _script_blocks(facts: Facts, others: list[Block]) -> list[Block]:
    """A section per failed desktop's script record: reason and output tail, a "Full output" button; the
    tails as long as `others` (the rest of the message) leave room for."""
    room = MAX_MESSAGE_WEIGHT - blocks_weight(others)
    blocks: list[Block] = []
    for limit in _OUTPUT_LIMITS:
        blocks = [
            section(text, accessory=output_button(record_id))
            for text, record_id in facts.script_sections(limit)
        ]
        if blocks_weight(blocks) <= room:
            return blocks
    return []


def _words(facts: Facts, *, announce: bool) -> str:
    """What the alert's message says happened, in our own words (plain_text headers never carry user data)."""
    if facts.status == "resolved":
        return "scheduled task recovered"
    if facts.status == "closed":
        return "alert closed"
    if facts.last_status_raw == OVERDUE_STATUS:
        return "scheduled task missed its run" + (
            f" · {facts.occurrences} runs" if facts.occurrences > 1 else ""
        )
    if announce and facts.kind in ("NEW", ""):
        return "scheduled task failed"
    if facts.kind == "CHANGED" and plain_word(facts.last_status_raw):
        words = f"scheduled task now {facts.last_status_raw}"
    elif facts.kind == "RECURRED":
        words = "scheduled task failed again"
    else:
        words = "scheduled task failing"
    if facts.occurrences > 1:
        words += f" · failed {_times(facts.occurrences)}"
    return words


def _title(facts: Facts, *, announce: bool) -> str:
    if facts.status == "resolved":
        return f"✅ Resolved: {_words(facts, announce=announce)} (was {facts.severity_word.lower()})"
    return f"{facts.severity_mark} {facts.severity_word}: {_words(facts, announce=announce)}"


def _fields(facts: Facts) -> list[str]:
    fields = [
        f"*Type*\n{facts.type}",
        f"*Status*\n{facts.status_mark} {facts.last_status}",
        f"*Schedule*\n{facts.schedule}",
        f"*Project*\n{facts.project}",
    ]
    failed_at = facts.failed_at
    if failed_at:
        fields.append(f"*Last run*\n{failed_at}")
    else:
        # Without records, the best "when" is when we saw it fail: this decision for a firing alert (a
        # recurrence is seen then), the opening for a settled one (its decision is the recovery).
        seen = facts.moment("decided_at" if facts.firing else "opened_at")
        fields.append(f"*Detected*\n{seen}")
    if facts.next_run:
        fields.append(f"*Next run*\n{facts.next_run}")
    fields.append(f"*Rule*\n{facts.rule}")
    if facts.occurrences > 1:
        fields.append(f"*Occurrences*\nfailed {_times(facts.occurrences)}")
    return fields


def _latest_run(facts: Facts, *, with_time: bool) -> Block | None:
    counts = facts.run_counts()
    desktops = facts.desktop_lines()
    if not counts and not desktops:
        return None
    lines = []
    if counts:
        started = facts.failed_at if with_time else ""
        lines.append(f"*Latest run*{' ' + started if started else ''}: {counts}")
    lines.extend(desktops)
    return section("\n".join(lines))


def _state_line(facts: Facts) -> str:
    if facts.status == "resolved":
        return f"Failing from {facts.moment('opened_at')} until {facts.moment('decided_at')}"
    if facts.status == "closed":
        return f"Open from {facts.moment('opened_at')}, closed {facts.moment('decided_at')}"
    line = f"Open since {facts.moment('opened_at')}"
    if facts.acknowledged_by:
        line += f" · 👀 acknowledged by {facts.acknowledged_by}"
    return line


def _footer(facts: Facts) -> list[Block]:
    blocks = []
    if facts.history:
        blocks.append(context(f"Last {facts.history_count} runs, oldest → newest: {facts.history}"))
    elements = [_state_line(facts)]
    if facts.reason:
        elements.append(f"Why: {facts.reason}")
    elements.append(f"Alert {facts.fingerprint or '?'} · episode {facts.episode} · rule {facts.rule}")
    blocks.append(context(*elements))
    return blocks


def _summary(facts: Facts) -> str:
    return f"{facts.name()} ({facts.type}, {facts.last_status}) in project {facts.project}, rule {facts.rule}"


def _fallback(facts: Facts, what: str, *, mention: bool = False) -> str:
    mark = {"resolved": "✅", "closed": "⚪"}.get(facts.status, facts.severity_mark)
    text = f"{mark} [{facts.severity}] {what}: {_summary(facts)}"
    if mention and facts.mention:
        text = f"{facts.mention} {text}"
    return safe_cut(text, MAX_FALLBACK_TEXT)


def _closed_message(facts: Facts) -> SlackMessage:
    """Greyed: everything in context blocks (Slack's small grey text), no header, no buttons."""
    blocks: list[Block] = [
        context(f"⚪ *Closed:* ~{facts.name()}~"),
        context(
            f"{facts.type} · last status {facts.last_status} · project {facts.project} · rule {facts.rule}"
        ),
    ]
    blocks.extend(_footer(facts))
    return SlackMessage(_fallback(facts, "Closed"), blocks, alert_metadata(facts.payload))


def _full_message(payload: Mapping[str, Any], *, announce: bool, retry: bool) -> SlackMessage:
    facts = Facts(payload)
    if facts.status == "closed":
        return _closed_message(facts)
    mention = announce and facts.kind == "NEW" and bool(facts.mention)
    lines = [facts.mention] if mention else []
    lines.append(f"*{facts.name()}*")
    if facts.description:
        lines.append(facts.description)
    blocks: list[Block] = [
        header(_title(facts, announce=announce)),
        section("\n".join(lines), fields=_fields(facts)),
    ]
    latest = _latest_run(facts, with_time=False)  # the "Last run" field shows when
    if latest is not None:
        blocks.append(latest)
    footer = _footer(facts)
    buttons = alert_buttons(facts, retry=retry)
    if buttons is not None:
        footer.append(buttons)
    if facts.firing:
        blocks.extend(_script_blocks(facts, blocks + footer))
    blocks.extend(footer)
    what = _words(facts, announce=announce).capitalize()
    return SlackMessage(_fallback(facts, what, mention=mention), blocks, alert_metadata(payload))


def render_alert(payload: Mapping[str, Any], *, retry: bool = False) -> SlackMessage:
    """The message posted for an alert (NEW; or the first message of an episode whose NEW was held back).
    `retry`: offer "Retry failed desktops" (`slack.actions: [retry]`)."""
    return _full_message(payload, announce=True, retry=retry)


def render_update(payload: Mapping[str, Any], *, retry: bool = False) -> SlackMessage:
    """The alert's message as it should read now (for `chat.update`): never mentions anyone."""
    return _full_message(payload, announce=False, retry=retry)


def _overdue_reply(facts: Facts, name: str, kind: str) -> tuple[str, str]:
    """The thread reply about a missed-run alert (monitor.overdue): what, and its text."""
    if kind == "REPEAT":
        return "Reminder", (
            f"🔁 *Reminder:* {name} is still overdue ({facts.status_mark} no run since {facts.next_run}), "
            f"open since {facts.moment('opened_at')}."
        )
    if kind == "RECURRED":
        return "Missed again", f"⏰ *Missed again:* {name} did not run at {facts.next_run} either."
    return (
        "Resolved",
        f"✅ *Resolved:* {name} is on schedule again; it was overdue since {facts.moment('opened_at')}.",
    )


def render_thread_reply(payload: Mapping[str, Any], *, retry: bool = False) -> SlackMessage:
    """A short reply in the alert's thread saying what just happened."""
    facts = Facts(payload)
    name = f"*{facts.name()}*"
    kind = facts.kind
    blocks: list[Block] = []
    overdue = facts.last_status_raw == OVERDUE_STATUS
    if overdue and kind in ("REPEAT", "RECURRED", "RESOLVED"):
        # A missed run: no execution failed, none "succeeded"; the task did not run, or ran again.
        what, text = _overdue_reply(facts, name, kind)
    elif kind == "REPEAT":
        what = "Reminder"
        text = (
            f"🔁 *Reminder:* {name} is still failing ({facts.status_mark} {facts.last_status}), "
            f"open since {facts.moment('opened_at')}, failed {_times(facts.occurrences)}."
        )
    elif kind == "RECURRED":
        what = "Failed again"
        status = f"{facts.status_mark} {facts.last_status}"
        text = f"❌ *Failed again:* {name} ({status}), {_times(facts.occurrences)} now."
    elif kind == "CHANGED":
        what = "Status changed"
        text = f"🔀 *Status changed:* {name} is now {facts.status_mark} {facts.last_status}."
    elif kind == "RESOLVED":
        what = "Resolved"
        text = f"✅ *Resolved:* {name} succeeded; it was failing since {facts.moment('opened_at')}."
    elif kind == "CLOSED":
        what = "Closed"
        text = f"⚪ *Closed:* {name} is no longer tracked."
    else:
        what = "Alert"
        text = f"{facts.severity_mark} *{facts.severity}:* {name} ({facts.status_mark} {facts.last_status})."
    blocks.append(section(text))
    if kind in ("RECURRED", "REPEAT"):
        latest = _latest_run(facts, with_time=True)
        if latest is not None:
            blocks.append(latest)
    tail: list[Block] = []
    details = []
    if facts.history:
        details.append(f"Last {facts.history_count} runs, oldest → newest: {facts.history}")
    if facts.reason:
        details.append(f"Why: {facts.reason}")
    if details:
        tail.append(context(*details))
    if kind in ("REPEAT", "RECURRED", "CHANGED"):
        buttons = alert_buttons(facts, retry=retry)
        if buttons is not None:
            tail.append(buttons)
    if kind in ("RECURRED", "REPEAT"):
        blocks.extend(_script_blocks(facts, blocks + tail))
    blocks.extend(tail)
    broadcast = kind == "RESOLVED" and facts.broadcast
    return SlackMessage(_fallback(facts, what), blocks, alert_metadata(payload), broadcast=broadcast)
