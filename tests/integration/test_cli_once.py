"""`check` and `once` as an operator runs them: real processes, a real simulator, a real state file.

Includes the crash the outbox exists for: a process SIGKILLed after the cycle was persisted and before
anything was delivered; the next `once` delivers it, exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from monitor.devtools.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    SimOptions,
    SimulatorThread,
)
from monitor.devtools.slackstub import SlackStubThread

RULES = """\
rules:
  - name: ops
    match:
      task_name: "prod-*"
    channel: "#ops"
"""

TEN_MISTAKES = """\
rules:
  - name: bad-status
    match:
      last_status: SUCCES
  - name: bad-type
    match:
      task_type: REBOT
  - name: bad-regex
    match:
      task_name: "re:(unclosed"
  - name: bad-duration
    repeat_interval: soon
  - name: bad-severity
    severity: urgent
  - name: bad-key
    chanel: "#ops"
  - name: bad-type-of-value
    notify_resolved: sometimes
  - name: bad-min
    min_failures: 0
  - name: bad-priority
    match:
      priority: {min: 5, max: 1}
  - name: bad-status
    channel: "#dup"
"""


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        env={"PATH": os.environ["PATH"], **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(SimOptions(tasks=0, seed=5)) as running:
        for name in ("prod-reboot", "prod-stop", "lab-start"):
            fields = {"task_name": name, "last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY"}
            running.call(running.state.create_task, fields)
        yield running


def setup(tmp_path: Path, sim: SimulatorThread, rules: str = RULES) -> dict[str, str]:
    (tmp_path / "rules.yaml").write_text(rules)
    (tmp_path / "config.yaml").write_text(
        textwrap.dedent(
            f"""\
            workspace:
              endpoint: {sim.base_url}
              project_id: {DEFAULT_PROJECT_ID}
            state:
              url: sqlite:///{tmp_path}/state.db
            rules: rules.yaml
            slack:
              default_channel: "#fallback"
            """
        )
    )
    return {"HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY, "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY}


def test_check_reports_every_mistake_with_file_and_line(tmp_path: Path, sim: SimulatorThread) -> None:
    setup(tmp_path, sim, TEN_MISTAKES)
    result = run("check", cwd=tmp_path)
    assert result.returncode == 1
    problems = [line for line in result.stdout.splitlines() if line.startswith("rules.yaml:")]
    lines = sorted({int(problem.split(":")[1]) for problem in problems})
    assert lines == [4, 7, 10, 12, 14, 16, 18, 20, 23, 24], result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_check_passes_on_good_rules(tmp_path: Path, sim: SimulatorThread) -> None:
    env = setup(tmp_path, sim)
    result = run("check", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[-1].startswith("OK: 1 rules")


def test_check_says_every_finding_then_one_verdict(tmp_path: Path, sim: SimulatorThread) -> None:
    """Bad rules and no credentials are both said; the last line counts them and nothing says OK."""
    setup(tmp_path, sim, TEN_MISTAKES)
    result = run("check", cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert result.returncode == 1
    assert any("no Huawei Cloud credentials" in line for line in lines), result.stdout
    assert lines[-1] == f"{len(lines) - 1} problems found"
    assert not any(line.startswith("OK") for line in lines)


def test_dry_run_sends_and_stores_nothing(tmp_path: Path, sim: SimulatorThread) -> None:
    env = setup(tmp_path, sim)
    sim.call(sim.state.add_execution, sim.state.task("prod-stop").id, "FAIL")
    result = run("once", "--dry-run", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "would send to #ops" in result.stdout
    assert not (tmp_path / "state.db").exists()


def test_once_twice_alerts_once(tmp_path: Path, sim: SimulatorThread) -> None:
    env = setup(tmp_path, sim)
    sim.call(sim.state.add_execution, sim.state.task("prod-stop").id, "FAIL")
    first = run("once", cwd=tmp_path, env=env)
    second = run("once", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("→ #ops") == 1
    assert "new alert: prod-stop" in first.stdout
    assert "→" not in second.stdout
    assert oct((tmp_path / "state.db").stat().st_mode & 0o777) == "0o600"


def test_a_state_file_from_a_newer_version_is_refused_untouched(tmp_path: Path, sim: SimulatorThread) -> None:
    env = setup(tmp_path, sim)
    assert run("once", cwd=tmp_path, env=env).returncode == 0
    with closing(sqlite3.connect(tmp_path / "state.db")) as db, db:
        db.execute("UPDATE schema_version SET version = 99")
    before = (tmp_path / "state.db").read_bytes()
    result = run("once", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "schema version 99" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "state.db").read_bytes() == before


def test_a_corrupt_state_file_is_a_clear_error(tmp_path: Path, sim: SimulatorThread) -> None:
    env = setup(tmp_path, sim)
    (tmp_path / "state.db").write_bytes(b"this is not a database" * 100)
    result = run("once", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "state.db" in result.stderr
    assert "Traceback" not in result.stderr


CRASH_AFTER_PERSIST = """
import asyncio, os, signal, sys
from pathlib import Path
from monitor.config import Credentials, load_settings
from monitor.engine import Engine
from monitor.runtime import load_all
from monitor.store import open_store
from monitor.workspace.factory import build_client

