"""`runbook_url` templates: checked when rules load, rendered with URL-escaped task fields for an alert.

A template is an https URL that may name fields in braces, e.g.
`https://wiki.example.com/runbooks/{task_type}?task={task_id}&name={task_name}`. The scheme and host are
the template's own: a field may appear only after the host (in the path, query or fragment), so a task's
name can never choose where the link goes. Each value is percent-encoded as one path segment or query value
(`quote(value, safe="")`: `/`, `?`, `#`, `&`, spaces and everything else not unreserved are escaped), so a
value cannot add a path, a parameter or a fragment either. An unknown field, an unmatched brace, a URL that
is not https, or one longer than a Block Kit button's `url` (3,000, fields counted as written) is refused
at load, with the rule's `file:line`. Rendering stops as soon as the link grows past that length: its cost
is bounded by the limit, not by the template's fields times the task's values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

__all__ = ["MAX_URL", "RUNBOOK_FIELDS", "check_runbook_template", "render_runbook"]

#: Block Kit's limit for a button's `url`.
MAX_URL = 3000
#: The fields a template may name, and what each is.
RUNBOOK_FIELDS: Mapping[str, str] = {
    "task_id": "the task's id",
    "task_name": "the task's name",
    "task_type": "START, STOP, REBOOT, ..., EXECUTE_SCRIPT",
    "scheduled_type": "FIXED_TIME, DAY, WEEK, MONTH, LIFE_CYCLE",
    "life_cycle_type": "the trigger of a LIFE_CYCLE task",
    "project": "the project id",
    "rule": "the rule's name",
    "alert_id": "the alert's id (fingerprint)",
}
_FIELD = re.compile(r"\{([^{}]*)\}")
# What a URL template may hold besides its fields: printable ASCII without spaces or quotes/angles.
_URL_CHARS = re.compile(r"[!#$%&'()*+,\-./0-9:;=?@A-Z\[\]_a-z~]*")


def check_runbook_template(template: str) -> str:
    """`template` when it is a usable runbook URL template; ValueError saying what is wrong otherwise."""
    unknown = [name for name in _FIELD.findall(template) if name not in RUNBOOK_FIELDS]
    if unknown:
        known = ", ".join("{" + name + "}" for name in RUNBOOK_FIELDS)
        raise ValueError(f"unknown field {{{unknown[0]}}}: use {known}")
    bare = _FIELD.sub("", template)
    if "{" in bare or "}" in bare:
        raise ValueError("an unmatched brace: fields are written {task_id}")
    if not _URL_CHARS.fullmatch(bare):
        bad = next(char for char in bare if not _URL_CHARS.fullmatch(char))
        raise ValueError(f"{bad!r} in a link: a URL has no spaces, quotes or angle brackets")
    first = _FIELD.search(template)
    fixed = template[: first.start()] if first else template
    parts = urlsplit(fixed)
    if parts.scheme != "https":
        raise ValueError(f"must be an https:// link, not {template[:80]!r}")
    host_ended = any(mark in fixed.removeprefix("https://") for mark in "/?#")
    if not parts.hostname or (first is not None and not host_ended):
        # A field before the host ends would let a task's value choose the host.
        raise ValueError("must name its host before any {field} (https://host/...)")
    if len(template) > MAX_URL:
        # Fields counted as written: 100,000 `{task_name}`s (their text left out, 0 characters) were
        # accepted, and each alert's rendering escaped the task's name 100,000 times.
        raise ValueError(f"longer than a Slack button's link may be ({MAX_URL})")
    return template


def render_runbook(template: str, fields: Mapping[str, str | None]) -> str | None:
    """The template with each field's value URL-escaped (a missing value is empty); None when the result
    is longer than a button's link may be (a huge task name), so no button rather than a broken one."""
    pieces: list[str] = []
    size, at = 0, 0
    for found in _FIELD.finditer(template):
        value = fields.get(found.group(1)) or ""
        if len(value) > MAX_URL:  # its escape alone is longer than a link may be
            return None
        piece = template[at : found.start()] + quote(value, safe="", errors="replace")
        size += len(piece)
        if size > MAX_URL:
            return None
        pieces.append(piece)
        at = found.end()
    pieces.append(template[at:])
    url = "".join(pieces)
    return url if len(url) <= MAX_URL else None
