"""Which response_urls answers may be posted to: Slack's hooks host, or the configured API host."""

from __future__ import annotations

import pytest

from monitor.chatops.response_url import response_url_allowed

SLACK_API = "https://slack.com/api/"
STUB_API = "http://127.0.0.1:8901/api/"


@pytest.mark.parametrize(
    ("url", "api_url", "allowed"),
    [
        ("https://hooks.slack.com/commands/T0/1/abc", SLACK_API, True),
        ("https://hooks.slack.com/actions/T0/1/abc", STUB_API, True),
        ("https://HOOKS.slack.com:443/commands/T0/1/abc", SLACK_API, True),
        ("http://127.0.0.1:8901/response/r1", STUB_API, True),
        ("http://127.0.0.1:8901/response/r1", SLACK_API, False),
        ("http://hooks.slack.com/commands/T0/1/abc", SLACK_API, False),  # not https
        ("https://hooks.slack.com:8443/commands/x", SLACK_API, False),
        ("https://hooks.slack.com.evil.example/commands/x", SLACK_API, False),
        ("https://hooks.slack.com@evil.example/commands/x", SLACK_API, False),
        ("https://evil.example@hooks.slack.com/commands/x", SLACK_API, False),  # no user info at all
        ("http://169.254.169.254/latest/meta-data/", SLACK_API, False),
        ("http://localhost:8901/response/r1", STUB_API, False),
        ("http://127.0.0.1:8902/response/r1", STUB_API, False),
        ("file:///etc/passwd", SLACK_API, False),
        ("//hooks.slack.com/commands/x", SLACK_API, False),
        ("https://hooks.slack.com:99999/x", SLACK_API, False),
        ("https://hooks.slack.com/commands/x y", SLACK_API, False),
        ("", SLACK_API, False),
        (None, SLACK_API, False),
        (["https://hooks.slack.com/commands/x"], SLACK_API, False),
    ],
)
def test_response_url_allowed(url: object, api_url: str, allowed: bool) -> None:
    assert response_url_allowed(url, api_url) is allowed
