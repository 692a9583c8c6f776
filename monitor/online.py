"""What `check --online` asks the services, one line each, `✓` it works, `✗` it does not (and the fix), `!`
it works degraded (and what is lost):

- each Workspace project: one `limit=1` listing with its credentials, naming the region, endpoint and
  project; a 403 names the IAM permission the listing needs (`workspace:scheduledTasks:list`, the
  "Authorization Information" of ListScheduledTasks in the Workspace API reference);
- the bot token: `auth.test`, and the scopes Slack says it has (the `x-oauth-scopes` header) against what
  this configuration needs (`monitor.slack.scopes`), each missing one named with what it serves;
- in Socket Mode, the app-level token: `apps.connections.open` (its URL is thrown away unused);
- with `pagerduty:` configured, the routing key's format (32 letters and digits), asked of nobody: an event
  is the only test PagerDuty offers, and it would page the on-call;
- with retries on (`slack.actions: [retry]`), the IAM actions they need, said and not tried: the only test
  of a write is the write (a reboot), so a refused retry names the missing action when it happens.

Nothing is written, posted or opened beyond those requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from slack_sdk.errors import SlackApiError

from monitor.config import Credentials, Settings, SlackSettings, WorkspaceSettings
from monitor.logs import register_secret
from monitor.workspace.errors import AuthError, ConfigurationError, WorkspaceError

__all__ = [
    "LIST_PERMISSION",
    "Finding",
    "online_findings",
    "pagerduty_findings",
    "retry_findings",
    "scope_findings",
    "slack_error_finding",
    "workspace_error_finding",
]

#: The IAM action GET /v2/{project_id}/scheduled-tasks needs (support.huaweicloud.com/intl/en-us/
#: api-workspace/ListScheduledTasks.html, "Authorization Information").
LIST_PERMISSION = "workspace:scheduledTasks:list"
#: The most one online question may take.
TIMEOUT_SECONDS = 10

Status = Literal["ok", "problem", "warning"]
MARKS: dict[Status, str] = {"ok": "✓", "problem": "✗", "warning": "!"}


@dataclass(frozen=True)
class Finding:
    status: Status
    text: str

    @property
    def line(self) -> str:
        return f"{MARKS[self.status]} {self.text}"


async def online_findings(settings: Settings, env: Mapping[str, str]) -> list[Finding]:
    """Every online question this configuration and environment lead to, asked side by side."""
    from monitor.chatops.runner import SlackTokens, app_enabled

    tokens = SlackTokens.from_env(env)
    groups = await asyncio.gather(
        *(
            _workspace_finding(name, prefix, workspace, env)
            for name, prefix, workspace in settings.workspace.per_project()
        ),
        _slack_findings(
            settings.slack,
            tokens.bot,
            tokens.app,
            chat_app=app_enabled(settings.slack, tokens),
            reports=bool(settings.reports),
        ),
    )
    found = [finding for group in groups for finding in group]
    return found + pagerduty_findings(settings, env) + retry_findings(settings)


def retry_findings(settings: Settings) -> list[Finding]:
    """With retries on, the write actions they need: named, never tried (trying one would act)."""
    from monitor.workspace.actions import IAM_ACTIONS

    if not settings.slack.retry_enabled:
        return []
    needed = ", ".join(sorted(set(IAM_ACTIONS.values())))
    return [Finding("warning", f"retries from Slack are on (slack.actions: [retry]): the IAM user needs "
                               f"{needed}; not tried (a test would act on desktops), a refused retry names "
                               "the missing one")]  # fmt: skip


def pagerduty_findings(settings: Settings, env: Mapping[str, str]) -> list[Finding]:
    """The routing key's format only: PagerDuty cannot be asked whether a key works without paging."""
    from monitor.runtime import make_pagerduty

    if not settings.pagerduty.routing_key_env:
        return []
    try:
        make_pagerduty(settings, env)
    except ConfigurationError as exc:
        return [Finding("problem", f"PagerDuty: {exc}")]
    where = settings.pagerduty.events_url
    return [Finding("ok", f"PagerDuty: {settings.pagerduty.routing_key_env} is a routing key (format only: "
                          f"testing it would page someone), events to {where}")]  # fmt: skip


def _where(name: str, workspace: WorkspaceSettings, endpoint: str) -> str:
    return (
        f"workspace project {name} (region {workspace.region or '-'}, endpoint {endpoint}, "
        f"project {workspace.project_id})"
    )


async def _workspace_finding(
    name: str, prefix: str | None, workspace: WorkspaceSettings, env: Mapping[str, str]
) -> list[Finding]:
    from monitor.workspace.factory import build_client

    credentials = Credentials.from_env(env, prefix)
    register_secret(credentials.secret_key, credentials.security_token, credentials.iam_password,
                    credentials.auth_token)  # fmt: skip
    # One question, answered or not: no retries (a 5xx or a timeout is the answer `check` reports).
    once = workspace.model_copy(update={"retry_attempts": 1})
    try:
        client = build_client(once, credentials)
    except ConfigurationError:
        return []  # the offline check said why already
    where = _where(name, workspace, client.endpoint)
    async with client:
        try:
            total = await client.probe()
        except WorkspaceError as exc:
            return [workspace_error_finding(where, exc)]
    return [Finding("ok", f"{where}: the credentials list scheduled tasks ({total} in the project)")]


