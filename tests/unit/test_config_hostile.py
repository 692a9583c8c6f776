"""Config files written carelessly or to hurt: refused with `file:line` problems, never silently half-read.

Duplicate keys (PyYAML keeps the last one: a second `slack:` dropped the first one's admins), alias bombs
(issue 20, items 8 and 15).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, load_settings


def problems_of(tmp_path: Path, text: str) -> tuple[Path, list[str]]:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    return path, caught.value.problems


def test_a_second_section_of_the_same_name_is_refused_at_its_line(tmp_path: Path) -> None:
    path, problems = problems_of(
        tmp_path,
        "slack:\n  admins: [U0ADMIN1]\nworkspace:\n  region: cn-north-4\nslack:\n  default_channel: '#ops'\n",
    )
    assert problems == [f"{path}:5: duplicate key 'slack' (first on line 1)"]


def test_a_key_written_twice_in_a_section_is_refused_with_the_other_problems(tmp_path: Path) -> None:
    path, problems = problems_of(
        tmp_path, "workspace:\n  concurrency: lots\n  poll_interval: 1m\n  poll_interval: 5m\n"
    )
    assert problems[0].startswith(f"{path}:2: workspace.concurrency:")
    assert problems[1] == f"{path}:4: duplicate key 'poll_interval' (first on line 3)"
    assert len(problems) == 2


def test_an_alias_bomb_is_refused_before_it_is_validated(tmp_path: Path) -> None:
    lines = ["a0: &a0 [lol]"] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    path, problems = problems_of(tmp_path, "\n".join(lines) + "\nslack: {admins: *a9}\n")
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:1: aliases expand this document by more than")
