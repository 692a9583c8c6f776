"""The composition root (`monitor.runtime`): what a daemon and `once` load and build."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from monitor.devtools.sim import DEFAULT_ACCESS_KEY, DEFAULT_PROJECT_ID, DEFAULT_SECRET_KEY


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
        import asyncio, sys
        from pathlib import Path
        import monitor.cli, monitor.commands, monitor.daemon
        from monitor.daemon import Daemon, DaemonOptions
        from monitor.runtime import load_all, make_notifier

        async def main():
            loaded = load_all(Path({str(config)!r}))
            daemon = Daemon(DaemonOptions(Path({str(config)!r})), loaded, make_notifier(loaded.settings))
            await daemon.start()
            await daemon.leader.check()
            assert daemon.leader.leading
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
