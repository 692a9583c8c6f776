"""`check --online` asks Slack what the bot token may do: without chat:write nothing can be posted (a
problem); without the history scopes only the crash reconcile degrades (said, and check still passes)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.devtools.sim import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from monitor.devtools.slackstub import DEFAULT_TOKEN, SlackStubOptions, SlackStubThread
from tests.support.daemon import write_config


@pytest.fixture
def checked(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[subprocess.CompletedProcess[str]]:
    with SlackStubThread(SlackStubOptions(scopes=frozenset(request.param))) as stub:
        extra = f"slack:\n  mode: none\n  api_url: {stub.api_url}\n"
        write_config(tmp_path, "http://127.0.0.1:9", extra=extra)
        env = {
            "PATH": os.environ["PATH"],
            "HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY,
            "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY,
            "SLACK_BOT_TOKEN": DEFAULT_TOKEN,
        }
        yield subprocess.run(
            [sys.executable, "-m", "monitor.cli", "check", "--online"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip


@pytest.mark.parametrize("checked", [{"chat:write", "commands"}], indirect=True)
def test_without_the_history_scopes_check_passes_and_says_what_degrades(
    checked: subprocess.CompletedProcess[str],
) -> None:
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "lacks channels:history, groups:history, channels:read, groups:read" in checked.stdout
    assert "may be posted twice" in checked.stdout
    assert checked.stdout.splitlines()[-1].endswith("; 1 warning")
    assert checked.stdout.splitlines()[-1].startswith("OK: ")


@pytest.mark.parametrize("checked", [{"commands", "channels:history"}], indirect=True)
def test_without_chat_write_check_fails(checked: subprocess.CompletedProcess[str]) -> None:
    assert checked.returncode == 1
    assert "lacks chat:write" in checked.stdout
    # The offline checks passed, and the verdict is still the one last line: never "OK" and then a failure.
    assert not any(line.startswith("OK") for line in checked.stdout.splitlines())
    assert checked.stdout.splitlines()[-1] == "1 problem found"


@pytest.mark.parametrize(
    "checked",
    [{"commands", "chat:write", "channels:history", "groups:history", "channels:read", "groups:read"}],
    indirect=True,
)
def test_with_the_manifests_scopes_check_says_nothing_more(checked: subprocess.CompletedProcess[str]) -> None:
    assert checked.returncode == 0
    assert "slack:" not in checked.stdout
