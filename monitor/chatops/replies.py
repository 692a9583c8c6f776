"""What `/tasks` answers, as pure functions of plain data -> `SlackMessage` (ephemeral replies).

Every reply is valid Block Kit within Slack's limits (at most 50 blocks, 3,000 characters a section) and shows
user data (task names, reasons, API error text) escaped, so nothing in an answer can ping anyone. A task
listing is a fixed-width table in a code block, `PAGE_SIZE` rows a page, with Previous/Next buttons whose
value is the command text of that page (the button handler parses it like a typed command).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.chatops.commands import SUBCOMMANDS, Failed, ListTasks
from monitor.decide import AlertState
from monitor.durations import format_duration
from monitor.silences import Silence
from monitor.slack.blocks import (
    MAX_BLOCKS,
    MAX_FALLBACK_TEXT,
    MAX_SECTION_TEXT,
    Block,
    actions,
    button,
    context,
    header,
    section,
)
from monitor.slack.message import SlackMessage
from monitor.slack.mrkdwn import (
    HISTORY_MARKS,
    escape_mrkdwn,
    history_strip,
    safe_cut,
    slack_date,
    status_mark,
    user_text,
)
from monitor.store.base import MessageRef
from monitor.windows import WindowState
from monitor.workspace.models import (
    ExecutionRecord,
    RecordDetail,
    ScheduledTask,
    TaskDetail,
    format_api_time,
)

__all__ = [
    "DESKTOPS_SHOWN",
    "NEXT_PAGE_ACTION_ID",
    "PAGE_SIZE",
    "PREVIOUS_PAGE_ACTION_ID",
    "ProjectPoll",
    "StatusView",
    "ack_reply",
    "alert_line",
    "alerts_reply",
    "error_reply",
    "help_reply",
    "list_reply",
    "message_link",
    "refusal_reply",
    "show_reply",
    "silence_added_reply",
    "silence_line",
    "silences_reply",
    "status_fields",
    "status_reply",
    "unsilence_reply",
    "window_line",
]

PAGE_SIZE = 20
NEXT_PAGE_ACTION_ID = "tasks_page_next"
PREVIOUS_PAGE_ACTION_ID = "tasks_page_previous"
#: Rows of the alert and silence lists (one section each; the rest is counted, not shown).
MAX_ROWS = 40
DESKTOPS_SHOWN = 5
_COLUMNS = (("Name", 32), ("Type", 15), ("Schedule", 10), ("Status", 7), ("Next run", 19), ("ID", 36))

_HELP = {
    "list": "`list [status=FAIL|SKIP|SUCCESS|any] [type=REBOOT] [schedule=DAY] [name=TEXT]` - a table",
    "failed": "`failed` - tasks failing or skipped now",
    "show": "`show <task_id>` - a task's details, latest executions and failed desktops",
    "alerts": "`alerts` - firing alerts, with links to their messages",
    "silence": (
        "`silence <task_id|name-glob> <duration|time-interval> [reason]` - e.g. "
        "`silence prod-* 2h maintenance`; `silence prod-* patch-night` mutes during that time interval's "
        "next window only"
    ),
    "silences": "`silences` - active silences and maintenance windows",
    "unsilence": "`unsilence <silence_id>` - end a silence now",
    "ack": "`ack <alert_id>` - acknowledge an alert (no more reminders for this failure)",
    "retry": "`retry <task_id|alert_id>` - redo a failing task's action on its failed desktops (asks first)",
    "status": "`status` - last poll, its duration, API and Slack errors, outbox backlog",
    "report": "`report [7d|30d]` - runs, success rates per task type and rule, top failing tasks",
    "help": "`help [subcommand]` - this list",
}


def _message(text: str, blocks: list[Block]) -> SlackMessage:
    return SlackMessage(safe_cut(text, MAX_FALLBACK_TEXT) or "-", blocks[:MAX_BLOCKS])


def _plain(text: str, limit: int = 200) -> str:
    return user_text(text, limit)


def help_reply(topic: str | None = None, note: str | None = None) -> SlackMessage:
    # Our own `<task_id>` placeholders are escaped too: in mrkdwn `<...>` is markup.
    chosen = [topic] if topic in _HELP else list(SUBCOMMANDS)
    lines = [f"• {escape_mrkdwn(_HELP[name])}" for name in chosen if name is not None]
    blocks: list[Block] = []
    if note:
        blocks.append(section(f"🤔 Sorry, {_plain(note)}. Here is what I understand:"))
    blocks.append(section("*`/tasks` commands*\n" + "\n".join(lines)))
    blocks.append(
        context("Silencing and acknowledging need an admin or an allowed channel (`slack.admins`).")
    )
    return _message(
        ("Sorry, " + note + ". " if note else "") + "/tasks commands: " + ", ".join(SUBCOMMANDS), blocks
    )


def error_reply(problem: str) -> SlackMessage:
    """A command that cannot run as written, or a failure: what went wrong and what to do."""
    # The problem is our sentence with `code` spans of its own (and the user's words quoted in it).
    text = f"⚠️ {user_text(problem, 1000, keep_marks=True)}"
    return _message(text, [section(text), context("`/tasks help` lists every command.")])


def refusal_reply(what: str) -> SlackMessage:
    text = (
        f"🙏 Sorry, only admins (or anyone in an allowed channel) may {what}. "
        "Ask an admin to add you to `slack.admins`, or use an allowed channel."
    )
    return _message(text, [section(text)])


_ENTITY = re.compile(r"&(?:amp|lt|gt);")


def _cell(value: str | None, width: int) -> str:
    """A table cell: cleaned, clipped to `width` characters as shown, escaped, then padded (an entity such
    as `&lt;` shows as one character). Backquotes become quotes so a name cannot end the code block."""
    text = " ".join((value or "-").split()).replace("`", "'")
    text = text if len(text) <= width else text[: width - 1] + "…"
    escaped = user_text(text, width * 8, code=True) or "-"
    return escaped + " " * (width - len(_ENTITY.sub("_", escaped)))


def _schedule(task: ScheduledTask) -> str:
    if task.scheduled_type == "LIFE_CYCLE" and task.life_cycle_type:
        return f"LC/{task.life_cycle_type}"
    return task.scheduled_type or "-"


def _row(cells: Sequence[str | None]) -> str:
    return " ".join(_cell(value, width) for value, (_, width) in zip(cells, _COLUMNS, strict=True)).rstrip()


def _task_row(task: ScheduledTask) -> str:
    status = task.last_status or "-"
    if task.enable is False:
        status = "off"
    next_run = format_api_time(task.next_execution_time, task.time_zone, named=False) or None
    return _row([task.task_name, task.task_type, _schedule(task), status, next_run, task.id])


def _tables(rows: Sequence[str]) -> list[str]:
    """The rows under a header, in as few code blocks as fit a section each (escaping can triple a name)."""
    head = _row([name for name, _ in _COLUMNS])
    tables: list[list[str]] = [[head]]
    for row in rows:
        if sum(len(line) + 1 for line in tables[-1]) + len(row) > MAX_SECTION_TEXT - 10:
            tables.append([head])
        tables[-1].append(row)
    return ["\n".join(table) for table in tables]


def _filters(command: ListTasks | Failed) -> str:
    if isinstance(command, Failed):
        return "status=FAIL or SKIP"
    parts = [
        f"status={command.status or 'any'}",
        *([f"type={command.task_type}"] if command.task_type else []),
        *([f"schedule={command.schedule}"] if command.schedule else []),
        *([f"name={command.name}"] if command.name else []),
    ]
    return _plain(" ".join(parts))


def list_reply(
    command: ListTasks | Failed,
    tasks: Sequence[ScheduledTask],
    *,
    complete: bool,
    problems: Sequence[str] = (),
) -> SlackMessage:
    """One page of `tasks` (already sorted) as a table, with buttons to the neighbouring pages."""
    pages = max(1, -(-len(tasks) // PAGE_SIZE))
    page = min(command.page, pages)
    shown = tasks[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    title = f"{len(tasks)} scheduled task{'s' if len(tasks) != 1 else ''}"
    blocks: list[Block] = [section(f"*{title}* ({_filters(command)}) · page {page} of {pages}")]
    if shown:
        blocks.extend(section(f"```\n{table}\n```") for table in _tables([_task_row(task) for task in shown]))
    else:
        blocks.append(section("No task matches."))
    if not complete:
        why = "; ".join(problems) or "some pages failed"
        blocks.append(context(f"⚠️ The listing is incomplete: {_plain(why, 500)}. Try again shortly."))
    buttons = []
    if page > 1:
        buttons.append(button("◀ Previous", PREVIOUS_PAGE_ACTION_ID, command.text(page - 1)))
    if page < pages:
        buttons.append(button("Next ▶", NEXT_PAGE_ACTION_ID, command.text(page + 1)))
    if buttons:
        blocks.append(actions(*buttons))
    blocks.append(context("`/tasks show &lt;ID&gt;` for details of one task."))
    return _message(f"{title}, page {page} of {pages}", blocks)


def _record_line(record: ExecutionRecord) -> str:
    counts = f"{record.success_num or 0} ok, {record.failed_num or 0} failed, {record.skip_num or 0} skipped"
    started = format_api_time(record.start_time, record.time_zone) or "?"
    # A status without a mark of its own (undocumented, new) is shown as the API wrote it.
    raw = "" if record.status in HISTORY_MARKS else f" {_plain(record.status or 'unknown', 40)}"
    return f"{status_mark(record.status)}{raw} {_plain(started, 80)} · {counts}"


def show_reply(
    task: TaskDetail,
    listed: ScheduledTask | None,
    records: Sequence[ExecutionRecord],
    failed_desktops: Sequence[RecordDetail],
    *,
    problems: Sequence[str] = (),
    failed_total: int = 0,
    retry_note: str | None = None,
) -> SlackMessage:
    """`failed_total`: how many desktops the execution says failed or were skipped, when more than the
    desktops listed (those are read up to a cap). `retry_note`: whether and how the task's failed desktops
    can be retried from Slack (with retries on)."""
    name = _plain(task.task_name or task.id)
    status = listed.last_status if listed is not None else (records[0].status if records else None)
    fields = [
        f"*Type*\n{_plain(task.task_type or '-')}",
        f"*Last status*\n{status_mark(status)} {_plain(status or 'unknown')}",
        f"*Schedule*\n{_plain(task.scheduled_type or '-')}",
        f"*Time zone*\n{_plain(task.time_zone or '-')}",
    ]
    if listed is not None and listed.next_execution_time:
        fields.append(f"*Next run*\n{_plain(format_api_time(listed.next_execution_time, listed.time_zone))}")
    if listed is not None and listed.enable is not None:
        fields.append(f"*Enabled*\n{'yes' if listed.enable else 'no'}")
    text = f"*{name}*\n`{_plain(task.id)}`"
    if task.description:
        text += "\n" + user_text(task.description, 500)
    blocks: list[Block] = [section(text, fields=fields)]
    if records:
        strip = history_strip([record.status for record in records])
        lines = [f"*Latest executions* (oldest → newest: {strip})", *map(_record_line, records[:5])]
        blocks.append(section("\n".join(lines)))
    elif not problems:
        blocks.append(context("No executions recorded yet."))
    if failed_desktops:
        lines = ["*Failed desktops* (latest failed execution)"]
        for detail in failed_desktops[:DESKTOPS_SHOWN]:
            reason = _plain(detail.fail_reason or detail.result_code or "no reason given", 200)
            lines.append(f"• {_plain(detail.desktop_name or detail.desktop_id or '?', 80)}: {reason}")
        shown = min(len(failed_desktops), DESKTOPS_SHOWN)
        total = max(len(failed_desktops), failed_total)
        if total > shown:
            lines.append(f"… and {total - shown} more")
        blocks.append(section("\n".join(lines)))
    if retry_note:
        blocks.append(context(user_text(retry_note, 400, keep_marks=True)))
    if problems:
        blocks.append(context(*(f"⚠️ {_plain(problem, 300)}" for problem in problems)))
    return _message(f"Task {name}: {_plain(status or 'unknown')}", blocks)


_WORKSPACE_URL = re.compile(r"https://[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.slack\.com/")
_REF_PART = re.compile(r"[A-Z0-9]+|\d+\.\d+")


def message_link(ref: MessageRef | None, workspace_url: str | None) -> str:
    """A link to an alert's message: Slack's permalink form, `<workspace url>archives/<channel>/p<ts
    without the dot>`, built from the stored channel and ts (no `chat.getPermalink` call per alert).
    `workspace_url` is `auth.test`'s `url` (https://acme.slack.com/); without one, the ts and channel."""
    if ref is None:
        return "not posted yet"
    if not (_REF_PART.fullmatch(ref.channel) and _REF_PART.fullmatch(ref.ts)):
        return "message (unknown place)"
    if not workspace_url or not _WORKSPACE_URL.fullmatch(workspace_url):
        return f"message {ref.ts} in <#{ref.channel}>"
    return f"<{workspace_url}archives/{ref.channel}/p{ref.ts.replace('.', '')}|message>"


