"""`workspace-monitor run` as a child process, and the config files it is started with.

write_config(tmp_path, sim_url, rules=..., extra=...)   config.yaml + rules.yaml, 1-second polls
simulator_with("prod-reboot", ...)                     a simulator thread holding just these tasks
free_port()                                            a free loopback port (metrics.listen, slack.listen)
DaemonProcess(tmp_path, **env)                         started at once; stdout (console notifier) and
                                                       stderr (JSON logs) go to files
    .wait_for(text, stream="err", count=1)             poll the file until `text` shows `count` times
    .events(name)                                      the JSON log lines with that event, as dicts
    .stop() / .kill()                                  SIGTERM and wait / SIGKILL and wait
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from monitor.devtools.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    SimOptions,
    SimulatorThread,
)

__all__ = ["RULES", "DaemonProcess", "free_port", "simulator_with", "write_config"]

RULES = """\
rules:
  - name: ops
    match:
      task_name: "prod-*"
    channel: "#ops"
"""


@contextlib.contextmanager
def simulator_with(*names: str) -> Iterator[SimulatorThread]:
    """A simulator thread whose only tasks are `names`, each daily, enabled and last successful."""
    with SimulatorThread(SimOptions(tasks=0, seed=9)) as running:
        for name in names:
            fields = {"task_name": name, "last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY"}
            running.call(running.state.create_task, fields)
        yield running


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(
    tmp_path: Path,
    sim_url: str,
    *,
    rules: str = RULES,
    extra: str = "",
    poll_interval: str = "1s",
    state: str = "",
) -> Path:
    """A config polling `sim_url` every `poll_interval` with a SQLite state file in `tmp_path`; `state` adds
    settings to the state section ("claim_lease: 2s"), `extra` whole sections."""
    (tmp_path / "rules.yaml").write_text(rules)
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            workspace:
              endpoint: {sim_url}
              project_id: {DEFAULT_PROJECT_ID}
              poll_interval: {poll_interval}
            state:
              url: sqlite:///{tmp_path}/state.db
            """
        )
        + "".join(f"  {line}\n" for line in state.splitlines())
        + "rules: rules.yaml\n"
        + extra
    )
    return path


class DaemonProcess:
    """The daemon as a child process; its stdout and stderr in files that survive its death."""

    def __init__(self, tmp_path: Path, *, name: str = "daemon", **extra_env: str) -> None:
        self.out = tmp_path / f"{name}.stdout.txt"
        self.err = tmp_path / f"{name}.stderr.txt"
        env = {"PATH": os.environ["PATH"], "HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY,
               "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY, **extra_env}  # fmt: skip
        if "PYTHONPATH" in os.environ:  # a checkout other than the installed one (e.g. a snapshot of HEAD)
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "monitor.cli", "run"], cwd=tmp_path, env=env, stdout=out, stderr=err
            )

    def text(self, stream: str = "err") -> str:
        return (self.err if stream == "err" else self.out).read_text()

    def wait_for(self, text: str, *, stream: str = "err", count: int = 1, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            content = self.text(stream)
            if content.count(text) >= count:
                return content
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"{text!r} x{count} not seen in {stream}:\n{self.text(stream)[-5000:]}")

    def events(self, name: str) -> list[dict[str, Any]]:
        found = []
        for line in self.text().splitlines():
            if f'"{name}"' not in line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == name:
                found.append(event)
        return found

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def kill(self) -> int:
        if self.process.poll() is None:
            self.process.kill()
        return self.process.wait(timeout=30)
