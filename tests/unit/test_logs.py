"""Log lines are JSON off a terminal and never carry a secret."""

from __future__ import annotations

import io
import json

import structlog

from monitor.logs import configure_logging, redact_secrets, register_secret


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