def alert_line(alert: AlertState, ref: MessageRef | None, workspace_url: str | None) -> str:
    """One firing alert: its mark, task, rule, since when, id, a link to its message, who acknowledged it
    and whether a silence holds it (escaped; `/tasks alerts` and the Home tab)."""
    acked = f" · 👀 {_plain(alert.acknowledged_by, 40)}" if alert.acknowledged_by else ""
    muted = " · 🔕 silenced" if alert.silenced_by else ""
    return (
        f"{status_mark(alert.last_status)} *{_plain(alert.task_name or alert.task_id, 60)}* "
        f"({_plain(alert.rule_name, 40)}) since {slack_date(int(alert.opened_at.timestamp()))} · "
        f"`{alert.fingerprint}` · {message_link(ref, workspace_url)}{acked}{muted}"
    )


def alerts_reply(
    alerts: Sequence[AlertState], refs: Mapping[str, MessageRef | None], *, team_domain: str | None
) -> SlackMessage:
    """Firing alerts, longest open first, each with a link to its message."""
    if not alerts:
        return _message("No firing alerts.", [section("✅ No firing alerts.")])
    ordered = sorted(alerts, key=lambda alert: (alert.opened_at, alert.fingerprint))
    url = f"https://{team_domain}.slack.com/" if team_domain else None
    lines = [alert_line(alert, refs.get(alert.fingerprint), url) for alert in ordered[:MAX_ROWS]]
    blocks: list[Block] = [section(f"*{len(alerts)} firing alert{'s' if len(alerts) != 1 else ''}*")]
    blocks.extend(section("\n".join(lines[start : start + 10])) for start in range(0, len(lines), 10))
    if len(alerts) > MAX_ROWS:
        blocks.append(context(f"… and {len(alerts) - MAX_ROWS} more."))
    blocks.append(context("`/tasks ack &lt;alert id&gt;` acknowledges one."))
    return _message(f"{len(alerts)} firing alerts", blocks)


