"""A reload's verdict, from the daemon to `workspace-monitor reload` (systemd's `ExecReload=`).

A SIGHUP alone returns before the daemon has read anything, so `systemctl reload` would succeed whatever the
new config holds. Instead the daemon writes the verdict of each reload to a small JSON file named by its pid,

    {"pid": 1234, "reloads": 3, "ok": false, "problems": ["rules.yaml:3: ..."], "at": "2026-..."}

and `reload --pid PID` reads the count, sends SIGHUP, waits (bounded) for the count to grow, and exits with
the verdict: 0 when the new config is in force, 2 with the first problem when it was rejected (the old one
stays), 1 when no verdict came. The file lives in `$RUNTIME_DIRECTORY` (systemd's `RuntimeDirectory=`, set
for `ExecStart=` and `ExecReload=` alike), else `$XDG_RUNTIME_DIR`, else the temp directory; it is replaced
atomically (a reader never sees half of one), read only when the daemon's user owns it, and removed when
the daemon stops.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["EXIT_NO_VERDICT", "EXIT_REJECTED", "Verdict", "remove", "request_reload", "status_path", "write"]

EXIT_REJECTED = 2
EXIT_NO_VERDICT = 1


@dataclass(frozen=True)
class Verdict:
    reloads: int
    ok: bool
    problems: tuple[str, ...] = ()


def status_path(pid: int, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    runtime = (env.get("RUNTIME_DIRECTORY") or "").split(":")[0]
    directory = runtime or env.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(directory) / f"workspace-monitor.{pid}.reload.json"


def write(path: Path, verdict: Verdict) -> None:
    """Replace the file with this verdict (OSError when the directory is not writable)."""
    body = {
        "pid": os.getpid(),
        "reloads": verdict.reloads,
        "ok": verdict.ok,
        "problems": list(verdict.problems),
        "at": datetime.now(UTC).isoformat(),
    }
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".reload-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as file:
            json.dump(body, file)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def read(path: Path, pid: int) -> Verdict | None:
    """The daemon's last verdict; None when there is none (yet), or the file is not the daemon's."""
    try:
        with path.open() as file:
            owner = os.fstat(file.fileno()).st_uid
            body: Any = json.load(file)
        with contextlib.suppress(FileNotFoundError):  # no /proc (or the daemon is gone): the name decides
            if owner != os.stat(f"/proc/{pid}").st_uid:
                return None  # planted by another user (the temp directory is shared)
        problems = body.get("problems") or []
        if body.get("pid") != pid or not isinstance(problems, list):
            return None
        return Verdict(int(body["reloads"]), body.get("ok") is True, tuple(str(p) for p in problems))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def request_reload(
    pid: int,
    *,
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[int, Sequence[str]]:
    """SIGHUP to the daemon `pid`, then its verdict: (exit code, lines to say)."""
    path = status_path(pid, env)
    before = read(path, pid)
    seen = before.reloads if before else 0
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        return EXIT_REJECTED, [f"no process {pid}: is the daemon running?"]
    except PermissionError:
        return EXIT_REJECTED, [f"not allowed to signal process {pid}: run as the daemon's user"]
    deadline = clock() + timeout
    while True:
        verdict = read(path, pid)
        if verdict is not None and verdict.reloads > seen:
            if verdict.ok:
                return 0, ["reloaded: the new config and rules are in force"]
            first = verdict.problems[0] if verdict.problems else "(no reason given)"
            more = len(verdict.problems) - 1
            lines = [f"reload rejected, the previous config and rules stay in force: {first}"]
            if more > 0:
                lines.append(f"and {more} more problem{'s' if more > 1 else ''}: run `check` to see them all")
            return EXIT_REJECTED, lines
        if not _alive(pid):
            return EXIT_NO_VERDICT, [f"the daemon (pid {pid}) exited during the reload: see its log"]
        if clock() >= deadline:
            return EXIT_NO_VERDICT, [
                f"no verdict from the daemon (pid {pid}) within {timeout:g}s: see its log"
            ]
        sleep(0.05)
