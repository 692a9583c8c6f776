"""Plain-text rendering of notifications for the terminal (`once --dry-run`, the demo, the console notifier).

Pure functions of the payload (see `payload.py`). Terminal output is never interpreted as markup (rich's
`Text` keeps "[bold]" literal), but a terminal does obey control characters: an escape sequence in a task name
could clear the screen, retitle the window or forge lines. `terminal_safe` makes such characters visible as
U+FFFD; whatever prints user data to a terminal passes it through there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from monitor.workspace.models import format_api_time

__all__ = ["HISTORY_MARKS", "history_strip", "meta_text", "render_text", "summary_line", "terminal_safe"]

#: C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI), and the bidirectional
#: overrides and isolates that make a terminal show text in another order than it is.
_TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

HISTORY_MARKS = {"SUCCESS": "✅", "FAIL": "❌", "SKIP": "⏭", "OVERDUE": "⏰"}
_KIND_TITLE = {
    "NEW": "new alert",
    "REPEAT": "reminder",
    "RECURRED": "failed again",
    "CHANGED": "status changed",
    "RESOLVED": "resolved",
    "CLOSED": "closed",
}


def history_strip(history: Sequence[str]) -> str:
    """Oldest execution first, as people read a timeline (the payload keeps newest first)."""
    return "".join(HISTORY_MARKS.get(status, "?") for status in reversed(history))


def meta_text(payload: Mapping[str, Any]) -> str:
    """A meta-alert (`monitor.selfwatch`): the monitor itself failing, or recovered."""
    what = payload.get("title") or payload.get("check") or "?"
    if payload.get("alert_status") == "resolved":
        return f"[ops] workspace-monitor recovered: {what} works again (failing since {payload.get('since')})"
    line = f"[ops] workspace-monitor cannot work: {what} failing"
    if payload.get("error"):
        line += f"\n  error: {payload['error']}"
    return line


def summary_line(payload: Mapping[str, Any]) -> str:
    if payload.get("meta") is True:
        return meta_text(payload).splitlines()[0]
    task = payload["task"]
    name = task.get("name") or task["id"]
    title = _KIND_TITLE.get(payload["kind"], payload["kind"].lower())
    state = f"{task.get('type') or '?'}, {task.get('last_status') or '?'}"
    return f"[{payload['severity']}] {title}: {name} ({state}) - rule {payload['rule']}"


def _latest_start(latest: Mapping[str, Any], task: Mapping[str, Any]) -> str:
    zone = latest.get("time_zone") or task.get("time_zone")
    return format_api_time(latest.get("start_time"), zone) or "?"


def render_text(payload: Mapping[str, Any]) -> str:
    """A few lines about one notification."""
    if payload.get("meta") is True:
        return meta_text(payload)
    task = payload["task"]
    lines = [summary_line(payload)]
    schedule = task.get("scheduled_type") or "?"
    if task.get("life_cycle_type"):
        schedule += f" ({task['life_cycle_type']})"
    details = [f"schedule {schedule}", f"project {payload['project']}"]
    if task.get("next_execution_time"):
        details.append(f"next run {format_api_time(task['next_execution_time'], task.get('time_zone'))}")
    if payload.get("occurrences", 1) > 1:
        details.append(f"failed {payload['occurrences']} times")
    lines.append("  " + ", ".join(details))
    latest = payload.get("latest_execution")
    if latest:
        lines.append(
            f"  latest run {_latest_start(latest, task)}: "
            f"{latest.get('failed_num') or 0} desktops failed, "
            f"{latest.get('success_num') or 0} succeeded, {latest.get('skip_num') or 0} skipped"
        )
    for desktop in payload.get("failed_desktops", []):
        lines.append(
            f"    {desktop.get('desktop_name') or '?'}: {desktop.get('exec_status') or '?'} "
            f"{desktop.get('result_code') or ''} {desktop.get('fail_reason') or ''}".rstrip()
        )
    if payload.get("history"):
        lines.append(f"  history {history_strip(payload['history'])}")
    if payload.get("mention") and payload["kind"] == "NEW":
        lines.append(f"  mention {payload['mention']}")
    lines.append(f"  why: {payload['reason']}")
    return "\n".join(lines)


def terminal_safe(text: str) -> str:
    """`text` with every character a terminal would act on (escape sequences, bells, bidi overrides)
    replaced by U+FFFD; tabs and line breaks stay."""
    return _TERMINAL_CONTROL.sub("\ufffd", text)