def _silence_target(silence: Silence) -> str:
    spec = silence.matcher.to_spec()
    parts = []
    for key, value in sorted(spec.items()):
        values = value if isinstance(value, list) else [value]
        patterns = (f"`{user_text(str(v), 80, code=True)}`" for v in values)  # literal: `prod-*`
        parts.append(f"{key} {' or '.join(patterns)}")
    return "; ".join(parts) or "every task"


def silence_line(silence: Silence, now: datetime) -> str:
    """One silence: id, what it matches, until when, who made it and why (escaped)."""
    left = format_duration(silence.until - now) if silence.until > now else "ended"
    reason = f" · {_plain(silence.comment, 200)}" if silence.comment else ""
    names = ", ".join(f"`{_plain(name, 100)}`" for name in silence.time_intervals)
    during = f" · only while {names} is open" if names else ""
    return (
        f"🔕 `{_plain(silence.id, 64)}` {_silence_target(silence)}{during} · until "
        f"{slack_date(int(silence.until.timestamp()))} ({left} left) · "
        f"by {_plain(silence.created_by, 40)}{reason}"
    )


def silence_added_reply(silence: Silence, now: datetime) -> SlackMessage:
    text = f"Silenced: {silence_line(silence, now)}"
    return _message(
        text, [section(text), context(f"`/tasks unsilence {_plain(silence.id, 64)}` ends it early.")]
    )


