"""Log lines are JSON off a terminal and never carry a secret."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import TextIO

import pytest
import structlog

from monitor.logs import configure_logging, is_journal, redact_secrets, register_secret


def test_secret_named_fields_are_masked_whatever_they_hold() -> None:
    event = {"event": "x", "sk": "abc", "iam_password": "pw", "headers": {"X-Auth-Token": "tok", "Host": "h"}}
    assert redact_secrets(None, "info", event) == {
        "event": "x",
        "sk": "***",
        "iam_password": "***",
        "headers": {"X-Auth-Token": "***", "Host": "h"},
    }


def test_registered_secret_values_are_masked_inside_other_text() -> None:
    register_secret("s3cr3t-value-123")
    event = {
        "event": "api.failed",
        "error": "GET https://x/?q=s3cr3t-value-123 refused",
        "items": ["s3cr3t-value-123"],
    }
    assert redact_secrets(None, "info", event) == {
        "event": "api.failed",
        "error": "GET https://x/?q=*** refused",
        "items": ["***"],
    }


def test_ordinary_fields_pass_untouched() -> None:
    event = {"event": "poll.page_fetched", "offset": 50, "count": 50, "task_name": "token ring reboot"}
    assert redact_secrets(None, "info", dict(event)) == event


def test_json_lines_when_not_on_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging("info", stream=stream)
    structlog.get_logger("t").info("poll.cycle_done", tasks=3, secret_key="never-shown")
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["event"] == "poll.cycle_done"
    assert line["tasks"] == 3
    assert line["secret_key"] == "***"
    assert line["level"] == "info"


@pytest.fixture
def pipe() -> Iterator[tuple[TextIO, int]]:
    """A pipe's write end as a text stream, and its read end (the journal's is a socket: same fstat)."""
    read_fd, write_fd = os.pipe()
    with os.fdopen(write_fd, "w") as stream:
        yield stream, read_fd
    configure_logging("info")  # not to the closed pipe, for the tests after
    os.close(read_fd)


def journal_of(stream: TextIO) -> dict[str, str]:
    stat = os.fstat(stream.fileno())
    return {"JOURNAL_STREAM": f"{stat.st_dev}:{stat.st_ino}"}


def lines_of(stream: TextIO, read_fd: int) -> list[str]:
    stream.flush()
    return os.read(read_fd, 1 << 16).decode().splitlines()


@pytest.mark.parametrize(
    ("method", "prefix"),
    [("error", "<3>"), ("exception", "<3>"), ("warning", "<4>"), ("info", "<6>"), ("debug", "<7>")],
)
def test_on_the_journal_each_line_starts_with_its_syslog_priority(
    pipe: tuple[TextIO, int], method: str, prefix: str
) -> None:
    """sd-daemon(3) prefixes: journald files the line at that priority (`journalctl -p err` shows errors)."""
    stream, read_fd = pipe
    configure_logging("debug", json=True, stream=stream, env=journal_of(stream))
    getattr(structlog.get_logger("t"), method)("poll.cycle_failed", project="p")
    [line] = lines_of(stream, read_fd)
    assert line.startswith(prefix + "{")
    assert json.loads(line.removeprefix(prefix))["event"] == "poll.cycle_failed"


def test_other_libraries_records_carry_their_priority_too(pipe: tuple[TextIO, int]) -> None:
    stream, read_fd = pipe
    configure_logging("info", json=True, stream=stream, env=journal_of(stream))
    logging.getLogger("aiohttp.client").warning("connection reset")
    [line] = lines_of(stream, read_fd)
    assert line.startswith("<4>{")
    assert json.loads(line[3:])["event"] == "connection reset"


@pytest.mark.parametrize("named", ["", "0:0", "garbage"])
def test_without_the_journal_lines_are_plain_json(pipe: tuple[TextIO, int], named: str) -> None:
    """JOURNAL_STREAM unset, or naming another stream (a parent's journal, say): no prefix."""
    stream, read_fd = pipe
    configure_logging("info", json=True, stream=stream, env={"JOURNAL_STREAM": named} if named else {})
    structlog.get_logger("t").error("poll.cycle_failed")
    [line] = lines_of(stream, read_fd)
    assert json.loads(line)["event"] == "poll.cycle_failed"


def test_a_stream_without_a_file_is_never_the_journal() -> None:
    assert not is_journal(io.StringIO(), {"JOURNAL_STREAM": "0:0"})


#: Logs an exception through the console renderer (what a terminal gets) and prints what it wrote, without
#: the timestamp; `rich` is imported first when asked, as when something had loaded it before structlog.
CONSOLE_EXCEPTION = """
import io, re, sys
if sys.argv[1] == "rich first":
    import rich
from monitor.logs import configure_logging, register_secret
import structlog
register_secret("s3cr3t-value-123")
stream = io.StringIO()
configure_logging("info", json=False, stream=stream)
try:
    raise RuntimeError("refused for s3cr3t-value-123")
except RuntimeError:
    structlog.get_logger("t").exception("api.failed", endpoint="/tasks")
print(re.sub(r"\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z", "TIME", stream.getvalue()))
print("rich loaded" if "rich" in sys.modules else "rich not loaded")
"""


def test_on_a_terminal_an_exception_is_its_plain_traceback_whether_rich_is_loaded_or_not() -> None:
    """structlog loads without rich (monitor.logs hides it: half of structlog's import time), which changes
    nothing shown: `format_exc_info` makes every exception text before the console renderer sees it."""
    outputs = {
        order: subprocess.run(
            [sys.executable, "-c", CONSOLE_EXCEPTION, order], capture_output=True, text=True, check=True
        ).stdout
        for order in ("rich first", "monitor.logs first")
    }
    assert outputs["rich first"].endswith("rich loaded\n")
    assert outputs["monitor.logs first"].endswith("rich not loaded\n")
    shown = outputs["monitor.logs first"].removesuffix("rich not loaded\n")
    assert shown == outputs["rich first"].removesuffix("rich loaded\n")
    assert "api.failed" in shown
    assert "endpoint=/tasks" in shown
    assert "Traceback (most recent call last)" in shown
    assert "RuntimeError: refused for ***" in shown
    assert "s3cr3t" not in shown


#: Logs through every path a process has (a module's logger below and at the level, a stdlib record, and
#: stamina's retry hook, which logs through structlog directly) and prints, on stdout, the lines the log
#: stream got (timestamps masked) and when structlog was loaded. "structlog first": loaded before
#: configure_logging, as in a daemon; "lazy": loaded by whatever logs first, as in `tasks`; "lazy, asked
#: first": the same after `importlib.util.find_spec("structlog")`, which finds it without loading it.
EVERY_PATH = """
import io, re, sys
if sys.argv[1] == "structlog first":
    import structlog
from monitor.logs import configure_logging, get_logger, register_secret
import logging, stamina
if sys.argv[1] == "lazy, asked first":  # as a library checking whether structlog is installed
    import importlib.util
    assert importlib.util.find_spec("structlog") is not None and "structlog" not in sys.modules
register_secret("s3cr3t-value-123")
stream = io.StringIO()
configure_logging("warning", json=True, stream=stream)
log = get_logger("monitor.x")
log.info("api.page_fetched", offset=0)
log.debug("api.request", endpoint="/tasks")
loaded = ["after info and debug: " + str("structlog" in sys.modules)]
for attempt in stamina.retry_context(on=ValueError, attempts=2, wait_initial=0, wait_max=0, wait_jitter=0):
    with attempt:
        if attempt.num == 1:
            raise ValueError("refused for s3cr3t-value-123")
loaded.append("after a retry: " + str("structlog" in sys.modules))
logging.getLogger("aiohttp.client").warning("connection reset by s3cr3t-value-123")
log.warning("api.retry", endpoint="/tasks", secret_key="never-shown")
log.error("api.failed", error="GET ?q=s3cr3t-value-123")
print(re.sub(r'"timestamp": "[^"]+"', '"timestamp": "T"', stream.getvalue()), end="")
print("\\n".join(loaded))
"""


def test_lines_are_configured_whoever_loads_structlog_first() -> None:
    """monitor.logs loads structlog at the first event shown, and configures it as it loads: stamina's retry
    warning (the first line, through structlog directly), a stdlib record and a module's events come out
    exactly as when structlog was loaded before configure_logging; events below the level load nothing."""
    outputs = {
        order: subprocess.run(
            [sys.executable, "-c", EVERY_PATH, order], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        for order in ("structlog first", "lazy", "lazy, asked first")
    }
    assert outputs["lazy"][-2:] == ["after info and debug: False", "after a retry: True"]
    assert outputs["structlog first"][:-2] == outputs["lazy"][:-2] == outputs["lazy, asked first"][:-2]
    lines = [json.loads(line) for line in outputs["lazy"][:-2]]
    assert [line["event"] for line in lines] == [
        "stamina.retry_scheduled",
        "connection reset by ***",
        "api.retry",
        "api.failed",
    ]
    assert [line["level"] for line in lines] == ["warning", "warning", "warning", "error"]
    assert lines[2]["secret_key"] == "***"
    assert "s3cr3t" not in "".join(outputs["lazy"])
