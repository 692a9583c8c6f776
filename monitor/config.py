"""Settings: the YAML config file plus the environment, validated with pydantic.

The file holds no secrets; credentials come only from the environment, under the official SDK's names
(`HUAWEICLOUD_SDK_AK`, ...) and bolt's (`SLACK_BOT_TOKEN`, ...). A few non-secret settings may also come from
the environment so that `workspace-monitor tasks` works with no file at all: `WORKSPACE_REGION`,
`WORKSPACE_ENDPOINT`, `HUAWEICLOUD_SDK_PROJECT_ID`, `HUAWEICLOUD_SDK_IAM_ENDPOINT`.

Problems are reported as `file:line: problem` lines, all at once, in a `ConfigError`.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor.chatops.access import CHANNEL_ID, CHANNEL_NAME, USER_HANDLE, USER_ID
from monitor.durations import parse_duration

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_PROBLEMS",
    "ConfigError",
    "Credentials",
    "MetricsSettings",
    "PagerDutySettings",
    "ProjectSettings",
    "ReportScope",
    "ReportSettings",
    "Settings",
    "SlackSettings",
    "StateSettings",
    "WorkspaceSettings",
    "default_config_path",
    "load_settings",
    "split_listen",
]

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0 (e.g. 30s)")
    return value


def _http_url(value: str | None) -> str | None:
    """An http(s) URL with a host and, if given, a port that exists."""
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL, e.g. https://example.com")
    if port == 0:
        raise ValueError(f"{value!r}: port 0 cannot be reached")
    return value


def _channel(value: str | None) -> str | None:
    if value is not None and not _CHANNEL.fullmatch(value):
        raise ValueError(
            f'{value!r} is not a Slack channel: write "#name" (lowercase, no spaces) or an id like C0123ABCD'
        )
    return value


#: Longer than 0: 0 would poll in a busy loop, or time out every request at once.
PositiveDuration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_positive)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
# As rule files' `channel:` (monitor.rules.schema): Slack channel names are lowercase without spaces;
# ids C/G/D...
_CHANNEL = re.compile(r"#[^\sA-Z#<>@,]{1,80}|[CGD][A-Z0-9]{6,}")
Channel = Annotated[str, AfterValidator(_channel)]


def _member_id(value: str) -> str:
    """`slack.admins` entries: member ids, or `@handle` looked up at start (see chatops.names)."""
    text = value.strip()
    if not (USER_ID.fullmatch(text) or USER_HANDLE.fullmatch(text)):
        raise ValueError(
            f"{value!r} is not a Slack member id: use the member id U… (in Slack: the person's profile, "
            f"⋮ > Copy member ID), or write @{_bare(text)} to have the handle looked up at start (needs the "
            "users:read scope)"
        )
    return text


def _channel_id(value: str) -> str:
    """`slack.allowed_channels` entries: channel ids, or `#name` looked up at start."""
    text = value.strip()
    if not (CHANNEL_ID.fullmatch(text) or CHANNEL_NAME.fullmatch(text)):
        raise ValueError(
            f"{value!r} is not a Slack channel id: use the channel id C… (in Slack: the channel's name > "
            f'About, at the bottom), or write "#{_bare(text)}" (quoted) to have the name looked up at start'
        )
    return text


def _bare(text: str) -> str:
    return text.lstrip("@#").strip().lower().replace(" ", "-")[:80] or "name"


MemberId = Annotated[str, AfterValidator(_member_id)]
ChannelId = Annotated[str, AfterValidator(_channel_id)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_PROJECT_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
_ENV_PREFIX = r"^[A-Z][A-Z0-9_]{0,30}$"


class ProjectSettings(_Section):
    """One project of `workspace.projects`: what differs from the shared `workspace` settings."""

    #: How rules (`match: {project: ...}`), messages and metrics name it; part of each alert's identity.
    name: str = Field(pattern=_PROJECT_NAME)
    project_id: str = Field(min_length=1)
    region: str | None = None
    endpoint: HttpUrl | None = None
    iam_endpoint: HttpUrl | None = None
    #: Its own credentials: `FINANCE` reads FINANCE_HUAWEICLOUD_SDK_AK, FINANCE_HUAWEICLOUD_SDK_SK, ... (the
    #: usual names, prefixed); unset, the shared HUAWEICLOUD_SDK_* ones.
    credentials: str | None = Field(default=None, pattern=_ENV_PREFIX)


class WorkspaceSettings(_Section):
    region: str | None = None
    endpoint: HttpUrl | None = None
    iam_endpoint: HttpUrl | None = None
    project_id: str | None = None
    auth: Literal["auto", "aksk", "iam_password", "token"] = "auto"
    poll_interval: PositiveDuration = timedelta(seconds=60)
    concurrency: int = Field(default=4, ge=1, le=32)
    timeout: PositiveDuration = timedelta(seconds=10)
    retry_attempts: int = Field(default=5, ge=1, le=20)
    #: Failing cycles in a row (unreachable, 5xx, throttled, garbage) before the ops channel is told.
    outage_cycles: int = Field(default=3, ge=1, le=1000)
    #: Every how many cycles every task (not only the failing ones) is listed, for the rules' `overdue_after`
    #: (missed runs): 1 is every cycle; the listing costs one request per 50 tasks (bench/findings.md).
    overdue_every: int = Field(default=5, ge=1, le=1000)
    #: TLS verification is always on; this names an extra CA bundle (a corporate proxy's) to trust.
    ca_bundle: str | None = None
    #: Several projects (and regions) in one daemon, each polled every cycle; instead of `project_id`.
    projects: tuple[ProjectSettings, ...] = ()

    @model_validator(mode="after")
    def _one_way_to_name_projects(self) -> WorkspaceSettings:
        if self.projects:
            if self.project_id:
                raise ValueError("set workspace.project_id or workspace.projects, not both")
            names = [project.name for project in self.projects]
            twice = sorted({name for name in names if names.count(name) > 1})
            if twice:
                raise ValueError(f"project names must differ: {', '.join(twice)} more than once")
        return self

    def per_project(self) -> list[tuple[str, str | None, WorkspaceSettings]]:
        """(name, credentials prefix, settings) of each project polled: the shared settings with the
        project's own id, region and endpoints. One project without `projects`, named by its id (so alerts
        keep their identity when a second project is added and the first is named by its id)."""
        if not self.projects:
            return [(self.project_id or "", None, self)]
        return [
            (
                project.name,
                project.credentials,
                self.model_copy(
                    update={
                        "project_id": project.project_id,
                        "region": project.region or self.region,
                        "endpoint": project.endpoint or (None if project.region else self.endpoint),
                        "iam_endpoint": project.iam_endpoint
                        or (None if project.region else self.iam_endpoint),
                        "projects": (),
                    }
                ),
            )
            for project in self.projects
        ]


class StateSettings(_Section):
    url: str = "sqlite:///var/lib/workspace-monitor/state.db"
    #: PostgreSQL (HA): how long a dead leader may go unnoticed; followers try to take over every lease/2.
    lease: PositiveDuration = timedelta(seconds=10)
    #: How long a notification a sender took and never recorded waits before another sender (or this daemon
    #: restarted after a crash) takes it over; what Slack already shows is then recognised, not re-posted.
    claim_lease: PositiveDuration = timedelta(minutes=5)
    #: How long notifications already sent (or failed for good) stay in the state file, for an operator's look
    #: at what went out when; older ones are deleted every hour, so the file stops growing. 0: never deleted.
    #: Alert state itself is never pruned (episodes and acks live there).
    outbox_retention: Duration = timedelta(days=5)


def _host_port(value: object) -> str | None:
    """`host:port` from `host:port` or a bare port (then loopback); ValueError says what to write."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("expected host:port or a port, e.g. 127.0.0.1:9464")
    host, _, port = str(value).rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port or a port, e.g. 127.0.0.1:9464")
    return f"{host or '127.0.0.1'}:{port}"


