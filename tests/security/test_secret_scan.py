"""The secret scan (tests/support/secret_scan.py) finds what it must, so a green run means something.

What it proves:
- `find_secrets` names every known secret and secret-shaped token, and nothing in ordinary text;
- in a real pytest run with our conftest, a test that logs a secret in a field, lets a subprocess print one on
  stderr, builds one of our errors with one in its message, or posts one to Slack FAILS, while a test that
  logs a secret under a secret-named field (redacted by monitor.logs) passes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.devtools.sim import DEFAULT_IAM_PASSWORD, DEFAULT_SECRET_KEY, DEFAULT_SECURITY_TOKEN
from monitor.devtools.slackstub import DEFAULT_TOKEN
from tests.support.secret_scan import find_secrets

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (f"error: GET /x?sk={DEFAULT_SECRET_KEY}", ["the simulator's secret key (SK)"]),
        (f'{{"password": "{DEFAULT_IAM_PASSWORD}"}}', ["the simulator's IAM password"]),
        (f"X-Security-Token: {DEFAULT_SECURITY_TOKEN}", ["the simulator's security token"]),
        (f"Bearer {DEFAULT_TOKEN}", ["a Slack token (xoxb-/xoxp-/xapp-)", "the Slack stub's bot token"]),
        ("xapp-1-A0123-4567890123-abcdef", ["a Slack token (xoxb-/xoxp-/xapp-)"]),
        ("X-Auth-Token: MIIsimAbCdEfGhIjKlMnOpQrStUv_-12", ["an IAM token issued by the simulator"]),
        ("poll.page_fetched offset=50 count=50 sk=*** token ring xoxb-", []),
        ("", []),
    ],
)
def test_find_secrets(text: str, found: list[str]) -> None:
    assert find_secrets(text) == found


LEAKY_TESTS = f'''
import subprocess, sys
import structlog
from monitor.workspace.errors import AuthError

log = structlog.get_logger("leaky")

def test_logs_a_secret_in_an_ordinary_field():
    log.warning("api.failed", url="https://x/?k={DEFAULT_SECRET_KEY}")

def test_logs_a_secret_under_a_secret_name():
    log.warning("auth.configured", secret_key="{DEFAULT_SECRET_KEY}")

def test_subprocess_prints_a_secret_on_stderr():
    subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('{DEFAULT_TOKEN}')"],
                   capture_output=True, check=True)

def test_error_message_carries_a_secret():
    AuthError("rejected password {DEFAULT_IAM_PASSWORD}")

def test_posts_a_secret_to_slack():
    from monitor.devtools.slackstub.state import StubState
    StubState().post_message("#general", text="token {DEFAULT_SECURITY_TOKEN}")
'''


def test_the_scan_fails_leaking_tests_in_a_real_run(tmp_path: Path) -> None:
    module = tmp_path / "test_leaky.py"
    module.write_text(LEAKY_TESTS)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q", "-rA",
         "--rootdir", str(tmp_path), "-c", "/dev/null", str(module)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    outcomes = {
        line.split("::")[1].split(" ")[0]: line.split(" ")[0]
        for line in result.stdout.splitlines()
        if line.startswith(("PASSED", "FAILED")) and "::" in line
    }
    assert outcomes == {
        "test_logs_a_secret_in_an_ordinary_field": "FAILED",
        "test_logs_a_secret_under_a_secret_name": "PASSED",
        "test_subprocess_prints_a_secret_on_stderr": "FAILED",
        "test_error_message_carries_a_secret": "FAILED",
        "test_posts_a_secret_to_slack": "FAILED",
    }, result.stdout
    assert "the simulator's secret key (SK) in Captured stderr call" in result.stdout
    assert "secrets leaked" in result.stdout
