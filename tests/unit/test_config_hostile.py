"""Config files written carelessly or to hurt: refused with `file:line` problems, never silently half-read.

Duplicate keys (PyYAML keeps the last one: a second `slack:` dropped the first one's admins), alias bombs
(issue 20, items 8 and 15), values that `check` passed and `run` could never use (item 16).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.config import MAX_CONFIG_BYTES, MAX_PROBLEMS, ConfigError, load_settings, split_listen


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


# Values `check` passed and `run` could never use (item 16): refused where they are written.


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("workspace:\n  poll_interval: 0\n", ":2: workspace.poll_interval: must be longer than 0"),
        ("workspace:\n  timeout: 0\n", ":2: workspace.timeout: must be longer than 0"),
        ("state:\n  lease: 0\n", ":2: state.lease: must be longer than 0"),
        (
            "workspace:\n  endpoint: ftp://workspace.example.com\n",
            ":2: workspace.endpoint: 'ftp://workspace.example.com' is not an http(s) URL",
        ),
        (
            "workspace:\n  iam_endpoint: https://iam.example.com:99999\n",
            ":2: workspace.iam_endpoint: 'https://iam.example.com:99999' is not a URL: Port out of range",
        ),
        ("slack:\n  api_url: not a url\n", ":2: slack.api_url: 'not a url' is not an http(s) URL"),
        (
            "slack:\n  default_channel: desktop-ops\n",
            ":2: slack.default_channel: 'desktop-ops' is not a Slack",
        ),
        ("slack:\n  ops_channel: '#Desk Ops'\n", ":2: slack.ops_channel: '#Desk Ops' is not a Slack channel"),
        ("metrics:\n  listen: 99999\n", ":2: metrics.listen: 99999 is not host:port or a port"),
    ],
)
def test_a_value_run_could_never_use_is_refused_at_its_line(tmp_path: Path, text: str, problem: str) -> None:
    path, problems = problems_of(tmp_path, text)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}{problem}"), problems[0]


def test_an_ipv6_listen_address_is_split_without_its_brackets(tmp_path: Path) -> None:
    """`[::1]:9464` reached the server as host "[::1]": a traceback at start."""
    path = tmp_path / "config.yaml"
    path.write_text("metrics:\n  listen: '[::1]:9464'\n")
    settings = load_settings(path, env={})
    assert settings.metrics.listen is not None
    assert split_listen(settings.metrics.listen) == ("::1", 9464)


def test_past_a_hundred_problems_the_rest_are_counted(tmp_path: Path) -> None:
    ids = ", ".join(f"'user-{i}'" for i in range(300))
    path, problems = problems_of(tmp_path, f"slack:\n  admins: [{ids}]\n")
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1] == f"{path}:2: and 200 more problems (fix the ones above first)"


def test_a_config_that_is_a_device_or_a_fifo_is_refused_unread(tmp_path: Path) -> None:
    """`--config /dev/zero` read until the memory ran out; a FIFO blocked `check` for ever."""
    os.mkfifo(tmp_path / "fifo.yaml")
    for path in (Path("/dev/zero"), tmp_path / "fifo.yaml"):
        with pytest.raises(ConfigError) as caught:
            load_settings(path, env={})
        assert caught.value.problems == [f"{path}: not a regular file: the config must be a regular file"]


def test_a_huge_config_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    with path.open("wb") as sparse:
        sparse.truncate(MAX_CONFIG_BYTES + 1)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert caught.value.problems == [f"{path}: 1,048,577 bytes: larger than a config can be"]