def split_listen(listen: str) -> tuple[str, int]:
    """(host, port) of a validated `host:port`; an IPv6 host loses its brackets (`[::1]:9464`)."""
    host, _, port = listen.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


class SlackSettings(_Section):
    #: socket (an xapp- token, no public URL), http (signing secret, `listen`), none (alerts only).
    mode: Literal["socket", "http", "none"] = "socket"
    default_channel: Channel | None = None
    #: Where the monitor says it cannot work (API down, a channel refusing); default_channel when unset.
    ops_channel: Channel | None = None
    api_url: HttpUrl = "https://slack.com/api/"
    #: HTTP mode: where bolt serves POST /slack/events (put it behind your TLS proxy).
    listen: str = "127.0.0.1:3000"
    #: Who may silence, unsilence and acknowledge: Slack member ids (U..., W...), or `@handle` looked up
    #: at start and on reload (users:read); never the names in a request.
    admins: tuple[MemberId, ...] = ()
    #: Channels (ids C..., G..., or `#name` looked up at start) in which anyone may silence, unsilence and
    #: acknowledge.
    allowed_channels: tuple[ChannelId, ...] = ()
    #: What the app may do to the desktops, besides reading: `retry` puts "Retry failed desktops" on alerts
    #: of redoable tasks and enables `/tasks retry` (the IAM user then needs the write actions the README
    #: names). Off by default: a read-only IAM user keeps working.
    actions: tuple[Literal["retry"], ...] = ()

    @field_validator("listen", mode="before")
    @classmethod
    def _listen(cls, value: object) -> str | None:
        return _host_port(value)

    @property
    def retry_enabled(self) -> bool:
        return "retry" in self.actions