def silences_reply(
    silences: Sequence[Silence], now: datetime, windows: Sequence[WindowState] = ()
) -> SlackMessage:
    """The active silences, then the rule files' maintenance windows (time intervals): open now or when
    next, and which rules and silences use them."""
    active = [silence for silence in silences if silence.is_active(now)]
    blocks: list[Block] = []
    if active:
        lines = [silence_line(silence, now) for silence in sorted(active, key=lambda s: s.until)[:MAX_ROWS]]
        blocks.append(section(f"*{len(active)} active silence{'s' if len(active) != 1 else ''}*"))
        blocks.extend(section("\n".join(lines[start : start + 8])) for start in range(0, len(lines), 8))
        if len(active) > MAX_ROWS:
            blocks.append(context(f"… and {len(active) - MAX_ROWS} more."))
        text = f"{len(active)} active silences"
    else:
        blocks.append(section("No active silences."))
        text = "No active silences."
    if windows:
        opened = sum(1 for window in windows if window.open_now)
        plural = "s" if len(windows) != 1 else ""
        blocks.append(section(f"*{len(windows)} maintenance window{plural}* ({opened} open now)"))
        lines = [window_line(window, now) for window in windows[:MAX_ROWS]]
        blocks.extend(section("\n".join(lines[start : start + 8])) for start in range(0, len(lines), 8))
        if len(windows) > MAX_ROWS:
            blocks.append(context(f"… and {len(windows) - MAX_ROWS} more."))
        text += f"; {opened} of {len(windows)} maintenance windows open now"
    return _message(text, blocks)


