"""The facts of one alert payload as ready-to-use mrkdwn pieces: every user value escaped and clipped here.

Renderers (`alert`, `digest`) only arrange these pieces; none of them touches a raw payload
value, which keeps "everything the user controls is escaped" in one small file. Payloads are read
defensively (`.get`, any type): a malformed payload renders as "?" rather than failing a delivery.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from monitor.notify.lookups import MAX_SCRIPT_OUTPUTS
from monitor.notify.payload import MAX_FAILED_DESKTOPS
from monitor.slack.mrkdwn import (
    api_time_epoch,
    code_tail,
    history_strip,
    iso_epoch,
    mention_text,
    severity_mark,
    slack_date,
    status_mark,
    user_text,
)
from monitor.workspace.models import format_api_time

__all__ = [
    "Facts",
    "plain_word",
]

# Limits for single user values, chosen so that a whole message stays far below Block Kit's limits.
NAME_LIMIT = 150
SHORT_LIMIT = 40  # type, status, schedule, codes, time zones
PROJECT_LIMIT = 80
RULE_LIMIT = 100
DESCRIPTION_LIMIT = 300
REASON_LIMIT = 500
DESKTOP_LIMIT = 80
FAIL_REASON_LIMIT = 300
WHO_LIMIT = 80
#: A script output's tail as shown in a message (escaped); the full output is a button away.
OUTPUT_LIMIT = 900
_WORD = re.compile(r"[A-Z][A-Z_]{0,19}")
_FINGERPRINT = re.compile(r"[A-Za-z0-9_-]{1,128}")


def plain_word(value: object) -> str | None:
    """An API enum value (FAIL, REBOOT) fit for a plain_text header: nothing there to escape or hide."""
    return value if isinstance(value, str) and _WORD.fullmatch(value) else None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


class Facts:
    """Escaped views of one payload. Cheap to build; a digest builds one per alert."""

    def __init__(self, payload: Mapping[str, Any]) -> None:
        self.payload = payload
        self.task = _mapping(payload.get("task"))
        self.latest = _mapping(payload.get("latest_execution"))
        self.kind = str(payload.get("kind") or "")
        self.status = str(payload.get("alert_status") or "firing")
        self.severity_raw = str(payload.get("severity") or "")

    # Identity.
    @property
    def fingerprint(self) -> str:
        """Ours (16 hex digits); anything else is treated as missing, so no button carries junk."""
        value = self.payload.get("fingerprint")
        return value if isinstance(value, str) and _FINGERPRINT.fullmatch(value) else ""

    @property
    def episode(self) -> int:
        return _count(self.payload.get("episode")) or 0

    @property
    def occurrences(self) -> int:
        return _count(self.payload.get("occurrences")) or 1

    @property
    def firing(self) -> bool:
        return self.status == "firing"

    def name(self, limit: int = NAME_LIMIT) -> str:
        name = self.task.get("name") or self.task.get("id")
        return user_text(name, limit) or "unnamed task"

    def sort_key(self) -> tuple[str, str]:
        return (str(self.task.get("name") or self.task.get("id") or ""), self.fingerprint)

    # Small escaped values.
    @property
    def severity(self) -> str:
        return user_text(self.severity_raw, SHORT_LIMIT) or "warning"

    @property
    def severity_mark(self) -> str:
        return severity_mark(self.severity_raw)

    @property
    def severity_word(self) -> str:
        """For plain_text headers: our words only."""
        return self.severity_raw.upper() if self.severity_raw in ("critical", "warning", "info") else "ALERT"

    @property
    def type(self) -> str:
        return user_text(self.task.get("type"), SHORT_LIMIT) or "?"

    @property
    def last_status_raw(self) -> object:
        return self.task.get("last_status")

    @property
    def last_status(self) -> str:
        return user_text(self.last_status_raw, SHORT_LIMIT) or "?"

    @property
    def status_mark(self) -> str:
        return status_mark(self.last_status_raw)

    @property
    def schedule(self) -> str:
        schedule = user_text(self.task.get("scheduled_type"), SHORT_LIMIT) or "?"
        life_cycle = user_text(self.task.get("life_cycle_type"), SHORT_LIMIT)
        return f"{schedule} ({life_cycle})" if life_cycle else schedule

    @property
    def project(self) -> str:
        project = user_text(self.payload.get("project"), PROJECT_LIMIT) or "?"
        # The payload has no region yet; shown when a later payload version adds one.
        region = user_text(self.payload.get("region"), SHORT_LIMIT)
        return f"{project} · {region}" if region else project

    @property
    def rule(self) -> str:
        return user_text(self.payload.get("rule"), RULE_LIMIT) or "?"

    @property
    def description(self) -> str:
        return user_text(self.task.get("description"), DESCRIPTION_LIMIT)

    @property
    def reason(self) -> str:
        return user_text(self.payload.get("reason"), REASON_LIMIT)

    @property
    def acknowledged_by(self) -> str:
        return user_text(self.payload.get("acknowledged_by"), WHO_LIMIT)

    @property
    def mention(self) -> str:
        return mention_text(self.payload.get("mention"))

    @property
    def history(self) -> str:
        history = self.payload.get("history")
        if not isinstance(history, list) or not history:
            return ""
        return history_strip(history[:20])

    @property
    def history_count(self) -> int:
        history = self.payload.get("history")
        return min(len(history), 20) if isinstance(history, list) else 0

    # Times.
    def when(self, text: object, zone: object) -> str:
        """An API time in the task's zone, named (`format_api_time`: one form whatever form the API sent),
        plus the reader's local time when the instant is known (a `<!date>` with a UTC fallback)."""
        if not isinstance(text, str) or not text.strip():
            return user_text(text, SHORT_LIMIT) if text else ""
        zone_name = zone if isinstance(zone, str) else None
        shown = user_text(format_api_time(text, zone_name), 2 * SHORT_LIMIT)
        epoch = api_time_epoch(text, zone_name)
        return f"{shown} ({slack_date(epoch)})" if epoch is not None else shown

    def moment(self, key: str) -> str:
        """One of our ISO UTC times (opened_at, decided_at) in the reader's time zone."""
        epoch = iso_epoch(self.payload.get(key))
        return (
            slack_date(epoch) if epoch is not None else (user_text(self.payload.get(key), SHORT_LIMIT) or "?")
        )

    @property
    def next_run(self) -> str:
        return self.when(self.task.get("next_execution_time"), self.task.get("time_zone"))

    @property
    def failed_at(self) -> str:
        """When the latest execution started, if the records API answered."""
        zone = self.latest.get("time_zone") or self.task.get("time_zone")
        return self.when(self.latest.get("start_time"), zone)

    # Desktops.
    @property
    def failed_num(self) -> int | None:
        count = _count(self.latest.get("failed_num"))
        if count is None and self.failed_desktops:
            return len(self.failed_desktops)
        return count

    @property
    def failed_desktops(self) -> Sequence[Mapping[str, Any]]:
        desktops = self.payload.get("failed_desktops")
        if not isinstance(desktops, list):
            return []
        return [desktop for desktop in desktops if isinstance(desktop, Mapping)][:MAX_FAILED_DESKTOPS]

    def run_counts(self) -> str:
        """`❌ 12 failed · ✅ 88 succeeded · ⏭️ 0 skipped` of the latest execution, or ""."""
        parts = []
        for key, mark, word in (
            ("failed_num", "❌", "failed"),
            ("success_num", "✅", "succeeded"),
            ("skip_num", "⏭️", "skipped"),
        ):
            count = _count(self.latest.get(key))
            if count is not None:
                parts.append(f"{mark} {count} {word}")
        if not parts and self.failed_desktops:
            parts.append(f"❌ {len(self.failed_desktops)} failed")
        return " · ".join(parts)

    def desktop_lines(self) -> list[str]:
        lines = []
        for desktop in self.failed_desktops:
            name = user_text(desktop.get("desktop_name"), DESKTOP_LIMIT) or "?"
            status = user_text(desktop.get("exec_status"), SHORT_LIMIT)
            code = user_text(desktop.get("result_code"), SHORT_LIMIT)
            reason = user_text(desktop.get("fail_reason"), FAIL_REASON_LIMIT)
            line = f"• *{name}*"
            if status:
                line += f" {status}"
            if code:
                line += f" ({code})"
            if reason:
                line += f": {reason}"
            lines.append(line)
        failed = self.failed_num
        if failed is not None and failed > len(lines) and lines:
            lines.append(f"…and {failed - len(lines)} more")
        return lines

    # Script output (EXECUTE_SCRIPT tasks), the runbook, broadcast recoveries.
    def script_sections(self, output_limit: int = OUTPUT_LIMIT) -> list[tuple[str, object]]:
        """(mrkdwn, script record id) for each failed desktop's script record the payload holds: the
        desktop, its result code and reason, and the tail of its output (at most `output_limit`; none
        for 0) as a code block."""
        outputs = self.payload.get("script_outputs")
        if not isinstance(outputs, list):
            return []
        sections = []
        for output in [item for item in outputs if isinstance(item, Mapping)][:MAX_SCRIPT_OUTPUTS]:
            name = user_text(output.get("desktop_name"), DESKTOP_LIMIT) or "?"
            code = user_text(output.get("result_code"), SHORT_LIMIT)
            reason = user_text(output.get("reason"), FAIL_REASON_LIMIT)
            text = f"📜 *{name}*"
            if code:
                text += f" (exit {code})"
            if reason:
                text += f": {reason}"
            tail = code_tail(output.get("output_tail"), output_limit) if output_limit > 0 else ""
            if tail.strip():
                text += f"\n```{tail}```"
            sections.append((text, output.get("record_id")))
        return sections

    @property
    def runbook_url(self) -> object:
        return self.payload.get("runbook_url")

    @property
    def broadcast(self) -> bool:
        return self.payload.get("broadcast") is True
