"""`start_problems`: what `run` refuses to start with and `check` reports, from one function (issue 20, items
14 and 16): `check` passing means `run` starts. Each case is a config that `check` said OK for while `run`
refused it or died with a traceback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.config import Settings, load_settings
from monitor.preflight import listen_problem, start_problems

CREDENTIALS = {"HUAWEICLOUD_SDK_AK": "ak", "HUAWEICLOUD_SDK_SK": "sk"}
SLACK = "slack:\n  mode: none\n"


def settings(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"workspace:\n  endpoint: http://127.0.0.1:9\n  project_id: p-1\nstate:\n  url: sqlite:///{tmp_path}/s.db\n"
        + text
    )
    return load_settings(path, env={})


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_a_usable_config_has_no_problems(tmp_path: Path) -> None:
    assert start_problems(settings(tmp_path, SLACK), CREDENTIALS) == []


def test_no_credentials(tmp_path: Path) -> None:
    (problem,) = start_problems(settings(tmp_path, SLACK), {})
    assert problem.startswith("no Huawei Cloud credentials in the environment")


def test_no_project_id(tmp_path: Path) -> None:
    config = settings(tmp_path, SLACK)
    config = config.model_copy(update={"workspace": config.workspace.model_copy(update={"project_id": None})})
    (problem,) = start_problems(config, CREDENTIALS)
    assert problem.startswith("no project id")


def test_a_missing_ca_bundle(tmp_path: Path) -> None:
    config = settings(tmp_path, SLACK)
    bundle = f"{tmp_path}/ca.pem"
    config = config.model_copy(
        update={"workspace": config.workspace.model_copy(update={"ca_bundle": bundle})}
    )
    (problem,) = start_problems(config, CREDENTIALS)
    assert problem.startswith(f"workspace.ca_bundle '{tmp_path}/ca.pem' cannot be used")


def test_a_mistyped_state_scheme(tmp_path: Path) -> None:
    config = settings(tmp_path, SLACK)
    config = config.model_copy(
        update={"state": config.state.model_copy(update={"url": "postgresq://u:pw@h/db"})}
    )
    (problem,) = start_problems(config, CREDENTIALS)
    assert "unknown scheme" in problem
    assert "pw" not in problem


def test_a_state_url_port_out_of_range(tmp_path: Path) -> None:
    config = settings(tmp_path, SLACK)
    url = "postgresql://u:pw@db.internal:99999/state"
    config = config.model_copy(update={"state": config.state.model_copy(update={"url": url})})
    (problem,) = start_problems(config, CREDENTIALS)
    assert problem == "state.url 'postgresql://u:***@db.internal:99999/state': Port out of range 0-65535"


def test_a_state_url_port_problem_never_quotes_a_password(tmp_path: Path) -> None:
    """A raw '/' in the password makes urlsplit take 'pa' for the port, and its message quotes it."""
    config = settings(tmp_path, SLACK)
    url = "postgresql://u:pa/ss-word@db.internal/state"
    config = config.model_copy(update={"state": config.state.model_copy(update={"url": url})})
    (problem,) = start_problems(config, CREDENTIALS)
    assert problem.startswith("state.url 'postgresql://u:***@db.internal/state': the port is not a number")
    assert "pa" not in problem.replace("password", "")


def test_a_slack_mode_without_its_token(tmp_path: Path) -> None:
    (problem,) = start_problems(settings(tmp_path, "slack:\n  mode: socket\n"), CREDENTIALS)
    assert problem.startswith("slack.mode is socket: set SLACK_BOT_TOKEN")


def test_a_metrics_port_in_use(tmp_path: Path, taken_port: int) -> None:
    config = settings(tmp_path, f"{SLACK}metrics:\n  listen: {taken_port}\n")
    assert start_problems(config, CREDENTIALS) == [
        f"{config.source}: metrics.listen '127.0.0.1:{taken_port}': port {taken_port} is in use "
        "(another program, or another daemon)"
    ]


def test_a_slack_listen_port_in_use_in_http_mode(tmp_path: Path, taken_port: int) -> None:
    config = settings(tmp_path, f"slack:\n  mode: http\n  listen: 127.0.0.1:{taken_port}\n")
    env = {**CREDENTIALS, "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    (problem,) = start_problems(config, env)
    assert f"slack.listen '127.0.0.1:{taken_port}': port {taken_port} is in use" in problem


@pytest.mark.parametrize(
    ("listen", "problem"),
    [
        ("no-such-host.invalid:9464", "metrics.listen 'no-such-host.invalid:9464': cannot resolve"),
        ("192.0.2.1:9464", "metrics.listen '192.0.2.1:9464': 192.0.2.1 is not an address of this machine"),
        ("127.0.0.1:80", "metrics.listen '127.0.0.1:80': port 80 needs privileges"),
    ],
)
def test_an_address_the_daemon_cannot_listen_on(listen: str, problem: str) -> None:
    if listen.endswith(":80"):
        try:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 80))
            pytest.skip("this user may listen on port 80")
        except OSError:
            pass
    found = listen_problem("metrics.listen", listen)
    assert found is not None
    assert found.startswith(problem)


def test_an_ipv6_loopback_address_can_be_listened_on() -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            free = probe.getsockname()[1]
    except OSError:
        pytest.skip("no IPv6 loopback here")
    assert listen_problem("metrics.listen", f"[::1]:{free}") is None


@pytest.mark.postgres
def test_a_postgresql_role_that_does_not_exist(tmp_path: Path, postgres_server: str) -> None:
    """`check` said OK; `run` refused at its first connection."""
    host = postgres_server.split("://", 1)[1]
    config = settings(tmp_path, SLACK)
    url = f"postgresql://no_such_role:hunter2@{host}"
    config = config.model_copy(update={"state": config.state.model_copy(update={"url": url})})
    (problem,) = start_problems(config, CREDENTIALS)
    assert problem.startswith(f"PostgreSQL postgresql://no_such_role:***@{host}:")
    assert "hunter2" not in problem


@pytest.mark.postgres
def test_a_usable_postgresql_state(tmp_path: Path, postgres_url: str) -> None:
    config = settings(tmp_path, SLACK)
    config = config.model_copy(update={"state": config.state.model_copy(update={"url": postgres_url})})
    assert start_problems(config, CREDENTIALS) == []
