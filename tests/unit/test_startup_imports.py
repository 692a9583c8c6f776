"""Commands import only what they use (issue 17, start-up): a whole `tasks` run against the simulator loads
none of the daemon's libraries, and `--help` loads no third-party library at all.

Each command runs in a fresh interpreter (what a user starts), which then lists what it had loaded; the
timings themselves are bench/startup.py's (a wall-clock limit has no place in a unit test).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.devtools.sim import DEFAULT_ACCESS_KEY, DEFAULT_PROJECT_ID, DEFAULT_SECRET_KEY, SimulatorThread
from tests.support.simapi import small_options

#: What `run` needs and `tasks` does not: PostgreSQL, Slack, the HTTP servers, the scheduler, the metrics.
NOT_FOR_TASKS = ("psycopg", "slack_sdk", "slack_bolt", "aiohttp", "apscheduler", "prometheus_client")

#: Runs the CLI like the installed script, then prints the names of every module loaded (and their packages).
RUN_AND_LIST = """
import json, os, sys
for name in filter(None, os.environ.pop("HIDE_MODULES", "").split(",")):
    sys.modules[name] = None  # as if not installed: importing it raises ImportError
from monitor.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps(sorted({*sys.modules, *(name.split(".")[0] for name in sys.modules)})), file=sys.stderr)
sys.exit(code)
"""


def loaded_by(
    *args: str, env: dict[str, str], cwd: Path, without: tuple[str, ...] = ()
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `workspace-monitor ARGS` in a fresh interpreter: its result, and the modules it had loaded (each
    top-level package by its name too). `without`: packages to behave as if not installed."""
    result = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST, *args],
        env={
            "PATH": os.environ["PATH"],
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
            "HIDE_MODULES": ",".join(without),
            **env,
        },
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    listed = json.loads(result.stderr.strip().splitlines()[-1])
    return result, set(listed)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(small_options(tasks=40)) as running:
        yield running


def _sim_env(sim: SimulatorThread) -> dict[str, str]:
    """Credentials and endpoint from the environment: `tasks` with no config file."""
    return {
        "HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY,
        "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY,
        "HUAWEICLOUD_SDK_PROJECT_ID": DEFAULT_PROJECT_ID,
        "WORKSPACE_ENDPOINT": sim.base_url,
    }


