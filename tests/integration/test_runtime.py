"""The composition root (`monitor.runtime`): what a daemon and `once` load and build."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console

from monitor.decide import DecisionKind
from monitor.devtools.sim import DEFAULT_ACCESS_KEY, DEFAULT_PROJECT_ID, DEFAULT_SECRET_KEY, SimOptions
from monitor.devtools.sim.runner import start_simulator
from monitor.notify.console import ConsoleNotifier
from monitor.runtime import build, load_all
from monitor.store import StateInUseError
from monitor.workspace.errors import ConfigurationError


def test_a_daemon_on_sqlite_state_never_loads_psycopg(tmp_path: Path) -> None:
    """psycopg (and its libpq) is for shared PostgreSQL state only: a daemon built over a SQLite file, with
    every command module imported, has not loaded it."""
    (tmp_path / "rules.yaml").write_text(
        'rules:\n  - name: ops\n    match: {task_name: "*"}\n    channel: "#ops"\n'
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            workspace:
              endpoint: http://127.0.0.1:9
              project_id: {DEFAULT_PROJECT_ID}
            state:
              url: sqlite:///{tmp_path}/state.db
            rules: {tmp_path}/rules.yaml
            slack:
              mode: none
            """
        )
    )
    script = textwrap.dedent(
        f"""\
        import asyncio, os, sys
        from pathlib import Path
        import monitor.cli, monitor.commands, monitor.daemon
        from monitor.daemon import Daemon, DaemonOptions
        from monitor.runtime import build, load_all

        async def main():
            loaded = load_all(Path({str(config)!r}))
            daemon = Daemon(DaemonOptions(Path({str(config)!r})), build(loaded, os.environ))
            await daemon.start()
            await daemon.runtime.leader.check()
            assert daemon.runtime.leader.leading
            await daemon.stop()

        asyncio.run(main())
        loaded = sorted(name for name in sys.modules if name.split(".")[0] == "psycopg" or "postgres" in name)
        assert not loaded, loaded
        """
    )
    env = {
        **os.environ,
        "HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY,
        "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY,
    }
    env.pop("SLACK_BOT_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr


def _config(
    tmp_path: Path,
    *,
    poll_interval: str = "60s",
    ops_channel: str = "#ops",
    endpoint: str = "http://127.0.0.1:9",
) -> Path:
    (tmp_path / "rules.yaml").write_text(
        'rules:\n  - name: ops\n    match: {task_name: "*"}\n    channel: "#ops"\n'
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            workspace:
              endpoint: {endpoint}
              project_id: {DEFAULT_PROJECT_ID}
              poll_interval: {poll_interval}
            state:
              url: sqlite:///{tmp_path}/state.db
            rules: {tmp_path}/rules.yaml
            slack:
              mode: none
              ops_channel: "{ops_channel}"
            """
        )
    )
    return config


CREDENTIALS = {"HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY, "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY}


async def test_apply_gives_every_part_the_reloaded_rules_and_settings(tmp_path: Path) -> None:
    """A reload reaches the engines (rules), selfwatch (ops channel) and /healthz (its limit follows the
    poll interval), without rebuilding anything."""
    config = _config(tmp_path)
    runtime = build(load_all(config), CREDENTIALS, notifier=ConsoleNotifier())
    try:
        engine = runtime.projects[0].engine
        _config(tmp_path, poll_interval="10m", ops_channel="#ops-2")
        (tmp_path / "rules.yaml").write_text(
            'rules:\n  - name: new\n    match: {task_name: "x*"}\n    channel: "#x"\n'
        )
        reloaded = load_all(config)
        runtime.apply(reloaded)
        assert runtime.projects[0].engine is engine
        assert [rule.name for rule in engine.ruleset.rules] == ["new"]
        assert runtime.selfwatch.ops_channel == "#ops-2"
        assert runtime.health.poll_interval == timedelta(minutes=10)
        assert runtime.loaded is reloaded
    finally:
        await runtime.aclose()


async def test_missing_credentials_are_refused_before_the_state_file_is_created(tmp_path: Path) -> None:
    config = _config(tmp_path)
    with pytest.raises(ConfigurationError):
        build(load_all(config), {}, notifier=ConsoleNotifier())
    assert not (tmp_path / "state.db").exists()


async def test_a_second_runtime_on_the_same_sqlite_state_is_refused_until_the_first_closes(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    first = build(load_all(config), CREDENTIALS, notifier=ConsoleNotifier())
    try:
        with pytest.raises(StateInUseError):
            build(load_all(config), CREDENTIALS, notifier=ConsoleNotifier())
    finally:
        await first.aclose()
    second = build(load_all(config), CREDENTIALS, notifier=ConsoleNotifier())
    await second.aclose()


async def test_a_built_runtime_polls_decides_and_delivers_through_its_notifier(tmp_path: Path) -> None:
    """The parts are wired to each other: a project's engine writes to the store the dispatcher reads, and
    the dispatcher hands the alert to the notifier given."""
    async with start_simulator(SimOptions(tasks=0, seed=5)) as sim:
        sim.state.create_task({"task_name": "prod-reboot", "last_status": "FAIL"})
        out = io.StringIO()
        config = _config(tmp_path, endpoint=sim.base_url)
        runtime = build(load_all(config), CREDENTIALS, notifier=ConsoleNotifier(Console(file=out, width=200)))
        try:
            report = await runtime.projects[0].engine.run_cycle()
            flushed = await runtime.dispatcher.flush()
        finally:
            await runtime.aclose()
    assert [note.kind for note in report.decisions] == [DecisionKind.NEW]
    assert flushed.sent == 1
    assert "prod-reboot" in out.getvalue()
