"""One process per SQLite state: `lock_state(url)` takes an exclusive lock on `<state file>.lock` beside it,
held until `release()` or the process's end (a SIGKILL releases it too: the kernel drops a dead process's
flock), and refuses a second process in one line naming the first's pid.

`run` holds it for its whole life and `once` for its cycle (`once --dry-run` changes nothing and takes none):
two daemons on one file would each deliver every alert. PostgreSQL state is shared by design; its replicas
elect a leader (`monitor.leader`), so it takes no lock file. The lock file is never deleted (unlinking a
locked file would let a third process lock a new one beside the holder); it holds the holder's pid only.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from monitor.store.errors import StateInUseError, StoreError
from monitor.store.sqlite import make_private_dirs

__all__ = ["StateLock", "lock_path", "lock_state"]

_SQLITE = "sqlite://"


def lock_path(state: Path) -> Path:
    return state.with_name(state.name + ".lock")


class StateLock:
    """A held lock on a state file; `release()` (or the process's end) lets the next process take it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None

    def __enter__(self) -> StateLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def lock_state(url: str) -> StateLock | None:
    """The exclusive lock on the SQLite state `url` names (None for other URLs). Raises StateInUseError when
    another process holds it, StoreError when the lock file cannot be made."""
    if not url.startswith(_SQLITE):
        return None
    state = Path(url.removeprefix(_SQLITE))
    path = lock_path(state)
    try:
        make_private_dirs(path.parent)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot create the state's lock file {path}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_pid(fd)
        os.close(fd)
        who = f"pid {holder}" if holder else "another process"
        raise StateInUseError(
            f"state file {state} is in use by another workspace-monitor ({who}, holding {path}): "
            "stop it first, or give this one its own state.url"
        ) from None
    except OSError as exc:
        os.close(fd)
        raise StoreError(f"cannot lock {path}: {exc.strerror or exc}") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return StateLock(path, fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
