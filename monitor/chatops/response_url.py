"""Where answers may be posted: a request's `response_url` must be Slack's.

Every command and button answer is posted to the `response_url` the request carries. A signed request is
Slack's, but a leaked signing secret (or a bug upstream) must not turn the daemon into a client that posts
wherever a payload says (an internal address, a metadata service). Slack's response URLs are
`https://hooks.slack.com/commands/...` and `https://hooks.slack.com/actions/...` (Slack: "Handling user
interaction", "Slash commands": `response_url`); the host of the configured `slack.api_url` is accepted too,
for the Slack stand-in and for a proxy in front of Slack.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["SLACK_HOOKS", "response_url_allowed"]

SLACK_HOOKS = "https://hooks.slack.com/"


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of an absolute http(s) URL without user info; None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    return parts.scheme, parts.hostname.lower(), port or default


def response_url_allowed(url: object, api_url: str) -> bool:
    """Whether answers may be posted to `url`: Slack's hooks host over https, or `api_url`'s origin."""
    if not isinstance(url, str) or any(char.isspace() for char in url):
        return False
    origin = _origin(url)
    return origin is not None and origin in (_origin(SLACK_HOOKS), _origin(api_url))