class MetricsSettings(_Section):
    #: `host:port` or a bare port (then loopback) for /metrics and /healthz; off when unset.
    listen: str | None = None

    @field_validator("listen", mode="before")
    @classmethod
    def _host_port(cls, value: object) -> str | None:
        return _host_port(value)


class PagerDutySettings(_Section):
    """Where rules with `pagerduty: true` escalate: the Events API v2 routing key is read from the
    environment variable `routing_key_env` names (a secret stays out of the file)."""

    routing_key_env: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]{0,63}$")
    events_url: HttpUrl = "https://events.pagerduty.com/v2/enqueue"


#: The most entries each of a report's scope lists holds: every task's name is tried against every glob
#: when the report is built (100,000 globs over 10,000 tasks would have been a billion matches).
MAX_SCOPE_ENTRIES = 100


class ReportScope(_Section):
    """What a report covers; each left empty means all."""

    #: Rule names: tasks one of these rules would alert on.
    rules: tuple[str, ...] = Field(default=(), max_length=MAX_SCOPE_ENTRIES)
    #: Task name globs ("prod-*").
    tasks: tuple[Annotated[str, Field(max_length=200)], ...] = Field(default=(), max_length=MAX_SCOPE_ENTRIES)
    #: Project names (workspace.projects), or the project id with one project.
    projects: tuple[str, ...] = Field(default=(), max_length=MAX_SCOPE_ENTRIES)


class ReportSettings(_Section):
    """One periodic report (monitor.reports): posted by the leader once per firing of `schedule`."""

    #: Names the report in its message and in the state (each firing is queued once under it).
    name: str = Field(pattern=_PROJECT_NAME)
    channel: Channel
    #: Five cron fields, minute hour day-of-month month day-of-week, in `zone`: "0 9 * * mon".
    schedule: str
    zone: str = "UTC"
    #: How many days before the firing's day the report covers, compared with as many days before those.
    days: int = Field(default=7, ge=1, le=180)
    scope: ReportScope = ReportScope()

    @field_validator("schedule")
    @classmethod
    def _schedule_reads(cls, value: str) -> str:
        from monitor.reports.schedule import schedule_problem

        problem = schedule_problem(value)  # ValueError when it is no cron schedule at all
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("zone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        from monitor.reports.schedule import report_zone

        report_zone(value)
        return value


class Settings(_Section):
    workspace: WorkspaceSettings = WorkspaceSettings()
    state: StateSettings = StateSettings()
    rules: str = "/etc/workspace-monitor/rules"
    slack: SlackSettings = SlackSettings()
    metrics: MetricsSettings = MetricsSettings()
    pagerduty: PagerDutySettings = PagerDutySettings()
    #: Periodic reports with a chart (monitor.reports), each to its channel on its schedule.
    reports: tuple[ReportSettings, ...] = ()
    #: Where the settings came from, for messages ("config.yaml" or "(defaults)").
    source: str = Field(default="(defaults)", exclude=True)

    @field_validator("reports")
    @classmethod
    def _report_names_differ(cls, reports: tuple[ReportSettings, ...]) -> tuple[ReportSettings, ...]:
        names = [report.name for report in reports]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"report names must differ: {', '.join(twice)} more than once")
        return reports