async def main():
    loaded = load_all(Path("config.yaml"))
    client = build_client(loaded.settings.workspace, Credentials.from_env(os.environ))
    store = open_store(loaded.settings.state.url)
    async with client:
        engine = Engine(client=client, store=store, ruleset=loaded.ruleset,
                        project=loaded.settings.workspace.project_id, default_channel="#fallback")
        await engine.run_cycle()
    os.kill(os.getpid(), signal.SIGKILL)  # persisted; nothing delivered

asyncio.run(main())
"""


def test_sigkill_between_persist_and_delivery_loses_nothing(tmp_path: Path, sim: SimulatorThread) -> None:
    env = setup(tmp_path, sim)
    sim.call(sim.state.add_execution, sim.state.task("prod-reboot").id, "FAIL")
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH_AFTER_PERSIST],
        env={"PATH": os.environ["PATH"], **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    after = run("once", cwd=tmp_path, env=env)
    again = run("once", cwd=tmp_path, env=env)
    assert after.returncode == 0, after.stderr
    assert "new alert: prod-reboot" in after.stdout
    assert after.stdout.count("→ #ops") == 1
    assert "cycle: " in after.stdout
    assert "→" not in again.stdout


def test_schema_prints_the_rule_file_json_schema(tmp_path: Path) -> None:
    result = run("schema", cwd=tmp_path)
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["type"] == "object"
    assert {"rules", "silences"} <= set(schema["properties"])


def test_once_posts_to_slack_when_a_bot_token_is_set(tmp_path: Path, sim: SimulatorThread) -> None:
    env = setup(tmp_path, sim)
    with SlackStubThread() as stub:
        config = (
            (tmp_path / "config.yaml")
            .read_text()
            .replace("slack:\n", f"slack:\n  api_url: {stub.stub.api_url}\n")
        )
        (tmp_path / "config.yaml").write_text(config)
        sim.call(sim.state.add_execution, sim.state.task("prod-reboot").id, "FAIL")
        result = run("once", cwd=tmp_path, env={**env, "SLACK_BOT_TOKEN": stub.stub.token})
        assert result.returncode == 0, result.stderr
        [message] = stub.stub.state.messages("ops")
    assert "prod-reboot" in str(message.blocks)
    assert stub.stub.token not in result.stdout + result.stderr


HOSTILE_NAME = "prod-\x1b]0;owned\x07\x1b[2J\x1b[31mred\u202eevil\x9b"


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "once"])
def test_terminal_escapes_in_task_names_never_reach_the_terminal(
    tmp_path: Path, sim: SimulatorThread, dry_run: bool
) -> None:
    """A task named with an escape sequence (a title change, a screen clear, colour, a bidi override, a C1
    CSI) is printed with those characters replaced, in the decisions, the would-send text and the
    notifications, as `tasks` and the console notifier print it."""
    env = setup(tmp_path, sim)
    fields = {"task_name": HOSTILE_NAME, "last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY"}
    task = sim.call(sim.state.create_task, fields)
    try:
        sim.call(sim.state.add_execution, task.id, "FAIL")
        result = run("once", *(["--dry-run"] if dry_run else []), cwd=tmp_path, env=env)
    finally:
        sim.call(sim.state.delete_task, task.id)
    assert result.returncode == 0, result.stderr
    assert "prod-\ufffd]0;owned" in result.stdout
    for control in ("\x1b", "\x07", "\u202e", "\x9b"):
        assert control not in result.stdout + result.stderr
