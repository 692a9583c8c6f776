"""Settings load from YAML plus environment, and every problem is reported as file:line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from monitor.config import ConfigError, Credentials, load_settings
from monitor.workspace.auth import AkSkAuth, IamPasswordAuth, StaticTokenAuth
from monitor.workspace.errors import ConfigurationError
from monitor.workspace.factory import build_auth, build_client, workspace_endpoint


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_defaults_when_no_file_exists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, env={})
    assert settings.workspace.poll_interval == timedelta(seconds=60)
    assert settings.workspace.concurrency == 4
    assert settings.source == "(defaults)"


def test_an_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(tmp_path / "nope.yaml", env={})


def test_file_values_and_environment_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "workspace:\n  region: cn-north-4\n  concurrency: 8\n  poll_interval: 2m\n")
    env = {"WORKSPACE_ENDPOINT": "http://127.0.0.1:8900", "HUAWEICLOUD_SDK_PROJECT_ID": "abc"}
    settings = load_settings(path, env=env)
    assert settings.workspace.concurrency == 8
    assert settings.workspace.poll_interval == timedelta(minutes=2)
    assert settings.workspace.endpoint == "http://127.0.0.1:8900"
    assert settings.workspace.project_id == "abc"


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "workspace:\n"
        "  region: cn-north-4\n"
        "  concurrency: lots\n"
        "  poll_interval: soon\n"
        "  sk: do-not-put-secrets-here\n"
        "slack:\n"
        "  mode: carrier-pigeon\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    problems = caught.value.problems
    assert f"{path}:3: workspace.concurrency: Input should be a valid integer" in problems[0]
    assert any(p.startswith(f"{path}:4: workspace.poll_interval: 'soon' is not a duration") for p in problems)
    assert f"{path}:5: workspace.sk: unknown setting" in problems
    assert any(p.startswith(f"{path}:7: slack.mode:") for p in problems)
    assert len(problems) == 4


def test_slack_access_lists_take_ids_or_marked_names_and_refuse_bare_names_with_their_line_and_the_fix(
    tmp_path: Path,
) -> None:
    """Issue 20 #1: access goes by ids. A bare name is refused (is `alice` a handle, a display name, a typo
    of an id?); `@alice` and `"#desktop-ops"` are names on purpose, looked up to ids at start."""
    path = write(
        tmp_path,
        "slack:\n"
        "  admins:\n"
        "    - U0ADMIN1\n"
        "    - alice\n"
        "  allowed_channels: [C0DESKOPS1, desktop-ops, G0PRIVATE1]\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert caught.value.problems == [
        f"{path}:4: slack.admins.1: 'alice' is not a Slack member id: use the member id U… (in Slack: the "
        "person's profile, ⋮ > Copy member ID), or write @alice to have the handle looked up at start "
        "(needs the users:read scope)",
        f"{path}:5: slack.allowed_channels.1: 'desktop-ops' is not a Slack channel id: use the channel id C… "
        "(in Slack: the channel's name > About, at the bottom), "
        'or write "#desktop-ops" (quoted) to have the name looked up at start',
    ]
    path.write_text(
        "slack:\n  admins: [U0ADMIN1, W0GRIDUSER, '@alice']\n"
        "  allowed_channels: [C0DESKOPS1, G0PRIVATE1, '#desktop-ops']\n"
    )
    settings = load_settings(path, env={})
    assert settings.slack.admins == ("U0ADMIN1", "W0GRIDUSER", "@alice")
    assert settings.slack.allowed_channels == ("C0DESKOPS1", "G0PRIVATE1", "#desktop-ops")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("workspace:\n  region: [unclosed\n", 3, id="unclosed flow sequence"),
        pytest.param("workspace:\n\tregion: x\n", 2, id="tab indentation"),
        pytest.param("- just\n- a list\n", 1, id="not a mapping"),
    ],
)
def test_unparseable_files_give_a_line(tmp_path: Path, text: str, line: int) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert caught.value.problems[0].startswith(f"{path}:{line}: ")


def test_unknown_region_names_the_known_ones(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "workspace:\n  region: cn-nort-4\n"), env={})
    with pytest.raises(ConfigurationError, match=r"unknown region 'cn-nort-4'.*cn-north-4"):
        workspace_endpoint(settings.workspace)


def test_region_gives_the_official_endpoint(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "workspace:\n  region: ap-southeast-1\n"), env={})
    assert workspace_endpoint(settings.workspace) == "https://workspace.ap-southeast-1.myhuaweicloud.com"


def test_missing_credentials_say_what_to_set(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "workspace:\n  region: cn-north-4\n  project_id: p\n"), env={})
    with pytest.raises(ConfigurationError, match="HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK"):
        build_client(settings.workspace, Credentials())


def test_missing_project_id_is_a_configuration_error(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "workspace:\n  region: cn-north-4\n"), env={})
    with pytest.raises(ConfigurationError, match="HUAWEICLOUD_SDK_PROJECT_ID"):
        build_client(settings.workspace, Credentials(access_key="a", secret_key="b"))


@pytest.mark.parametrize(
    ("env", "auth_type"),
    [
        ({"HUAWEICLOUD_SDK_AK": "ak", "HUAWEICLOUD_SDK_SK": "sk"}, AkSkAuth),
        (
            {"HUAWEICLOUD_IAM_USERNAME": "u", "HUAWEICLOUD_IAM_PASSWORD": "p", "HUAWEICLOUD_IAM_DOMAIN": "d"},
            IamPasswordAuth,
        ),
        ({"HUAWEICLOUD_AUTH_TOKEN": "t"}, StaticTokenAuth),
    ],
)
def test_auto_auth_picks_the_scheme_whose_credentials_are_set(env: dict[str, str], auth_type: type) -> None:
    settings = load_settings(None, env={"WORKSPACE_REGION": "cn-north-4", "HUAWEICLOUD_SDK_PROJECT_ID": "p"})
    auth = build_auth(settings.workspace, Credentials.from_env(env), httpx.AsyncClient())
    assert isinstance(auth, auth_type)


def test_half_an_access_key_is_an_error() -> None:
    settings = load_settings(None, env={"WORKSPACE_REGION": "cn-north-4"})
    with pytest.raises(ConfigurationError, match="both HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK"):
        build_auth(settings.workspace, Credentials(access_key="only-ak"), httpx.AsyncClient())


def test_credentials_repr_never_shows_secrets() -> None:
    credentials = Credentials(access_key="AKVALUE", secret_key="SKVALUE-secret")
    assert "SKVALUE" not in repr(credentials)
    assert "AKVALUE" not in repr(credentials)


def test_slack_actions_are_off_by_default_and_retry_turns_the_retry_on(tmp_path: Path) -> None:
    """Issue 18: a read-only IAM user keeps working, so writing to desktops is asked for by name."""
    assert load_settings(write(tmp_path, "slack:\n  mode: none\n"), env={}).slack.retry_enabled is False
    settings = load_settings(write(tmp_path, "slack:\n  actions: [retry]\n"), env={})
    assert settings.slack.actions == ("retry",)
    assert settings.slack.retry_enabled


def test_an_unknown_slack_action_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "slack:\n  mode: none\n  actions:\n    - retry\n    - rebuild\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}:5: slack.actions.1: Input should be 'retry'"), problem