def test_tasks_loads_none_of_the_daemons_libraries(sim: SimulatorThread, tmp_path: Path) -> None:
    """A real listing (one page, JSON), so whatever the client loads while it runs is counted too."""
    result, loaded = loaded_by("tasks", "--json", env=_sim_env(sim), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 40
    assert "httpx" in loaded  # the listing really went through the client
    assert loaded.isdisjoint(NOT_FOR_TASKS), sorted(loaded & set(NOT_FOR_TASKS))
    assert "monitor.workspace.actions" not in loaded  # the write path's models: desktop actions, jobs


def test_tasks_loads_no_structlog_when_it_logs_nothing(sim: SimulatorThread, tmp_path: Path) -> None:
    """A listing that goes well logs nothing at the default level: structlog loads at the first event shown
    (monitor.logs; tests/unit/test_logs.py holds that every line is still configured). Nor rich's
    pretty-printer and traceback, and attrs, which structlog would load for a renderer that never formats an
    exception here; httpx may load other parts of rich (below)."""
    result, loaded = loaded_by("tasks", "--json", env=_sim_env(sim), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    heavy = {"structlog", "rich.pretty", "rich.traceback", "attr"}
    assert loaded.isdisjoint(heavy), sorted(loaded & heavy)


def test_tasks_as_json_loads_no_rich_of_its_own(sim: SimulatorThread, tmp_path: Path) -> None:
    """rich draws the table and the progress bar, neither of which JSON has. Run as in an operator's install,
    where httpx's own command line (click, which loads rich) is not installed: in the dev venv pip-tools
    brings click, and `import httpx` then loads parts of rich itself."""
    result, loaded = loaded_by("tasks", "--json", env=_sim_env(sim), cwd=tmp_path, without=("click",))
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 40
    assert "rich" not in loaded
    assert {"rich", "monitor.tasklist"} <= loaded_by("tasks", env=_sim_env(sim), cwd=tmp_path)[1]


def test_a_listing_builds_only_the_listings_models() -> None:
    """A task's detail, its records and their details are validated by models built when first used."""
    code = (
        "from monitor.listtasks import tasks\n"
        "from monitor.workspace import models\n"
        "print([name for name in ('ScheduledTask', 'TaskPage', 'TaskDetail', 'ExecutionRecord',"
        " 'RecordDetail') if getattr(models, name).__pydantic_complete__])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "['ScheduledTask', 'TaskPage']"


def test_tasks_without_a_config_file_loads_no_yaml(sim: SimulatorThread, tmp_path: Path) -> None:
    """The environment alone configures `tasks`; PyYAML (the costliest import of the config) is loaded only
    to read a file, and then the listing still works."""
    result, loaded = loaded_by("tasks", "--json", env=_sim_env(sim), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "yaml" not in loaded
    (tmp_path / "config.yaml").write_text("workspace:\n  concurrency: 2\n")
    result, loaded = loaded_by("tasks", "--json", env=_sim_env(sim), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "yaml" in loaded
    assert len(json.loads(result.stdout)) == 40


def test_the_tasks_command_loads_nothing_of_the_runtime() -> None:
    """No store, engine, notifier or chatops module: the listing needs the config and the client only."""
    code = (
        "import json, sys\n"
        "from monitor.listtasks import tasks\n"
        "print(json.dumps([m for m in sys.modules if m.startswith('monitor.')]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = set(json.loads(result.stdout))
    assert "monitor.workspace.client" in modules
    runtime = ("monitor.runtime", "monitor.engine", "monitor.store", "monitor.slack", "monitor.chatops.app")
    assert not {name for name in modules if name.startswith(runtime)}


def test_help_loads_no_third_party_library(tmp_path: Path) -> None:
    """`--help` is argparse and the API's vocabulary (the choices of `tasks`): not structlog (which loads
    rich), pydantic, httpx, nor even asyncio."""
    result, loaded = loaded_by("--help", env={}, cwd=tmp_path)
    assert result.returncode == 0
    assert "workspace-monitor" in result.stdout
    heavy = {"structlog", "rich", "pydantic", "httpx", "yaml", "asyncio", "aiohttp", "psycopg"}
    assert loaded.isdisjoint(heavy), sorted(loaded & heavy)


#: Runs the CLI, then prints the name of the thread each `ssl.create_default_context()` ran on.
RUN_AND_LIST_CONTEXTS = """
import json, ssl, sys, threading
made = []
create = ssl.create_default_context
def recording(*args, **kwargs):
    made.append(threading.current_thread().name)
    return create(*args, **kwargs)
ssl.create_default_context = recording
from monitor.cli import main
code = main(sys.argv[1:])
print(json.dumps(made), file=sys.stderr)
sys.exit(code)
"""


def _list_tasks_and_report(sim: SimulatorThread, tmp_path: Path, script: str, *before: str) -> Any:
    """Run `script` (which runs the CLI, then prints a JSON report on stderr's last line) with `tasks --json`
    against the simulator in a process of its own; check the listing, return the report."""
    result = subprocess.run(
        [sys.executable, "-c", script, *before, "tasks", "--json"],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": os.environ.get("PYTHONPATH", ""), **_sim_env(sim)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 40
    return json.loads(result.stderr.strip().splitlines()[-1])


def test_tasks_loads_the_ca_certificates_on_a_thread(sim: SimulatorThread, tmp_path: Path) -> None:
    """The TLS context's CA certificates (15% of a one-page `tasks`, bench/findings.md) load on a thread
    started before the command's imports (monitor.workspace.tls), and the listing uses that one context: none
    is made on the main thread."""
    assert _list_tasks_and_report(sim, tmp_path, RUN_AND_LIST_CONTEXTS) == ["tls-prefetch"]


#: Runs the CLI as the installed script does (`main()` reading sys.argv) or as a caller in a process of its
#: own does (`main(argv)`), then prints the cyclic collector's state.
RUN_AND_SHOW_COLLECTOR = """
import gc, json, sys
from monitor.cli import main
how, sys.argv = sys.argv[1], [sys.argv[0], *sys.argv[2:]]
code = main() if how == "script" else main(sys.argv[1:])
print(json.dumps({"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}), file=sys.stderr)
sys.exit(code)
"""


@pytest.mark.parametrize("how", ["script", "caller"])
def test_tasks_freezes_what_its_imports_made_only_in_its_own_process(
    sim: SimulatorThread, tmp_path: Path, how: str
) -> None:
    """The modules' objects live as long as the process: `tasks` freezes them out of the collector's way
    (monitor.cli), which stays on for the listing's own garbage; a caller of main() keeps them collectable."""
    collector = _list_tasks_and_report(sim, tmp_path, RUN_AND_SHOW_COLLECTOR, how)
    assert collector["enabled"]
    if how == "script":
        assert collector["frozen"] > 10_000  # pydantic, httpx, the config's and the client's models...
    else:
        assert collector["frozen"] == 0
