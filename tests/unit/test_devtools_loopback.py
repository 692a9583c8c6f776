"""What the two stand-ins share (monitor.devtools.loopback): the control APIs answer loopback callers only,
and a stand-in's base URL brackets an IPv6 host."""

from __future__ import annotations

import pytest

from monitor.devtools.loopback import http_url, is_loopback


@pytest.mark.parametrize(
    ("remote", "ok"),
    [("127.0.0.1", True), ("::1", True), ("10.0.0.5", False), (None, False), ("junk", False)],
)
def test_control_api_is_loopback_only(remote: str | None, ok: bool) -> None:
    assert is_loopback(remote) is ok


@pytest.mark.parametrize(
    ("host", "url"),
    [("127.0.0.1", "http://127.0.0.1:8900"), ("::1", "http://[::1]:8900")],
)
def test_base_url(host: str, url: str) -> None:
    assert http_url(host, 8900) == url
