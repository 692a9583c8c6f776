"""Where the SQLite state file would go is checked without creating anything (`check`, and `run` before it
touches anything): the problems an operator can fix, in one line each."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.store import state_location_problem


@pytest.mark.parametrize(
    ("relative", "problem"),
    [
        ("state.db", None),  # in an existing directory
        ("new/dir/state.db", None),  # directories to be made, under a writable one
        ("existing.db", None),  # an existing file
        ("a-directory", "is a directory; name a file in it"),
        ("plain-file/state.db", "is not a directory"),
    ],
)
def test_problems_with_the_state_location(tmp_path: Path, relative: str, problem: str | None) -> None:
    (tmp_path / "existing.db").write_bytes(b"")
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "plain-file").write_text("not a directory")
    before = sorted(tmp_path.rglob("*"))
    found = state_location_problem(f"sqlite:///{tmp_path / relative}")
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found
        assert "state.url" in found
    assert sorted(tmp_path.rglob("*")) == before  # nothing created


def test_postgresql_is_left_to_the_server() -> None:
    assert state_location_problem("postgresql://db/state") is None
