"""Digest messages: several alerts for one channel and group in one cycle, as few messages as Slack allows.

    header     🚨 12 scheduled tasks failed                     (part 1 of n; later parts say "continued")
    context    🔴 3 critical · 🟠 9 warning · FAIL 10 · SKIP 2 · rule ... · project ...
    section    the rules' mentions                               (part 1 only, NEW alerts only)
    sections   the alerts, most severe first, then by task name
    context    alerts 1-150 of 1000 · part 1 of 7

Up to `DETAILED_DIGEST_MAX` alerts, each gets its own section with a few facts and an Acknowledge button
(accessory; action_id `alert_ack`, value the fingerprint). Beyond that, alerts become one line each, many
lines to a section, under a heading per severity. A message is closed when one more line would break a
limit: 50 blocks, 3,000 characters a section, `MAX_MESSAGE_WEIGHT` for the whole message, or
`MAX_ALERTS_PER_MESSAGE` (which bounds the metadata, one small object per alert). A 1,000-alert digest
with ordinary task names takes about seven messages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.slack.actions import ACK_ACTION_ID
from monitor.slack.alert import render_alert
from monitor.slack.blocks import (
    MAX_BLOCKS,
    MAX_FALLBACK_TEXT,
    MAX_MESSAGE_WEIGHT,
    MAX_SECTION_TEXT,
    Block,
    blocks_weight,
    button,
    context,
    header,
    section,
    text_weight,
)
from monitor.slack.facts import Facts, plain_word
from monitor.slack.message import SlackMessage, digest_metadata
from monitor.slack.mrkdwn import SEVERITY_MARKS, safe_cut, slack_len

__all__ = ["DETAILED_DIGEST_MAX", "MAX_ALERTS_PER_MESSAGE", "render_digest"]

DETAILED_DIGEST_MAX = 10
MAX_ALERTS_PER_MESSAGE = 150
_COMPACT_NAME_LIMIT = 60
_FALLBACK_NAMES = 20
# Blocks kept in every message for its header, summary, mention and footer.
_FRAME_BLOCKS = 4
# Sections are filled a little below 3,000 so the ellipsis guard in `section` never has to cut a line.
_SECTION_FILL = MAX_SECTION_TEXT - 100
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
_STATUS_ORDER = {"firing": 0, "resolved": 1, "closed": 2}


def _order(facts: Facts) -> tuple[int, int, tuple[str, str]]:
    return (
        _SEVERITY_ORDER.get(facts.severity_raw, 3),
        _STATUS_ORDER.get(facts.status, 3),
        facts.sort_key(),
    )


def _heading(facts: Facts) -> str:
    return f"*{facts.severity_mark} {facts.severity_word.capitalize()}*"


def _compact_line(facts: Facts) -> str:
    line = f"• *{facts.name(_COMPACT_NAME_LIMIT)}* {facts.type} {facts.last_status}"
    failed = facts.failed_num
    if failed:
        line += f" · {failed} desktops failed"
    if facts.occurrences > 1:
        line += f" · failed {facts.occurrences} times"
    if facts.status == "resolved":
        line += " · ✅ resolved"
    elif facts.status == "closed":
        line += " · closed"
    elif facts.acknowledged_by:
        line += f" · acknowledged by {facts.acknowledged_by}"
    return line


def _detailed_section(facts: Facts) -> Block:
    lines = [f"{facts.severity_mark} *{facts.name()}*"]
    lines.append(
        f"{facts.type} · {facts.status_mark} {facts.last_status} · {facts.schedule} · rule {facts.rule}"
    )
    when = []
    if facts.failed_at:
        when.append(f"last run {facts.failed_at}")
    if facts.next_run:
        when.append(f"next run {facts.next_run}")
    if when:
        lines.append(" · ".join(when))
    counts = facts.run_counts()
    if counts:
        lines.append(counts)
    if facts.history:
        lines.append(f"Last runs: {facts.history}")
    if facts.status != "firing":
        lines.append("✅ resolved" if facts.status == "resolved" else "closed")
    elif facts.acknowledged_by:
        lines.append(f"👀 acknowledged by {facts.acknowledged_by}")
    accessory = None
    if facts.firing and facts.fingerprint and not facts.acknowledged_by:
        accessory = button("Acknowledge", ACK_ACTION_ID, facts.fingerprint)
    return section("\n".join(lines), accessory=accessory)


@dataclass
class _Part:
    """One message being filled."""

    alerts: list[Facts] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    weight: int = 0
    lines: list[str] = field(default_factory=list)  # the open section's lines
    lines_len: int = 0
    severity: str | None = None  # of the last line, to know when a heading is due

    def close_section(self) -> None:
        if self.lines:
            self.blocks.append(section("\n".join(self.lines)))
            self.lines, self.lines_len = [], 0


def _add_line(part: _Part, facts: Facts, budget: int) -> bool:
    """Put the alert's line into the message being filled; False when it is full (an empty one takes any
    line: a single line is always far below every limit)."""
    line = _compact_line(facts)
    text = line if part.severity == facts.severity_raw else f"{_heading(facts)}\n{line}"
    size, weight = slack_len(text) + 1, text_weight(text) + 1
    new_section = part.lines_len + size > _SECTION_FILL
    # Blocks once this line is in: the closed ones, the open section if it must close, the line's section.
    blocks = len(part.blocks) + (1 if part.lines and new_section else 0) + 1
    fits = (
        len(part.alerts) < MAX_ALERTS_PER_MESSAGE
        and part.weight + weight <= budget
        and blocks <= MAX_BLOCKS - _FRAME_BLOCKS
    )
    if part.alerts and not fits:
        return False
    if new_section:
        part.close_section()
    part.lines.append(text)
    part.lines_len += size
    part.weight += weight
    part.alerts.append(facts)
    part.severity = facts.severity_raw
    return True


def _pack_lines(ordered: Sequence[Facts], budget: int) -> list[_Part]:
    parts = [_Part()]
    for facts in ordered:
        if not _add_line(parts[-1], facts, budget):
            parts[-1].close_section()
            parts.append(_Part())
            _add_line(parts[-1], facts, budget)
    parts[-1].close_section()
    return parts


def _pack_blocks(ordered: Sequence[Facts], budget: int) -> list[_Part]:
    parts = [_Part()]
    for facts in ordered:
        block = _detailed_section(facts)
        weight = blocks_weight([block])
        part = parts[-1]
        if part.alerts and (
            part.weight + weight > budget or len(part.blocks) + 1 > MAX_BLOCKS - _FRAME_BLOCKS
        ):
            part = _Part()
            parts.append(part)
        part.blocks.append(block)
        part.weight += weight
        part.alerts.append(facts)
    return parts


def _names(one: str, many: str, items: Iterable[str]) -> str:
    """`rule a` / `rules a, b` / `5 rules`: the distinct (escaped) values of a group."""
    distinct = list(dict.fromkeys(items))
    if len(distinct) == 1:
        return f"{one} {distinct[0]}"
    if len(distinct) <= 3:
        return f"{many} {', '.join(distinct)}"
    return f"{len(distinct)} {many}"


def _summary(all_facts: Sequence[Facts]) -> str:
    """Counts by severity, task status and alert state, and which rules and projects: escaped pieces only."""
    severities = Counter(f.severity_raw if f.severity_raw in SEVERITY_MARKS else "other" for f in all_facts)
    pieces = [
        f"{SEVERITY_MARKS.get(severity, '⚪')} {count} {severity}"
        for severity, count in sorted(severities.items(), key=lambda item: _SEVERITY_ORDER.get(item[0], 3))
    ]
    statuses = Counter(plain_word(f.last_status_raw) or "other" for f in all_facts)
    pieces.extend(f"{status} {count}" for status, count in sorted(statuses.items()))
    settled = Counter(f.status if f.status in _STATUS_ORDER else "other" for f in all_facts if not f.firing)
    pieces.extend(f"{count} {status}" for status, count in sorted(settled.items()))
    pieces.append(_names("rule", "rules", (f.rule for f in all_facts)))
    pieces.append(_names("project", "projects", (f.project for f in all_facts)))
    return " · ".join(pieces)


def _title(all_facts: Sequence[Facts]) -> str:
    count = len(all_facts)
    if all(f.kind == "NEW" for f in all_facts):
        # OVERDUE (monitor.decide.OVERDUE_STATUS): the tasks did not run, none failed.
        if all(f.last_status_raw == "OVERDUE" for f in all_facts):
            return f"⏰ {count} scheduled tasks missed their run"
        return f"🚨 {count} scheduled tasks failed"
    return f"🚨 {count} scheduled task alerts"


def _mentions(all_facts: Sequence[Facts]) -> str:
    return " ".join(dict.fromkeys(f.mention for f in all_facts if f.kind == "NEW" and f.mention))


def _fallback(title: str, facts: Sequence[Facts], mentions: str, where: str) -> str:
    names = ", ".join(f.name(_COMPACT_NAME_LIMIT) for f in facts[:_FALLBACK_NAMES])
    if len(facts) > _FALLBACK_NAMES:
        names += f" and {len(facts) - _FALLBACK_NAMES} more"
    text = f"{title}{where}: {names}"
    if mentions:
        text = f"{mentions} {text}"
    return safe_cut(text, MAX_FALLBACK_TEXT)


def render_digest(payloads: Iterable[Mapping[str, Any]], *, retry: bool = False) -> list[SlackMessage]:
    """One or more messages about several alerts of one channel and group; [] for none, and exactly
    `render_alert` for one (with its retry button when `retry`)."""
    items = list(payloads)
    if not items:
        return []
    if len(items) == 1:
        return [render_alert(items[0], retry=retry)]
    ordered = sorted((Facts(p) for p in items), key=_order)
    title = _title(ordered)
    summary = _summary(ordered)
    mentions = _mentions(ordered)
    # What the frame of the fullest message can weigh; the alerts get the rest.
    widest = " (continued) (part 9999 of 9999) Alerts 99999-99999 of 99999 · part 9999 of 9999"
    frame = f"{title}{summary}{mentions}{widest}"
    budget = MAX_MESSAGE_WEIGHT - text_weight(frame) - 100
    pack = _pack_blocks if len(ordered) <= DETAILED_DIGEST_MAX else _pack_lines
    parts = pack(ordered, budget)
    messages = []
    first_index = 1
    for number, part in enumerate(parts, start=1):
        many = len(parts) > 1
        where = f" (part {number} of {len(parts)})" if many else ""
        blocks: list[Block] = [header(f"{title}{' (continued)' if number > 1 else ''}{where}")]
        blocks.append(context(summary))
        if number == 1 and mentions:
            blocks.append(section(mentions))
        blocks.extend(part.blocks)
        last_index = first_index + len(part.alerts) - 1
        footer = f"Alerts {first_index}-{last_index} of {len(ordered)}"
        if many:
            footer += f" · part {number} of {len(parts)}"
        blocks.append(context(footer))
        text = _fallback(title, part.alerts, mentions if number == 1 else "", where)
        metadata = digest_metadata([f.payload for f in part.alerts], part=number, parts=len(parts))
        messages.append(SlackMessage(text, blocks, metadata))
        first_index = last_index + 1
    return messages
