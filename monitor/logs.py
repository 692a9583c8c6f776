"""Logging setup: structlog with dotted event names, JSON lines off a terminal, and secrets redacted.

Redaction has two layers: fields whose *name* says secret (`sk`, `password`, `token`, `authorization`, ...)
are masked whatever they hold, and any *value* registered with `register_secret` is masked wherever it appears
inside a string (a URL, an exception message). Both run on every event before rendering, and on every stdlib
logging record too (slack_sdk, aiohttp, APScheduler log through `logging`, tracebacks included): those are
rendered by the same processors, as the same JSON lines.

Under systemd, when `$JOURNAL_STREAM` names stderr (its `st_dev:st_ino`, systemd.exec(5)), each line starts
with its syslog priority as sd-daemon(3) prefixes it (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug):
journald strips the prefix and files the line at that priority, so `journalctl -p err` shows the errors.

structlog is loaded when something first logs, not at start-up (issue 17: it is ~5% of a one-page `tasks`,
which usually logs nothing). Until then `configure_logging` only remembers what it was asked, and applies it
to structlog as structlog finishes loading, whoever imports it: a module's `get_logger` at the first event
at or above the level, the stdlib handler at its first record, or a library that logs through structlog
directly (stamina, on a retry). So every line is configured, the first as well as the rest
(tests/unit/test_logs.py). structlog is also loaded without rich: structlog imports rich (when installed)
for its console renderer's exception formatter, about half of what importing structlog costs (rich.pretty,
rich.traceback, attrs, pygments), and that formatter never runs here: `format_exc_info` turns every exception
into text before any renderer sees it (below), so rich is hidden while structlog loads, unless something has
loaded rich already.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any, TextIO

__all__ = [
    "JournalPriority",
    "LazyLogger",
    "configure_logging",
    "get_logger",
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


@dataclass(frozen=True)
class _Setup:
    """What `configure_logging` was asked for, to apply to structlog when it loads."""

    level: int
    as_json: bool
    stream: TextIO
    journal: bool


def configure_logging(
    level: str = "info",
    *,
    json: bool | None = None,
    stream: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Route structlog (and stdlib logging) to `stream` (stderr): JSON when not a terminal, unless told; with
    the sd-daemon priority prefix when the stream is the journal. When structlog is not loaded yet, it is
    configured so when it loads, whoever imports it (module docstring)."""
    global _pending
    stream = stream or sys.stderr
    setup = _Setup(
        level=logging.getLevelName(level.upper()),
        as_json=not stream.isatty() if json is None else json,
        stream=stream,
        journal=is_journal(stream, env),
    )
    formatter: logging.Formatter
    if "structlog" in sys.modules:
        _pending = None
        _configure_structlog(setup)
        formatter = _processor_formatter(setup)
    else:
        _pending = setup
        formatter = _FormatterOnFirstRecord(setup)
    # Other libraries' records: the same redaction and rendering (a record's text is its `event`).
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logging.basicConfig(level=max(setup.level, logging.WARNING), handlers=[handler], force=True)


def _renderer(setup: _Setup) -> Any:
    import structlog

    renderer: Any = (
        structlog.processors.JSONRenderer()
        if setup.as_json
        else structlog.dev.ConsoleRenderer(colors=setup.stream.isatty())
    )
    return JournalPriority(renderer) if setup.journal else renderer


def _timestamper() -> Any:
    import structlog

    return structlog.processors.TimeStamper(fmt="iso", utc=True)


def _configure_structlog(setup: _Setup) -> None:
    import structlog

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _timestamper(),
            structlog.processors.format_exc_info,
            redact_secrets,
            _renderer(setup),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(setup.level),
        logger_factory=structlog.PrintLoggerFactory(setup.stream),
        cache_logger_on_first_use=False,
    )


def _processor_formatter(setup: _Setup) -> logging.Formatter:
    import structlog

    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name, _timestamper()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            _renderer(setup),
        ],
    )


class _FormatterOnFirstRecord(logging.Formatter):
    """structlog's ProcessorFormatter, made (and structlog loaded) for the first record that reaches the
    handler: most commands never get one (the root level is warning or above)."""

    def __init__(self, setup: _Setup) -> None:
        super().__init__()
        self._setup = setup
        self._formatter: logging.Formatter | None = None

    def format(self, record: logging.LogRecord) -> str:
        if self._formatter is None:
            self._formatter = _processor_formatter(self._setup)
        return self._formatter.format(record)


#: What configure_logging asked for while structlog was not loaded; applied when it loads.
_pending: _Setup | None = None


def _apply_pending() -> None:
    global _pending
    setup, _pending = _pending, None
    if setup is not None:
        _configure_structlog(setup)


class _StructlogLoader:
    """Wraps structlog's own loader: loads it without rich (above), then applies the pending configuration
    before anyone can log through it."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        hide_rich = "rich" not in sys.modules
        if hide_rich:
            sys.modules["rich"] = None  # type: ignore[assignment]  # `import rich` raises ImportError
        try:
            self.loader.exec_module(module)
        finally:
            if hide_rich:
                del sys.modules["rich"]
        if _FINDER in sys.meta_path:
            sys.meta_path.remove(_FINDER)
        module.__loader__ = self.loader  # as if loaded the ordinary way, for whoever looks
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        _apply_pending()


class _StructlogFinder:
    """First on `sys.meta_path` until structlog is loaded: hands the import to the other finders, with
    structlog's loader wrapped (`_StructlogLoader`, which takes this finder off once structlog is loaded: a
    library asking `importlib.util.find_spec("structlog")` whether it is installed loads nothing)."""

    def find_spec(self, fullname: str, path: Any, target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname != "structlog":
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find: Callable[..., ModuleSpec | None] | None = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _StructlogLoader(spec.loader)  # type: ignore[assignment]
                return spec
        return None


_FINDER = _StructlogFinder()
if "structlog" not in sys.modules:
    sys.meta_path.insert(0, _FINDER)


#: Level names of a structlog logger's methods that can be dropped without structlog, below the level.
_METHOD_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
}


def _dropped(*_args: Any, **_kwargs: Any) -> None:
    return None


class LazyLogger:
    """`structlog.get_logger(name)`, with structlog loaded at the first event that would be shown: below the
    level `configure_logging` set while structlog was not loaded, an event is dropped without it (as
    structlog's filtering logger would drop it); anything else is structlog's own logger."""

    __slots__ = ("_logger", "_name")

    def __init__(self, name: str | None) -> None:
        self._name = name
        self._logger: Any = None

    def __getattr__(self, method: str) -> Any:
        pending = _pending
        if pending is not None and _METHOD_LEVELS.get(method, logging.CRITICAL + 1) < pending.level:
            return _dropped
        if self._logger is None:
            import structlog

            self._logger = structlog.get_logger(self._name)
        return getattr(self._logger, method)


def get_logger(name: str | None = None) -> Any:
    """A module's logger that does not load structlog by itself (`LazyLogger`): for modules on the path of a
    command that usually logs nothing, such as `tasks`."""
    return LazyLogger(name)
