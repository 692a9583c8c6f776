"""psycopg is the `postgres` extra: without it a SQLite daemon works, and a postgresql:// state URL is
refused in one line naming the extra to install (exit 2 for `run` and `once`, a problem in `check`). The
processes here cannot import psycopg; .ci/wheel-smoke holds the same against a wheel installed alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.devtools.sim import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from tests.support.daemon import write_config

ENV = {"HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY, "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY}
#: The command line, in a process where `import psycopg` fails as it does when the extra is not installed.
WITHOUT_PSYCOPG = "import sys; sys.modules['psycopg'] = None; from monitor.cli import main; sys.exit(main())"
LINE = (
    "state.url 'postgresql://monitor:***@db.invalid/wm' needs PostgreSQL support, which is not installed: "
    "pip install 'workspace-monitor[postgres]'"
)


def command(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_PSYCOPG, *args],
        cwd=tmp_path, env={"PATH": os.environ["PATH"], **ENV}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def postgres_config(tmp_path: Path) -> None:
    # An endpoint nobody answers on: nothing may be polled before the refusal.
    path = write_config(tmp_path, "http://127.0.0.1:9", extra="slack:\n  mode: none\n")
    text = path.read_text()
    path.write_text(
        text.replace(f"sqlite:///{tmp_path}/state.db", "postgresql://monitor:hunter2@db.invalid/wm")
    )


@pytest.mark.parametrize(("args", "code"), [(("run",), 2), (("once",), 2)])
def test_a_postgresql_url_without_psycopg_is_refused_in_one_line(
    tmp_path: Path, args: tuple[str, ...], code: int
) -> None:
    postgres_config(tmp_path)
    process = command(tmp_path, *args)
    assert process.returncode == code
    assert LINE in process.stderr
    assert "Traceback" not in process.stderr
    assert "hunter2" not in process.stderr + process.stdout


def test_check_reports_the_missing_extra_as_a_problem(tmp_path: Path) -> None:
    postgres_config(tmp_path)
    process = command(tmp_path, "check")
    assert process.returncode == 1
    assert LINE in process.stdout
    assert "Traceback" not in process.stderr


def test_a_sqlite_daemon_needs_no_psycopg(tmp_path: Path) -> None:
    write_config(tmp_path, "http://127.0.0.1:9", extra="slack:\n  mode: none\n")
    process = command(tmp_path, "check")
    assert process.returncode == 0, process.stdout + process.stderr
