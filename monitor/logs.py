"""Logging setup: structlog with dotted event names, JSON lines off a terminal, and secrets redacted.

Redaction has two layers: fields whose *name* says secret (`sk`, `password`, `token`, `authorization`, ...)
are masked whatever they hold, and any *value* registered with `register_secret` is masked wherever it appears
inside a string (a URL, an exception message). Both run on every event before rendering, and on every stdlib
logging record too (slack_sdk, aiohttp, APScheduler log through `logging`, tracebacks included): those are
rendered by the same processors, as the same JSON lines.

Under systemd, when `$JOURNAL_STREAM` names stderr (its `st_dev:st_ino`, systemd.exec(5)), each line starts
with its syslog priority as sd-daemon(3) prefixes it (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug):
journald strips the prefix and files the line at that priority, so `journalctl -p err` shows the errors.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, TextIO

# structlog imports rich (when installed) for its console renderer's exception formatter, about half of what
# importing structlog costs (rich.pretty, rich.traceback, attrs, pygments). That formatter never runs here:
# `format_exc_info` turns every exception into text before any renderer sees it (below), so rich is hidden
# while structlog loads, unless something has loaded rich already (tests/unit/test_logs.py holds the output).
_HIDE_RICH = "rich" not in sys.modules and "structlog" not in sys.modules
if _HIDE_RICH:
    sys.modules["rich"] = None  # type: ignore[assignment]  # `import rich` raises ImportError
try:
    import structlog
finally:
    if _HIDE_RICH:
        del sys.modules["rich"]

__all__ = [
    "JournalPriority",
    "configure_logging",
    "is_journal",
    "redact_secrets",
    "register_secret",
    "registered_secrets",
]

MASK = "***"
_SECRET_NAME = re.compile(
    r"(^|_)(sk|secret|secret_key|password|passwd|token|auth_token|security_token|authorization|"
    r"signing_secret|api_key|x-auth-token|x-security-token|x-subject-token)$",
    re.IGNORECASE,
)
_secret_values: set[str] = set()


def register_secret(*values: str | None) -> None:
    """Mask these exact values in every later log line (short values are ignored: too many false hits)."""
    _secret_values.update(v for v in values if v and len(v) >= 6)


def registered_secrets() -> frozenset[str]:
    return frozenset(_secret_values)


def _scrub(value: Any, secrets: Iterable[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {k: MASK if _SECRET_NAME.search(str(k)) else _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v, secrets) for v in value)
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secret-named fields and registered secret values."""
    secrets = sorted(_secret_values, key=len, reverse=True)
    for key, value in list(event_dict.items()):
        if _SECRET_NAME.search(key):
            event_dict[key] = MASK
        else:
            event_dict[key] = _scrub(value, secrets)
    return event_dict


#: sd-daemon(3) priorities (syslog's): what journald files a line under.
SYSLOG_PRIORITY = {"critical": 2, "exception": 3, "error": 3, "warning": 4, "warn": 4, "info": 6, "debug": 7}


def is_journal(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    """Whether `stream` is the journal: systemd names its `st_dev:st_ino` in `$JOURNAL_STREAM`."""
    named = (os.environ if env is None else env).get("JOURNAL_STREAM", "")
    try:
        stat = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):  # io.StringIO, a closed stream
        return False
    return named == f"{stat.st_dev}:{stat.st_ino}"


class JournalPriority:
    """The last processor: renders the event, then puts its priority in front (`<3>{"event": ...}`)."""

    def __init__(self, renderer: Any) -> None:
        self.renderer = renderer

    def __call__(self, logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> str:
        level = str(event_dict.get("level", method)).lower()
        rendered = self.renderer(logger, method, event_dict)
        return f"<{SYSLOG_PRIORITY.get(level, 6)}>{rendered}"


def configure_logging(
    level: str = "info",
    *,
    json: bool | None = None,
    stream: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Route structlog (and stdlib logging) to `stream` (stderr): JSON when not a terminal, unless told; with
    the sd-daemon priority prefix when the stream is the journal."""
    stream = stream or sys.stderr
    as_json = not stream.isatty() if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    if is_journal(stream, env):
        renderer = JournalPriority(renderer)
    numeric = logging.getLevelName(level.upper())
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            timestamper,
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    # Other libraries' records: the same redaction and rendering (a record's text is its `event`).
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name, timestamper],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_secrets,
                renderer,
            ],
        )
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), handlers=[handler], force=True)
