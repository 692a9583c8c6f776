"""`workspace-monitor tasks` as a user runs it: a real process against the simulator, bad input included.

Every failure must be one line on stderr that says what is wrong and what to do, with a non-zero exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest

from monitor.devtools.sim import DEFAULT_ACCESS_KEY, DEFAULT_PROJECT_ID, DEFAULT_SECRET_KEY, SimulatorThread
from tests.support.simapi import small_options


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        env={"PATH": os.environ["PATH"], **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(small_options(tasks=200, fail_rate=0.4)) as running:
        yield running


def sim_env(sim: SimulatorThread, **extra: str) -> dict[str, str]:
    return {
        "HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY,
        "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY,
        "HUAWEICLOUD_SDK_PROJECT_ID": DEFAULT_PROJECT_ID,
        "WORKSPACE_ENDPOINT": sim.base_url,
        **extra,
    }


def test_json_listing_of_failing_tasks(sim: SimulatorThread, tmp_path: Path) -> None:
    result = run_cli("tasks", "--status", "fail", "--json", env=sim_env(sim), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    listed = {task["id"] for task in json.loads(result.stdout)}
    assert listed == {t.id for t in sim.call(sim.state.with_status, "FAIL")}


def test_table_listing_with_filters(sim: SimulatorThread, tmp_path: Path) -> None:
    reboot = next(t for t in sim.call(sim.state.with_status, "FAIL") if t.task_type == "REBOOT")
    result = run_cli("tasks", "--type", "REBOOT", "--name", reboot.task_name, env=sim_env(sim), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert reboot.id in result.stdout
    assert "scheduled tasks" in result.stdout


def test_secret_key_never_reaches_the_output(sim: SimulatorThread, tmp_path: Path) -> None:
    result = run_cli("-vv", "tasks", "--status", "FAIL", env=sim_env(sim), cwd=tmp_path)
    assert result.returncode == 0
    assert DEFAULT_SECRET_KEY not in result.stdout + result.stderr


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_missing_credentials(sim: SimulatorThread, tmp_path: Path) -> None:
    env = sim_env(sim)
    del env["HUAWEICLOUD_SDK_AK"], env["HUAWEICLOUD_SDK_SK"]
    result = run_cli("tasks", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "no Huawei Cloud credentials" in one_error_line(result)


def test_wrong_secret_key(sim: SimulatorThread, tmp_path: Path) -> None:
    result = run_cli("tasks", env=sim_env(sim, HUAWEICLOUD_SDK_SK="wrong-secret"), cwd=tmp_path)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "APIGW.0301" in line
    assert "verify HUAWEICLOUD_SDK_AK/SK and the project id" in line


def test_wrong_region(tmp_path: Path) -> None:
    env = {"HUAWEICLOUD_SDK_AK": "a", "HUAWEICLOUD_SDK_SK": "b", "HUAWEICLOUD_SDK_PROJECT_ID": "p",
           "WORKSPACE_REGION": "cn-nowhere-1"}  # fmt: skip
    result = run_cli("tasks", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown region 'cn-nowhere-1'" in one_error_line(result)


def test_unreachable_endpoint(tmp_path: Path) -> None:
    env = {"HUAWEICLOUD_SDK_AK": "a", "HUAWEICLOUD_SDK_SK": "b", "HUAWEICLOUD_SDK_PROJECT_ID": "p",
           "WORKSPACE_ENDPOINT": "http://127.0.0.1:9"}  # fmt: skip
    (tmp_path / "config.yaml").write_text("workspace:\n  retry_attempts: 1\n")
    result = run_cli("tasks", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot reach 127.0.0.1:9" in one_error_line(result)


class _NotWorkspace(BaseHTTPRequestHandler):
    """A web server that is not Workspace: a login page for every path."""

    def do_GET(self) -> None:
        body = b"<!DOCTYPE html><html><body>Please log in</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_endpoint_that_is_not_workspace(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotWorkspace)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {"HUAWEICLOUD_SDK_AK": "a", "HUAWEICLOUD_SDK_SK": "b", "HUAWEICLOUD_SDK_PROJECT_ID": "p",
               "WORKSPACE_ENDPOINT": f"http://127.0.0.1:{server.server_port}"}  # fmt: skip
        result = run_cli("tasks", env=env, cwd=tmp_path)
    finally:
        server.shutdown()
    assert result.returncode == 1
    line = one_error_line(result)
    assert "HTML page instead of JSON" in line
    assert "Workspace endpoint" in line


def test_total_count_that_lies(sim: SimulatorThread, tmp_path: Path) -> None:
    """A wrong total_count is not an incomplete listing: the pages ran out on a short one."""
    sim.call(sim.state.add_fault, "lie_total", endpoint="list", count=100, extra=500)
    try:
        result = run_cli("tasks", "--status", "FAIL", "--json", env=sim_env(sim), cwd=tmp_path)
    finally:
        sim.call(sim.state.clear_faults)
    assert result.returncode == 0, result.stderr
    failing = sim.call(sim.state.with_status, "FAIL")
    assert {task["id"] for task in json.loads(result.stdout)} == {task.id for task in failing}


def test_broken_config_file_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("workspace:\n  concurrency: many\n")
    result = run_cli("tasks", env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert "config.yaml:2: workspace.concurrency" in result.stderr
