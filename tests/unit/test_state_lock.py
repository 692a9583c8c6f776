"""The state lock itself: exclusive per state file, released by `release()`, none for PostgreSQL."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from monitor.store import StateInUseError, lock_state


def test_one_holder_at_a_time(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/state.db"
    held = lock_state(url)
    assert held is not None
    with pytest.raises(StateInUseError, match=f"pid {os.getpid()}"):
        lock_state(url)
    held.release()
    again = lock_state(url)
    assert again is not None
    again.release()


def test_the_lock_file_is_private_and_beside_the_state(tmp_path: Path) -> None:
    held = lock_state(f"sqlite://{tmp_path}/new/state.db")
    assert held is not None
    with held:
        assert held.path == tmp_path / "new" / "state.db.lock"
        assert stat.S_IMODE(held.path.stat().st_mode) == 0o600
        assert held.path.read_text() == f"{os.getpid()}\n"
    assert not (tmp_path / "new" / "state.db").exists()  # the lock creates no state


def test_other_states_are_independent(tmp_path: Path) -> None:
    a = lock_state(f"sqlite://{tmp_path}/a.db")
    b = lock_state(f"sqlite://{tmp_path}/b.db")
    assert a is not None
    assert b is not None
    a.release()
    b.release()


def test_postgresql_state_takes_no_lock_file() -> None:
    assert lock_state("postgresql://db/state") is None
