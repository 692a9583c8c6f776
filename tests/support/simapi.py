"""Calling the Workspace simulator by hand: small simulator options, SDK-style signed headers, a raw caller.

small_options(tasks=130)            a simulator that starts in milliseconds (the `sim` fixtures use it)
signed_headers("GET", url)          headers signing `url` as the official SDK does
Api(base_url, http).get(path, ...)  a raw GET, signed, token-authenticated or bare
http_client()                       an httpx client for loopback
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

import httpx

from monitor.devtools.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    DEFAULT_SECURITY_TOKEN,
    DEFAULT_TEMP_ACCESS_KEY,
    DEFAULT_TEMP_SECRET_KEY,
    SimOptions,
)
from monitor.workspace import signer

__all__ = ["Api", "http_client", "signed_headers", "small_options"]


def small_options(**overrides: object) -> SimOptions:
    """A simulator small enough to start in milliseconds, with enough FAIL/SKIP tasks to page through."""
    values: dict[str, object] = {"tasks": 60, "fail_rate": 0.5, "skip_rate": 0.1, "seed": 7}
    values.update(overrides)
    return SimOptions(**values)  # type: ignore[arg-type]


def signed_headers(
    method: str,
    url: str,
    *,
    access_key: str = DEFAULT_ACCESS_KEY,
    secret_key: str = DEFAULT_SECRET_KEY,
    security_token: str | None = None,
    project_id: str = DEFAULT_PROJECT_ID,
    now: datetime | None = None,
    body: bytes = b"",
) -> dict[str, str]:
    """Headers that sign `url` (whose query must already be canonical) the way the official SDK does."""
    parts = urlsplit(url)
    pairs = (p.partition("=") for p in parts.query.split("&") if p)
    params = [(unquote(k), unquote(v)) for k, _, v in pairs]
    headers = {
        "Host": parts.netloc,
        "X-Sdk-Date": signer.format_sdk_date(now or datetime.now(UTC)),
        "X-Project-Id": project_id,
        "Content-Type": "application/json",
    }
    if security_token is not None:
        headers["X-Security-Token"] = security_token
    headers["Authorization"] = signer.sign(
        access_key=access_key,
        secret_key=secret_key,
        method=method,
        path=parts.path,
        params=params,
        headers=headers,
        body=body,
    )
    return headers


@dataclass
class Api:
    """Raw calls to a running simulator; the query is sent exactly as signed (canonical order)."""

    base_url: str
    http: httpx.AsyncClient

    def url(self, path: str, params: Sequence[tuple[str, str]] = ()) -> str:
        query = signer.canonical_query(list(params))
        return self.base_url + path + (f"?{query}" if query else "")

    async def get(
        self,
        path: str,
        params: Sequence[tuple[str, str]] = (),
        *,
        auth: str = "aksk",
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        **sign: object,
    ) -> httpx.Response:
        """`auth`: "aksk", "temp" (temporary key + X-Security-Token), "token" (X-Auth-Token) or "none"."""
        url = self.url(path, params)
        sent: dict[str, str] = {}
        if auth == "aksk":
            sent = signed_headers("GET", url, **sign)  # type: ignore[arg-type]
        elif auth == "temp":
            sent = signed_headers(
                "GET",
                url,
                access_key=DEFAULT_TEMP_ACCESS_KEY,
                secret_key=DEFAULT_TEMP_SECRET_KEY,
                security_token=DEFAULT_SECURITY_TOKEN,
                **sign,  # type: ignore[arg-type]
            )
        elif auth == "token":
            sent = {"X-Auth-Token": token or ""}
        sent.update(headers or {})
        return await self.http.get(url, headers=sent)

    def tasks_path(self, suffix: str = "", project_id: str = DEFAULT_PROJECT_ID) -> str:
        return f"/v2/{project_id}/scheduled-tasks{suffix}"


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def http_client() -> httpx.AsyncClient:
    """An httpx client for loopback; sharing one SSL context saves ~70 ms per client (it loads CA files)."""
    return httpx.AsyncClient(trust_env=False, timeout=10, verify=_ssl_context())
