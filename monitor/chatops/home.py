"""The app's Home tab, as a pure function of plain data -> a `home` view for `views.publish`.

What it shows, top to bottom: the daemon's health (the fields `/tasks status` shows, from the same
`StatusView`, and each project's last successful poll as `/healthz` judges it), the firing alerts grouped by
severity (critical, warning, info, then any other), each with a link to its message and the buttons its
message has (Acknowledge, Silence 1h, and Retry failed desktops with retries on and a redoable task type:
the same action ids, so the same listeners serve them), and the active silences. It is built when someone
opens the tab (`app_home_opened`), never on a timer.

Slack's limits for a view (api.slack.com/reference/surfaces/views): at most 100 blocks, every block as in a
message. An alert takes two blocks (its line, its buttons), so the tab shows the first `ALERTS_SHOWN`
alerts, most severe first and longest open first within a severity, and says how many more each severity
has; `/tasks alerts` lists them all. Silences likewise (`SILENCES_SHOWN`). Everything from users or the
API is escaped (`monitor.slack.mrkdwn`), as in messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.chatops.replies import StatusView, alert_line, silence_line, status_fields
from monitor.decide import AlertState
from monitor.durations import format_duration
from monitor.silences import Silence
from monitor.slack.alert import alert_buttons
from monitor.slack.blocks import Block, context, divider, header, section
from monitor.slack.facts import Facts
from monitor.slack.mrkdwn import SEVERITY_MARKS, slack_date, user_text
from monitor.store.base import MessageRef

__all__ = ["ALERTS_SHOWN", "HOME_CALLBACK_ID", "MAX_VIEW_BLOCKS", "SILENCES_SHOWN", "HomeData", "home_view"]

HOME_CALLBACK_ID = "workspace_monitor_home"
MAX_VIEW_BLOCKS = 100
#: Alerts shown with their buttons (two blocks each); with the rest of the tab this stays under 100.
ALERTS_SHOWN = 30
SILENCES_SHOWN = 20
_SILENCES_A_SECTION = 8
_PROJECTS_SHOWN = 20
_SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class HomeData:
    """Everything the Home tab shows, gathered by the app when the tab is opened."""

    #: Firing alerts, with where their messages are (fingerprint -> ref).
    alerts: Sequence[AlertState]
    refs: Mapping[str, MessageRef | None]
    #: Rule name -> its severity (the rules loaded now); an alert of a rule no longer loaded is "other".
    severities: Mapping[str, str]
    silences: Sequence[Silence]
    status: StatusView
    #: `auth.test`'s url (https://acme.slack.com/), for links to the alert messages.
    workspace_url: str | None = None
    #: The answer to what the viewer just did on the tab (a button), shown on top; our words, escaped.
    notice: str | None = None
    #: Retries are on (`slack.actions: [retry]`): alerts of a redoable task type get Retry, as messages do.
    retry: bool = False
    #: Task id -> task type, where known (the failing tasks' listing).
    task_types: Mapping[str, str] = field(default_factory=dict)


def _severity(alert: AlertState, severities: Mapping[str, str]) -> str:
    severity = severities.get(alert.rule_name)
    return severity if severity in _SEVERITIES else "other"


def _grouped(data: HomeData) -> list[tuple[str, list[AlertState]]]:
    groups: dict[str, list[AlertState]] = {}
    for alert in data.alerts:
        groups.setdefault(_severity(alert, data.severities), []).append(alert)
    order = [*_SEVERITIES, "other"]
    return [
        (severity, sorted(groups[severity], key=lambda a: (a.opened_at, a.fingerprint)))
        for severity in order
        if severity in groups
    ]


def _buttons(alert: AlertState, data: HomeData) -> Block | None:
    """The alert message's own buttons (`monitor.slack.alert.alert_buttons`), from what the store holds:
    Retry only when its task's type is known to be redoable."""
    task_type = data.task_types.get(alert.task_id)
    payload = {
        "fingerprint": alert.fingerprint,
        "alert_status": "firing",
        "acknowledged_by": alert.acknowledged_by,
        "task": {"id": alert.task_id, "name": alert.task_name, "type": task_type},
    }
    return alert_buttons(Facts(payload), retry=data.retry and task_type is not None)