class ConfigError(Exception):
    """The configuration cannot be used; `problems` are `file:line: problem` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Credentials:
    """Secrets, from the environment only. `repr` never shows them."""

    access_key: str | None = None
    secret_key: str | None = None
    security_token: str | None = None
    iam_username: str | None = None
    iam_password: str | None = None
    iam_domain: str | None = None
    auth_token: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], prefix: str | None = None) -> Credentials:
        """The credentials in the environment; with `prefix` (a project's `credentials`), the variables
        named `{prefix}_HUAWEICLOUD_SDK_AK` and so on, and never the shared ones."""

        def get(name: str) -> str | None:
            return env.get(f"{prefix}_{name}" if prefix else name) or None

        return cls(
            access_key=get("HUAWEICLOUD_SDK_AK"),
            secret_key=get("HUAWEICLOUD_SDK_SK"),
            security_token=get("HUAWEICLOUD_SDK_SECURITY_TOKEN"),
            iam_username=get("HUAWEICLOUD_IAM_USERNAME"),
            iam_password=get("HUAWEICLOUD_IAM_PASSWORD"),
            iam_domain=get("HUAWEICLOUD_IAM_DOMAIN"),
            auth_token=get("HUAWEICLOUD_AUTH_TOKEN"),
        )

    def __repr__(self) -> str:
        present = [name for name, value in vars(self).items() if value]
        return f"Credentials(set={present})"


def default_config_path(env: Mapping[str, str]) -> Path:
    return Path(env.get("WORKSPACE_MONITOR_CONFIG") or "config.yaml")


_ENV_OVERRIDES = {
    "WORKSPACE_REGION": "region",
    "WORKSPACE_ENDPOINT": "endpoint",
    "HUAWEICLOUD_SDK_IAM_ENDPOINT": "iam_endpoint",
}


#: A config file larger than this is refused unread.
MAX_CONFIG_BYTES = 1024 * 1024
#: Problems listed in one ConfigError; the rest are counted in one last line (as rule files do).
MAX_PROBLEMS = 100


def load_settings(path: Path | None, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from `path` (or the default location, which may be absent) and the environment.

    An explicitly named file that does not exist is an error; the default `./config.yaml` may be missing.
    """
    env = os.environ if env is None else env
    explicit = path is not None
    path = path or default_config_path(env)
    raw: dict[str, Any] = {}
    source = "(defaults)"
    locator = None
    # PyYAML keeps the last of two equal keys: a second `slack:` would drop the first one's admins silently.
    problems: list[tuple[int, str]] = []
    if path.exists():
        # Imported only to read a file: PyYAML costs more to import than anything else here, and `tasks`
        # runs with no file at all (environment only) as often as with one (bench/findings.md, start-up).
        from monitor.yamlfile import YamlError, duplicate_keys, parse_yaml

        source = str(path)
        status = path.stat()
        # A FIFO would block the read for ever, /dev/zero fill the memory.
        if not stat.S_ISREG(status.st_mode):
            raise ConfigError([f"{path}: not a regular file: the config must be a regular file"])
        if status.st_size > MAX_CONFIG_BYTES:
            raise ConfigError([f"{path}: {status.st_size:,} bytes: larger than a config can be"])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([f"{path}: cannot read: {exc}"]) from None
        try:
            data, locator = parse_yaml(text, str(path))
        except YamlError as exc:
            raise ConfigError([str(exc)]) from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError([f"{path}:1: the config file must be a mapping (workspace:, state:, ...)"])
        raw = data
        problems = [(dup.line, f"{path}:{dup.line}: {dup}") for dup in duplicate_keys(locator)]
    elif explicit or "WORKSPACE_MONITOR_CONFIG" in env:
        raise ConfigError([f"{path}: no such config file"])

    workspace = raw.get("workspace") or {}
    if isinstance(workspace, dict):
        workspace = dict(workspace)
        for variable, key in _ENV_OVERRIDES.items():
            if env.get(variable):
                workspace[key] = env[variable]
        if (
            not workspace.get("project_id")
            and not workspace.get("projects")
            and env.get("HUAWEICLOUD_SDK_PROJECT_ID")
        ):
            workspace["project_id"] = env["HUAWEICLOUD_SDK_PROJECT_ID"]
        raw = {**raw, "workspace": workspace}
    try:
        settings = Settings.model_validate({**raw, "source": source})
    except ValidationError as exc:
        for error in exc.errors():
            loc = [
                part for part in error["loc"] if not isinstance(part, str) or not part.startswith("function")
            ]
            where = locator.where(loc) if locator else source
            dotted = ".".join(str(part) for part in loc)
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown setting"
            line = locator.line_of(loc) if locator else 0
            problems.append((line, f"{where}: {dotted}: {message}"))
    if problems:
        problems.sort(key=lambda problem: problem[0])
        shown = [text for _, text in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            line = problems[MAX_PROBLEMS][0]
            where = f"{source}:{line}" if line else source
            shown.append(
                f"{where}: and {len(problems) - MAX_PROBLEMS:,} more problems (fix the ones above first)"
            )
        raise ConfigError(shown)
    return settings
