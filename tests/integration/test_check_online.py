"""`check --online` asks the Workspace API (the simulator) and Slack (the stand-in) whether the credentials,
tokens and scopes work: a line each, `✓`, `✗` with the fix (exit 1), or `!` for what is degraded; the last
line is the one verdict."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from monitor.commands import check
from monitor.devtools.sim import DEFAULT_ACCESS_KEY, DEFAULT_PROJECT_ID, DEFAULT_SECRET_KEY, SimulatorThread
from monitor.devtools.slackstub import DEFAULT_TOKEN, SlackStubOptions, SlackStubThread
from monitor.devtools.slackstub.options import DEFAULT_APP_TOKEN, DEFAULT_SCOPES
from monitor.online import LIST_PERMISSION
from tests.support.daemon import write_config
from tests.support.simapi import small_options

ENV_NAMES = (
    "HUAWEICLOUD_SDK_AK",
    "HUAWEICLOUD_SDK_SK",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
)


@dataclass
class World:
    tmp_path: Path
    sim: SimulatorThread
    stub: SlackStubThread
    monkeypatch: pytest.MonkeyPatch

    def check(
        self, *, slack: str = "mode: none", project_id: str = DEFAULT_PROJECT_ID, **env: str
    ) -> tuple[int, list[str]]:
        extra = f"slack:\n  api_url: {self.stub.api_url}\n" + "".join(
            f"  {line}\n" for line in slack.splitlines()
        )
        config = write_config(self.tmp_path, self.sim.base_url, extra=extra)
        if project_id != DEFAULT_PROJECT_ID:
            config.write_text(config.read_text().replace(DEFAULT_PROJECT_ID, project_id))
        given = {"HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY, "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY,
                 "SLACK_BOT_TOKEN": DEFAULT_TOKEN, **env}  # fmt: skip
        for name in ENV_NAMES:
            if given.get(name):
                self.monkeypatch.setenv(name, given[name])
            else:
                self.monkeypatch.delenv(name, raising=False)
        out = io.StringIO()
        code = check(config, None, Console(file=out, width=100), online=True)
        return code, out.getvalue().splitlines()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[World]:
    scopes = getattr(request, "param", DEFAULT_SCOPES)
    with (
        SimulatorThread(small_options()) as sim,
        SlackStubThread(SlackStubOptions(scopes=frozenset(scopes))) as stub,
    ):
        yield World(tmp_path, sim, stub, monkeypatch)


def test_everything_working_is_a_tick_each_and_ok_last(world: World) -> None:
    code, lines = world.check()
    assert code == 0, lines
    [workspace] = [line for line in lines if "workspace project" in line]
    assert workspace.startswith("✓ ")
    assert f"project {DEFAULT_PROJECT_ID}" in workspace
    assert f"endpoint {world.sim.base_url}" in workspace
    assert any(line.startswith("✓ slack auth.test: SLACK_BOT_TOKEN works") for line in lines), lines
    assert any(line.startswith("✓ slack scopes:") for line in lines), lines
    assert lines[-1].startswith("OK: ")


def test_a_secret_key_the_api_rejects_is_a_cross_with_the_fix(world: World) -> None:
    code, lines = world.check(HUAWEICLOUD_SDK_SK="not-the-secret")
    assert code == 1
    [workspace] = [line for line in lines if "workspace project" in line]
    assert workspace.startswith("✗ ")
    assert "HTTP 401" in workspace
    assert "verify HUAWEICLOUD_SDK_AK/SK" in workspace
    assert lines[-1] == "1 problem found"


def test_a_403_names_the_iam_permission_the_listing_needs(world: World) -> None:
    denied = {
        "error_code": "WKS.0004",
        "error_msg": f"Policy doesn't allow {LIST_PERMISSION} to be performed.",
    }
    world.sim.call(world.sim.state.add_fault, "status", endpoint="list", status=403, body=denied)
    code, lines = world.check()
    assert code == 1
    [workspace] = [line for line in lines if "workspace project" in line]
    assert workspace.startswith("✗ ")
    assert f"fix: grant the IAM user (or agency) the permission {LIST_PERMISSION}" in workspace


def test_a_project_id_not_of_these_credentials_is_a_cross(world: World) -> None:
    """The simulator answers 403 WKS.0005 "project id mismatch", as for a project of another account."""
    code, lines = world.check(project_id="fedcba9876543210fedcba9876543210")
    assert code == 1
    [workspace] = [line for line in lines if "workspace project" in line]
    assert "project fedcba9876543210fedcba9876543210" in workspace
    assert "project id mismatch" in workspace
    assert LIST_PERMISSION in workspace


@pytest.mark.parametrize("world", [{"chat:write", "commands"}], indirect=True)
def test_without_the_history_scopes_check_passes_and_says_what_each_serves(world: World) -> None:
    code, lines = world.check()
    assert code == 0, lines
    warned = [line for line in lines if line.startswith("! slack scope ")]
    assert [line.split()[3] for line in warned] == [
        "channels:history",
        "groups:history",
        "channels:read",
        "groups:read",
    ]
    assert all("may be posted twice" in line or "names to ids" in line for line in warned), warned
    assert lines[-1].startswith("OK: ")
    assert lines[-1].endswith("; 4 warnings")


@pytest.mark.parametrize("world", [{"commands", "channels:history"}], indirect=True)
def test_without_chat_write_check_fails_and_never_says_ok(world: World) -> None:
    code, lines = world.check()
    assert code == 1
    assert any(
        line.startswith("✗ slack scope chat:write missing (it serves: every alert") for line in lines
    ), lines
    assert not any(line.startswith("OK") for line in lines)
    assert lines[-1] == "1 problem found"


@pytest.mark.parametrize("world", [DEFAULT_SCOPES - {"commands"}], indirect=True)
def test_the_commands_scope_is_needed_only_when_the_chat_app_runs(world: World) -> None:
    assert world.check(slack="mode: none")[0] == 0
    code, lines = world.check(slack="mode: socket", SLACK_APP_TOKEN=DEFAULT_APP_TOKEN)
    assert code == 1
    assert any(
        line.startswith("✗ slack scope commands missing (it serves: the /tasks command)") for line in lines
    )


def test_the_scopes_a_config_asks_for_by_name_are_required(world: World) -> None:
    """`@handle`s in slack.admins are looked up with users:read, which the manifest does not ask for."""
    code, lines = world.check(slack='mode: none\nadmins: ["@alice"]')
    assert code == 1
    assert any(line.startswith("✗ slack scope users:read missing") for line in lines), lines


def test_socket_mode_opens_a_connection_with_the_app_token(world: World) -> None:
    code, lines = world.check(slack="mode: socket", SLACK_APP_TOKEN=DEFAULT_APP_TOKEN)
    assert code == 0, lines
    assert "✓ slack apps.connections.open: SLACK_APP_TOKEN opens Socket Mode connections" in lines


def test_an_app_token_slack_refuses_is_a_cross_with_the_fix(world: World) -> None:
    code, lines = world.check(slack="mode: socket", SLACK_APP_TOKEN="xapp-1-A0OTHER-0000-not-ours")
    assert code == 1
    [opened] = [line for line in lines if "apps.connections.open" in line]
    assert opened.startswith(
        "✗ slack apps.connections.open: invalid_auth; fix: set the app's SLACK_APP_TOKEN"
    )


def test_a_bot_token_slack_refuses_is_a_cross_with_the_fix(world: World) -> None:
    code, lines = world.check(SLACK_BOT_TOKEN="xoxb-not-a-token-slack-knows")
    assert code == 1
    fix = "set the app's SLACK_BOT_TOKEN (the Bot User OAuth Token, xoxb-)"
    assert f"✗ slack auth.test: invalid_auth; fix: {fix}" in lines