def workspace_error_finding(where: str, exc: WorkspaceError) -> Finding:
    """The line for a failed listing: what the API said, and the fix (a 403: the IAM permission)."""
    if isinstance(exc, AuthError) and exc.status == 403:
        said = ", ".join(part for part in (f"HTTP {exc.status}", exc.error_code or "") if part)
        return Finding(
            "problem",
            f"{where}: {exc.endpoint}: {exc.message} ({said}); fix: grant the IAM user (or agency) the "
            f"permission {LIST_PERMISSION} in this project, and check that the project id is of this "
            "account and region",
        )
    return Finding("problem", f"{where}: {exc}")


async def _slack_findings(
    settings: SlackSettings, bot: str | None, app: str | None, *, chat_app: bool, reports: bool = False
) -> list[Finding]:
    from monitor.slack.client import web_client
    from monitor.slack.scopes import oauth_scopes

    api_url = str(settings.api_url)
    findings: list[Finding] = []
    if bot:
        try:
            answer = await web_client(bot, api_url, timeout=TIMEOUT_SECONDS).auth_test()
        except SlackApiError as exc:
            findings.append(slack_error_finding("auth.test", "SLACK_BOT_TOKEN", exc))
        except Exception as exc:  # aiohttp's, a timeout: Slack did not answer
            findings.append(_unreachable("auth.test", api_url, exc))
        else:
            who = f"team {answer.get('team')}, bot user {answer.get('user')}"
            findings.append(Finding("ok", f"slack auth.test: SLACK_BOT_TOKEN works ({who})"))
            findings.extend(
                scope_findings(oauth_scopes(answer.headers), settings, chat_app=chat_app, reports=reports)
            )
    if app and settings.mode == "socket":
        try:
            await web_client(app, api_url, timeout=TIMEOUT_SECONDS).apps_connections_open(app_token=app)
        except SlackApiError as exc:
            findings.append(slack_error_finding("apps.connections.open", "SLACK_APP_TOKEN", exc))
        except Exception as exc:
            findings.append(_unreachable("apps.connections.open", api_url, exc))
        else:
            findings.append(
                Finding("ok", "slack apps.connections.open: SLACK_APP_TOKEN opens Socket Mode connections")
            )
    return findings


def _unreachable(method: str, api_url: str, exc: Exception) -> Finding:
    return Finding(
        "problem",
        f"slack {method}: no answer from {api_url} ({type(exc).__name__}); fix: check the network, a proxy, "
        "and slack.api_url",
    )


#: What to do when Slack refuses a token, by its `error`.
_TOKEN_FIXES = {
    "invalid_auth": "set the app's {token} ({kind})",
    "not_authed": "set {token} ({kind})",
    "not_allowed_token_type": "{token} is the wrong kind of token: it must be {kind}",
    "token_revoked": "the token was revoked (app removed?): reinstall the app and set the new {token}",
    "token_expired": "the token expired: reinstall the app (or turn off token rotation) and set {token}",
    "account_inactive": "the bot user or the workspace is deactivated: reinstall the app",
}
_KINDS = {
    "SLACK_BOT_TOKEN": "the Bot User OAuth Token, xoxb-",
    "SLACK_APP_TOKEN": "an app-level token, xapp-, with connections:write (Basic Information > App-Level "
    "Tokens)",
}


def slack_error_finding(method: str, token: str, exc: SlackApiError) -> Finding:
    error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
    fix = _TOKEN_FIXES.get(error, "see api.slack.com/methods/" + method + " (Errors)")
    return Finding("problem", f"slack {method}: {error}; fix: " + fix.format(token=token, kind=_KINDS[token]))


def scope_findings(
    granted: frozenset[str] | None, settings: SlackSettings, *, chat_app: bool, reports: bool = False
) -> list[Finding]:
    """The token's scopes against what this configuration needs: one line per missing scope (✗ when
    something configured cannot work, ! when only a safety net is lost), or one ✓."""
    from monitor.slack.scopes import missing_scopes

    if granted is None:
        unknown = "slack scopes: Slack did not say which scopes the token has (no x-oauth-scopes header)"
        return [Finding("warning", unknown)]
    fix = "add it (OAuth & Permissions > Bot Token Scopes) and reinstall the app"
    missing = missing_scopes(granted, settings, chat_app=chat_app, reports=reports)
    if not missing:
        has = ", ".join(sorted(granted))
        return [Finding("ok", f"slack scopes: the token has every scope this config needs ({has})")]
    return [
        Finding(
            "problem" if scope.required else "warning",
            f"slack scope {scope.scope} missing (it serves: {scope.serves}); "
            + (f"fix: {fix}" if scope.required else f"works without it, degraded; to fix: {fix}"),
        )
        for scope in missing
    ]  # fmt: skip