def window_line(window: WindowState, now: datetime) -> str:
    """One maintenance window: open now or not, until or from when, and who uses it (escaped)."""
    mark = "🛠️ *open*" if window.open_now else "🕒"
    users = "used by " + ", ".join(window.used_by) if window.used_by else "used by no rule or silence"
    return f"{mark} `{_plain(window.name, 100)}` · {_plain(window.describe(now), 200)} · {_plain(users, 300)}"


def unsilence_reply(silence_id: str, removed: bool) -> SlackMessage:
    if removed:
        text = f"🔔 Silence `{_plain(silence_id, 64)}` removed: its alerts are sent again."
    else:
        text = f"⚠️ There is no runtime silence `{_plain(silence_id, 64)}` (`/tasks silences` lists them)."
    return _message(text, [section(text)])


def ack_reply(alert_id: str, acknowledged: bool, *, by: str) -> SlackMessage:
    if acknowledged:
        text = (
            f"👀 Alert `{_plain(alert_id, 40)}` acknowledged by {_plain(by, 60)}: "
            "no more reminders for this failure."
        )
    else:
        text = f"⚠️ There is no open alert `{_plain(alert_id, 40)}` (`/tasks alerts` lists them)."
    return _message(text, [section(text)])


@dataclass(frozen=True)
class ProjectPoll:
    """One watched project's polling, as `/healthz` judges it (`monitor.metrics.Health`): its last
    successful cycle on this replica (None: none yet) and its last error since."""

    name: str
    last_success: datetime | None
    error: str | None = None


@dataclass(frozen=True)
class StatusView:
    """What `/tasks status` shows; the handler gathers it from the daemon's status and the store."""

    last_poll_at: datetime | None
    last_poll_seconds: float | None
    last_poll_complete: bool | None
    last_poll_tasks: int | None
    api_error: str | None
    slack_error: str | None
    outbox_backlog: int
    failed_notifications: int = 0
    leader: str | None = None
    leader_is_me: bool = False
    projects: tuple[ProjectPoll, ...] = ()


def status_fields(view: StatusView, now: datetime) -> list[str]:
    """The daemon's status as section fields: last poll, Workspace API, Slack, outbox, leader."""
    if view.last_poll_at is None:
        poll = "no poll finished yet"
    else:
        ago = format_duration(max(now - view.last_poll_at, now - now))
        took = f", took {view.last_poll_seconds:.1f}s" if view.last_poll_seconds is not None else ""
        complete = {True: "complete", False: "INCOMPLETE", None: "?"}[view.last_poll_complete]
        tasks = f", {view.last_poll_tasks} failing tasks" if view.last_poll_tasks is not None else ""
        poll = f"{slack_date(int(view.last_poll_at.timestamp()))} ({ago} ago{took}), {complete}{tasks}"
    fields = [
        f"*Last poll*\n{poll}",
        f"*Workspace API*\n{'⚠️ ' + _plain(view.api_error, 400) if view.api_error else '✅ no errors'}",
        f"*Slack*\n{'⚠️ ' + _plain(view.slack_error, 400) if view.slack_error else '✅ no errors'}",
        f"*Outbox backlog*\n{view.outbox_backlog} waiting"
        + (f", {view.failed_notifications} failed for good" if view.failed_notifications else ""),
    ]
    if view.leader:
        fields.append(
            f"*Leader*\n{_plain(view.leader, 200)}" + (" (this replica)" if view.leader_is_me else "")
        )
    return fields


def status_reply(view: StatusView, now: datetime) -> SlackMessage:
    fields = status_fields(view, now)
    blocks: list[Block] = [header("workspace-monitor status"), section(fields=fields)]
    poll = fields[0].removeprefix("*Last poll*\n")
    text = f"Last poll: {poll}; backlog {view.outbox_backlog}"
    return _message(text, blocks)