def _projects(view: StatusView, now: datetime) -> str:
    lines = []
    for project in view.projects[:_PROJECTS_SHOWN]:
        name = user_text(project.name, 60)
        if project.last_success is None:
            seen = "no successful poll yet"
        else:
            ago = format_duration(max(now - project.last_success, now - now))
            seen = f"last successful poll {slack_date(int(project.last_success.timestamp()))} ({ago} ago)"
        problem = f" · ⚠️ {user_text(project.error, 300)}" if project.error else ""
        mark = "⚠️" if project.error or project.last_success is None else "✅"
        lines.append(f"{mark} *{name}*: {seen}{problem}")
    if len(view.projects) > _PROJECTS_SHOWN:
        lines.append(f"… and {len(view.projects) - _PROJECTS_SHOWN} more projects")
    return "*Projects*\n" + "\n".join(lines)


def _alert_blocks(data: HomeData) -> list[Block]:
    count = len(data.alerts)
    blocks: list[Block] = [header(f"Firing alerts ({count})")]
    if not data.alerts:
        return [*blocks, section("✅ No firing alerts.")]
    room = ALERTS_SHOWN
    for severity, alerts in _grouped(data):
        mark = SEVERITY_MARKS.get(severity, "⚪")
        blocks.append(section(f"{mark} *{severity}* ({len(alerts)})"))
        shown = alerts[:room]
        room -= len(shown)
        for alert in shown:
            blocks.append(section(alert_line(alert, data.refs.get(alert.fingerprint), data.workspace_url)))
            buttons = _buttons(alert, data)
            if buttons is not None:
                blocks.append(buttons)
        if len(alerts) > len(shown):
            blocks.append(
                context(f"… and {len(alerts) - len(shown)} more {severity} (`/tasks alerts` lists all)")
            )
    return blocks


def _silence_blocks(silences: Sequence[Silence], now: datetime) -> list[Block]:
    active = sorted((s for s in silences if s.is_active(now)), key=lambda s: (s.until, s.id))
    blocks: list[Block] = [header(f"Active silences ({len(active)})")]
    if not active:
        return [*blocks, section("No active silences.")]
    lines = [silence_line(silence, now) for silence in active[:SILENCES_SHOWN]]
    for start in range(0, len(lines), _SILENCES_A_SECTION):
        blocks.append(section("\n".join(lines[start : start + _SILENCES_A_SECTION])))
    if len(active) > SILENCES_SHOWN:
        blocks.append(context(f"… and {len(active) - SILENCES_SHOWN} more (`/tasks silences` lists all)"))
    return blocks


def home_view(data: HomeData, now: datetime) -> dict[str, Any]:
    """The Home tab: a `home` view of at most `MAX_VIEW_BLOCKS` blocks."""
    blocks: list[Block] = []
    if data.notice:
        blocks.append(section(data.notice))
    blocks.append(header("workspace-monitor"))
    blocks.append(
        context(f"As of {slack_date(int(now.timestamp()))}; refreshed each time you open this tab.")
    )
    blocks.append(section(fields=status_fields(data.status, now)))
    if data.status.projects:
        blocks.append(section(_projects(data.status, now)))
    blocks.append(divider())
    blocks.extend(_alert_blocks(data))
    blocks.append(divider())
    blocks.extend(_silence_blocks(data.silences, now))
    blocks.append(
        context("Acknowledging and silencing need an admin or an allowed channel; `/tasks help` for more.")
    )
    return {"type": "home", "callback_id": HOME_CALLBACK_ID, "blocks": blocks[:MAX_VIEW_BLOCKS]}
