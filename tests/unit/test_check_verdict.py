"""The last line of `check` is its one verdict: problems counted, or OK with what was loaded."""

from __future__ import annotations

import pytest

from monitor.commands import check_verdict


@pytest.mark.parametrize(
    ("problems", "warnings", "verdict"),
    [
        (0, 0, "OK: 2 rules and 0 silences in 1 file(s); config c.yaml"),
        (0, 1, "OK: 2 rules and 0 silences in 1 file(s); config c.yaml; 1 warning"),
        (0, 3, "OK: 2 rules and 0 silences in 1 file(s); config c.yaml; 3 warnings"),
        (1, 0, "1 problem found"),
        (2, 5, "2 problems found"),
    ],
)
def test_the_verdict(problems: int, warnings: int, verdict: str) -> None:
    assert check_verdict(problems, warnings, "2 rules and 0 silences in 1 file(s); config c.yaml") == verdict
