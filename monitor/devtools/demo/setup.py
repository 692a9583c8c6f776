"""What the daemon half of `make demo` starts `workspace-monitor run` with: which Slack, its files, its env.

    choose_slack(env)                the Slack stand-in on loopback (default), or a real workspace when
                                     SLACK_BOT_TOKEN, SLACK_APP_TOKEN and DEMO_SLACK_CHANNEL are all set
    demo_rules(channel)              rules.yaml: prod-* tasks are the desktop-ops team's, reminded every 15 s
                                     and paged through PagerDuty
    demo_config(...)                 config.yaml: the simulator, SQLite, 2-second polls, Socket Mode, the
                                     PagerDuty stand-in as the Events API
    daemon_environment(target, ...)  the child's environment, built from nothing: a developer's own
                                     Workspace credentials or WORKSPACE_* overrides never leak into the demo

Pure functions over plain data; `story` does the starting and the talking.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from monitor.devtools.sim import DEFAULT_ACCESS_KEY, DEFAULT_PROJECT_ID, DEFAULT_SECRET_KEY
from monitor.devtools.slackstub import DEFAULT_APP_TOKEN, DEFAULT_TOKEN

__all__ = [
    "PAGERDUTY_KEY",
    "PAGERDUTY_KEY_ENV",
    "POLL_INTERVAL",
    "REAL_SLACK_VARIABLES",
    "REPEAT_INTERVAL",
    "STUB_ADMIN",
    "STUB_ADMIN_ID",
    "STUB_CHANNEL",
    "SlackTarget",
    "choose_slack",
    "daemon_environment",
    "demo_config",
    "demo_rules",
]

#: All three select a real Slack workspace; any missing keeps the demo on the stand-in.
REAL_SLACK_VARIABLES = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "DEMO_SLACK_CHANNEL")
STUB_CHANNEL = "#desktop-ops"
#: The stand-in's user who may silence (slack.admins: her member id); on real Slack, anyone in the demo
#: channel may.
STUB_ADMIN = "alice"
STUB_ADMIN_ID = "U0DEMOALICE"
POLL_INTERVAL = 2  # seconds
REPEAT_INTERVAL = 15  # seconds: short, so that a reminder shows within the minute
#: The demo pages the PagerDuty stand-in (monitor.devtools.pagerduty) with this public, fake routing key.
PAGERDUTY_KEY_ENV = "DEMO_PAGERDUTY_KEY"
PAGERDUTY_KEY = "DEMO0000PAGERDUTY0STANDIN0KEY000"
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")


@dataclass(frozen=True)
class SlackTarget:
    """Where the demo's daemon talks Slack. Tokens never show in a repr (they are not printed anywhere)."""

    real: bool
    channel: str
    #: One line for the terminal saying which Slack and why.
    note: str
    bot_token: str = field(default=DEFAULT_TOKEN, repr=False)
    app_token: str = field(default=DEFAULT_APP_TOKEN, repr=False)


def _channel(text: str) -> str:
    """ "desktop-ops" and "#desktop-ops" are the same channel; an id (C0123ABCD) stays as it is."""
    text = text.strip()
    return text if text.startswith("#") or _CHANNEL_ID.fullmatch(text) else f"#{text}"


def choose_slack(env: Mapping[str, str]) -> SlackTarget:
    given = {name: env.get(name, "").strip() for name in REAL_SLACK_VARIABLES}
    missing = [name for name, value in given.items() if not value]
    if not missing:
        channel = _channel(given["DEMO_SLACK_CHANNEL"])
        return SlackTarget(
            real=True,
            channel=channel,
            note=f"real Slack: alerts go to {channel}, /tasks over Socket Mode (SLACK_APP_TOKEN)",
            bot_token=given["SLACK_BOT_TOKEN"],
            app_token=given["SLACK_APP_TOKEN"],
        )
    if len(missing) < len(REAL_SLACK_VARIABLES):
        note = f"the Slack stand-in on loopback: a real workspace also needs {' and '.join(missing)}"
    else:
        note = (
            "the Slack stand-in on loopback (set SLACK_BOT_TOKEN, SLACK_APP_TOKEN and DEMO_SLACK_CHANNEL "
            "to run this against a real Slack workspace)"
        )
    return SlackTarget(real=False, channel=STUB_CHANNEL, note=note)


def demo_rules(channel: str) -> str:
    quoted = json.dumps(channel)  # YAML accepts a JSON string: "#x" must be quoted to not be a comment
    return f"""\
rules:
  - name: desktop-ops
    match:
      task_name: "prod-*"
    channel: {quoted}
    severity: critical
    repeat_interval: {REPEAT_INTERVAL}s
    notify_resolved: true
    pagerduty: true
  - name: everything-else
    channel: {quoted}
    severity: info
    repeat_interval: 0
"""


def demo_config(
    target: SlackTarget, *, sim_url: str, state_dir: Path, api_url: str | None, pagerduty_url: str
) -> str:
    """config.yaml next to rules.yaml in `state_dir`; `api_url` None is slack.com (the product's default);
    `pagerduty_url` the stand-in's Events API (its /v2/enqueue)."""
    lines = [
        "workspace:",
        f"  endpoint: {sim_url}",
        f"  project_id: {DEFAULT_PROJECT_ID}",
        f"  poll_interval: {POLL_INTERVAL}s",
        "state:",
        f"  url: sqlite:///{state_dir / 'state.db'}",
        "rules: rules.yaml",
        "slack:",
        "  mode: socket",
        f"  default_channel: {json.dumps(target.channel)}",
        # The simulator is the API: retrying its desktops from Slack harms nothing, so the demo shows it.
        "  actions: [retry]",
    ]
    if api_url is not None:
        lines.append(f"  api_url: {api_url}")
    if target.real:
        # Whoever watches the demo channel may silence from it (a "#name" is looked up to its id at start).
        lines.append(f"  allowed_channels: [{json.dumps(target.channel)}]")
    else:
        lines.append(f"  admins: [{STUB_ADMIN_ID}]")
    lines += ["pagerduty:", f"  routing_key_env: {PAGERDUTY_KEY_ENV}", f"  events_url: {pagerduty_url}"]
    return "\n".join(lines) + "\n"


def daemon_environment(target: SlackTarget, parent: Mapping[str, str]) -> dict[str, str]:
    """The simulator's (public, fake) AK/SK, the target's Slack tokens and the PagerDuty stand-in's (fake)
    key; from `parent` only what finds Python and this checkout (PATH, PYTHONPATH)."""
    env = {
        "HUAWEICLOUD_SDK_AK": DEFAULT_ACCESS_KEY,
        "HUAWEICLOUD_SDK_SK": DEFAULT_SECRET_KEY,
        "SLACK_BOT_TOKEN": target.bot_token,
        "SLACK_APP_TOKEN": target.app_token,
        PAGERDUTY_KEY_ENV: PAGERDUTY_KEY,
    }
    for name in ("PATH", "PYTHONPATH"):
        if name in parent:
            env[name] = parent[name]
    return env
