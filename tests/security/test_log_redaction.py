"""Redaction (monitor.logs) masks secrets in every line the product writes, whoever logs it.

What it proves:
- structlog events: secret-named fields at any depth, registered values inside any text, and tracebacks
  (`log.exception`) are masked;
- stdlib logging records (slack_sdk, aiohttp, APScheduler log that way), their `%s` arguments and their
  tracebacks are masked too, and come out as the same JSON lines (before the fix they were plain text,
  unredacted);
- the errors our client raises when credentials are rejected (wrong SK, wrong IAM password, a bad token)
  name no credential, against the real simulator.
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
import structlog

from monitor.config import Credentials, WorkspaceSettings
from monitor.devtools.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_IAM_DOMAIN,
    DEFAULT_IAM_USER,
    DEFAULT_PROJECT_ID,
    Simulator,
)
from monitor.logs import MASK, configure_logging, register_secret
from monitor.workspace.client import TaskFilter
from monitor.workspace.errors import AuthError
from monitor.workspace.factory import build_client
from tests.support.secret_scan import configure_run_logging

SECRET = "registered-secret-value-42"


@pytest.fixture
def lines() -> Any:
    """The JSON lines the product's logging writes, as dicts; the session's logging restored after."""
    stream = io.StringIO()
    configure_logging("info", json=True, stream=stream)
    register_secret(SECRET)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    configure_run_logging()


def test_structlog_fields_values_and_tracebacks_are_masked(lines: Any) -> None:
    log = structlog.get_logger("t")
    log.warning("api.failed", url=f"https://x/?k={SECRET}", nested={"deep": [{"password": "pw-123456"}]})
    try:
        raise RuntimeError(f"rejected {SECRET}")
    except RuntimeError:
        log.exception("cycle.failed")
    first, second = lines()
    assert first["url"] == f"https://x/?k={MASK}"
    assert first["nested"] == {"deep": [{"password": MASK}]}
    assert SECRET not in second["exception"]
    assert f"RuntimeError: rejected {MASK}" in second["exception"]


def test_stdlib_records_are_masked_and_json(lines: Any) -> None:
    logging.getLogger("slack_sdk.web").warning("request to %s failed", f"https://slack/?t={SECRET}")
    try:
        raise ValueError(f"bad {SECRET}")
    except ValueError:
        logging.getLogger("apscheduler.executors").exception("job raised")
    first, second = lines()
    assert first == {
        "event": f"request to https://slack/?t={MASK} failed",
        "level": "warning",
        "logger": "slack_sdk.web",
        "timestamp": first["timestamp"],
    }
    assert second["logger"] == "apscheduler.executors"
    assert second["level"] == "error"
    assert f"ValueError: bad {MASK}" in second["exception"]
    assert SECRET not in json.dumps([first, second])


@pytest.mark.parametrize(
    "credentials",
    [
        Credentials(access_key=DEFAULT_ACCESS_KEY, secret_key="wrong-secret-key-0123456789"),
        Credentials(
            iam_username=DEFAULT_IAM_USER, iam_password="wrong-password-0123", iam_domain=DEFAULT_IAM_DOMAIN
        ),
        Credentials(auth_token="wrong-token-0123456789"),
    ],
    ids=["aksk", "iam-password", "token"],
)
async def test_rejected_credentials_are_not_named_in_the_error(
    sim: Simulator, credentials: Credentials
) -> None:
    settings = WorkspaceSettings(
        endpoint=sim.base_url, iam_endpoint=sim.base_url, project_id=DEFAULT_PROJECT_ID, retry_attempts=1
    )
    async with build_client(settings, credentials) as client:
        with pytest.raises(AuthError) as caught:
            await client.fetch_tasks(TaskFilter())
    shown = f"{caught.value!s} {caught.value!r} {caught.value.hint}"
    for secret in (credentials.secret_key, credentials.iam_password, credentials.auth_token):
        if secret:
            assert secret not in shown
