"""`check --online`'s lines, as tables: which scopes a configuration needs (and how badly), and what a
failed Workspace listing says to do."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from monitor.config import SlackSettings
from monitor.online import LIST_PERMISSION, scope_findings, workspace_error_finding
from monitor.slack.scopes import BOT_SCOPES, missing_scopes
from monitor.workspace.errors import AuthError, TransportError, WorkspaceError

ALL = frozenset(entry.scope for entry in BOT_SCOPES)
RECONCILE = ("channels:history", "groups:history", "channels:read", "groups:read")


@pytest.mark.parametrize(
    ("granted", "settings", "chat_app", "missing"),
    [
        (ALL, SlackSettings(), True, []),
        (ALL - {"users:read"}, SlackSettings(), True, []),  # no @handles: users:read is not needed
        (frozenset({"chat:write"}), SlackSettings(mode="none"), False, [(s, False) for s in RECONCILE]),
        (ALL - {"chat:write"}, SlackSettings(), False, [("chat:write", True)]),
        (ALL - {"commands"}, SlackSettings(mode="none"), False, []),
        (ALL - {"commands"}, SlackSettings(), True, [("commands", True)]),
        (ALL - {"users:read"}, SlackSettings(admins=("@alice",)), True, [("users:read", True)]),
        (
            ALL - {"channels:read", "groups:read"},
            SlackSettings(allowed_channels=("#ops",)),
            True,
            [("channels:read", True), ("groups:read", True)],
        ),
        (
            ALL - {"channels:read"},
            SlackSettings(allowed_channels=("C0123456",)),
            True,
            [("channels:read", False)],
        ),
    ],
)
def test_the_scopes_a_config_needs(
    granted: frozenset[str], settings: SlackSettings, chat_app: bool, missing: list[tuple[str, bool]]
) -> None:
    found = missing_scopes(granted, settings, chat_app=chat_app)
    assert [(scope.scope, scope.required) for scope in found] == missing


def test_the_table_covers_every_scope_the_manifest_asks_for() -> None:
    manifest = yaml.safe_load(Path("slack/manifest.yml").read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) <= ALL


def test_a_missing_scope_says_what_it_serves_and_how_to_add_it() -> None:
    [line] = scope_findings(ALL - {"commands"}, SlackSettings(), chat_app=True)
    assert line.status == "problem"
    assert line.line == (
        "✗ slack scope commands missing (it serves: the /tasks command); "
        "fix: add it (OAuth & Permissions > Bot Token Scopes) and reinstall the app"
    )


def test_a_token_slack_says_nothing_about_is_a_warning_not_a_pass() -> None:
    [line] = scope_findings(None, SlackSettings(), chat_app=True)
    assert line.status == "warning"


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (AuthError("Policy doesn't allow it", endpoint="GET /x", status=403, error_code="WKS.0004"),
         f"GET /x: Policy doesn't allow it (HTTP 403, WKS.0004); fix: grant the IAM user (or agency) the permission {LIST_PERMISSION}"),  # noqa: E501
        (AuthError("bad signature", endpoint="GET /x", status=401, hint="AK/SK rejected: verify it"),
         "GET /x: bad signature (HTTP 401); AK/SK rejected: verify it"),
        (TransportError("cannot reach h", endpoint="GET /x", hint="check workspace.region"),
         "GET /x: cannot reach h; check workspace.region"),
    ],
)  # fmt: skip
def test_a_failed_listing_says_what_to_do(error: WorkspaceError, says: str) -> None:
    finding = workspace_error_finding("workspace project p", error)
    assert finding.status == "problem"
    assert finding.line.startswith(f"✗ workspace project p: {says}")


def test_reports_without_files_write_only_degrade() -> None:
    """Without files:write a report carries a text table instead of its chart: a warning, not a problem."""
    found = missing_scopes(ALL - {"files:write"}, SlackSettings(), chat_app=True, reports=True)
    assert [(scope.scope, scope.required) for scope in found] == [("files:write", False)]
    assert missing_scopes(ALL - {"files:write"}, SlackSettings(), chat_app=True) == []


def test_retries_on_name_the_write_actions_they_need_without_trying_them() -> None:
    from monitor.config import Settings
    from monitor.online import retry_findings

    assert retry_findings(Settings.model_validate({"slack": {"mode": "none"}})) == []
    [finding] = retry_findings(Settings.model_validate({"slack": {"actions": ["retry"]}}))
    assert finding.status == "warning"
    for action in ("workspace:desktops:operate", "workspace:jobs:get", "workspace:scripts:retry"):
        assert action in finding.text
    assert "not tried" in finding.text
