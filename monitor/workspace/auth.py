"""How a request to the Workspace API proves who sends it: AK/SK signing, an IAM token, or a static token.

Each scheme is an `Auth`: `await auth.apply(request)` adds its headers to a request about to be sent (called
again for every retry, so AK/SK signatures carry a fresh `X-Sdk-Date`), and `await auth.refresh()` is called
once when the API says the token expired (`APIGW.0307`); it returns whether trying again can help.

- `AkSkAuth`: permanent or temporary (`X-Security-Token`) access keys, signed as the official SDK signs.
- `IamPasswordAuth`: a user token from IAM's `POST /v3/auth/tokens` (password method, project scope), cached
  and renewed a margin before it expires, or at once when the API says it expired.
- `StaticTokenAuth`: a token obtained elsewhere, sent as `X-Auth-Token`, never renewed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from monitor.logs import get_logger
from monitor.workspace import signer
from monitor.workspace.bodies import ACCEPT_ENCODING, DECODED_HEADERS, read_capped
from monitor.workspace.errors import (
    AuthError,
    ConfigurationError,
    MalformedResponseError,
    ServerError,
    TransportError,
)

__all__ = [
    "AkSkAuth",
    "Auth",
    "IamPasswordAuth",
    "OutgoingRequest",
    "StaticTokenAuth",
]

log = get_logger(__name__)  # structlog loads at the first event shown (monitor.logs)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class OutgoingRequest:
    """What an `Auth` sees and may add headers to: the request exactly as it will go on the wire."""

    method: str
    host: str
    path: str
    params: list[tuple[str, str]]
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class Auth(Protocol):
    #: Names this scheme in messages: "AK/SK", "IAM token", "static token".
    kind: str

    async def apply(self, request: OutgoingRequest) -> None: ...

    async def refresh(self) -> bool: ...

    def rejected_hint(self) -> str: ...


class AkSkAuth:
    """Sign with an access key pair; `security_token` makes it a temporary credential."""

    kind = "AK/SK"

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        *,
        project_id: str | None = None,
        security_token: str | None = None,
        clock: Clock = utc_now,
    ) -> None:
        if not access_key or not secret_key:
            raise ConfigurationError("AK/SK auth needs both HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK")
        self._access_key = access_key
        self._secret_key = secret_key
        self._project_id = project_id
        self._security_token = security_token
        self._clock = clock

    def __repr__(self) -> str:
        return f"AkSkAuth(access_key={self._access_key[:4]}..., temporary={self._security_token is not None})"

    async def apply(self, request: OutgoingRequest) -> None:
        headers = request.headers
        headers["X-Sdk-Date"] = signer.format_sdk_date(self._clock())
        if self._project_id:
            headers["X-Project-Id"] = self._project_id
        if self._security_token:
            headers["X-Security-Token"] = self._security_token
        headers["Authorization"] = signer.sign(
            access_key=self._access_key,
            secret_key=self._secret_key,
            method=request.method,
            path=request.path,
            params=request.params,
            headers=headers,
            body=request.body,
        )

    async def refresh(self) -> bool:
        return False

    def rejected_hint(self) -> str:
        if self._security_token:
            return (
                "temporary AK/SK rejected: verify HUAWEICLOUD_SDK_AK/SK, that HUAWEICLOUD_SDK_SECURITY_TOKEN "
                "has not expired, and the project id"
            )
        return "AK/SK rejected: verify HUAWEICLOUD_SDK_AK/SK and the project id"


class StaticTokenAuth:
    """A ready-made IAM token; it cannot be renewed, so expiry is an error for the operator."""

    kind = "static token"

    def __init__(self, token: str) -> None:
        if not token:
            raise ConfigurationError("token auth needs HUAWEICLOUD_AUTH_TOKEN")
        self._token = token

    def __repr__(self) -> str:
        return "StaticTokenAuth(token=***)"

    async def apply(self, request: OutgoingRequest) -> None:
        request.headers["X-Auth-Token"] = self._token

    async def refresh(self) -> bool:
        return False

    def rejected_hint(self) -> str:
        return "token rejected or expired: obtain a new one and set HUAWEICLOUD_AUTH_TOKEN"


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: datetime


class IamPasswordAuth:
    """An IAM user token (password method, project scope), fetched on first use and renewed before expiry.

    Concurrent requests share one token and one renewal: the lock makes the first caller fetch while the
    others wait for its result instead of each asking IAM.
    """

    kind = "IAM token"

    def __init__(
        self,
        *,
        iam_endpoint: str,
        username: str,
        password: str,
        domain: str,
        project_id: str,
        http: httpx.AsyncClient,
        refresh_margin: timedelta = timedelta(minutes=10),
        clock: Clock = utc_now,
    ) -> None:
        missing = [
            name
            for name, value in (
                ("HUAWEICLOUD_IAM_USERNAME", username),
                ("HUAWEICLOUD_IAM_PASSWORD", password),
                ("HUAWEICLOUD_IAM_DOMAIN", domain),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError(f"IAM password auth needs {', '.join(missing)}")
        self._url = iam_endpoint.rstrip("/") + "/v3/auth/tokens"
        self._username = username
        self._password = password
        self._domain = domain
        self._project_id = project_id
        self._http = http
        self._margin = refresh_margin
        self._clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"IamPasswordAuth(user={self._username!r}, domain={self._domain!r}, password=***)"

    async def apply(self, request: OutgoingRequest) -> None:
        token = await self._valid_token()
        request.headers["X-Auth-Token"] = token.value

    async def refresh(self) -> bool:
        """Drop the cached token (the API said it expired); the next `apply` fetches a new one."""
        stale = self._token
        async with self._lock:
            if self._token is stale:
                self._token = None
        return True

    def rejected_hint(self) -> str:
        return (
            "IAM token rejected: verify the IAM user has Workspace permissions in this project and "
            "HUAWEICLOUD_IAM_USERNAME/PASSWORD/DOMAIN"
        )

    async def _valid_token(self) -> _Token:
        token = self._token
        if token is not None and self._clock() < token.expires_at - self._margin:
            return token
        async with self._lock:
            token = self._token
            if token is None or self._clock() >= token.expires_at - self._margin:
                token = await self._fetch()
                self._token = token
            return token

    async def _post_capped(self, body: dict[str, Any], endpoint: str) -> httpx.Response:
        """The token request, its answer read no further than MAX_ANSWER_BYTES (see `bodies`)."""
        request = self._http.build_request("POST", self._url, json=body, headers=ACCEPT_ENCODING)
        streamed = await self._http.send(request, stream=True)
        try:
            content = await read_capped(streamed, endpoint)
        finally:
            await streamed.aclose()
        kept = [(k, v) for k, v in streamed.headers.multi_items() if k.lower() not in DECODED_HEADERS]
        return httpx.Response(streamed.status_code, headers=kept, content=content, request=request)

    async def _fetch(self) -> _Token:
        endpoint = "POST /v3/auth/tokens"
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self._username,
                            "password": self._password,
                            "domain": {"name": self._domain},
                        }
                    },
                },
                "scope": {"project": {"id": self._project_id}},
            }
        }
        try:
            response = await self._post_capped(body, endpoint)
        except httpx.TransportError as exc:
            # httpx's text says why (refused, DNS, CERTIFICATE_VERIFY_FAILED); it never holds the body.
            detail = str(exc)[:160]
            raise TransportError(
                f"cannot reach IAM at {self._url}: {type(exc).__name__}" + (f" {detail}" if detail else ""),
                endpoint=endpoint,
                hint="check workspace.iam_endpoint / HUAWEICLOUD_SDK_IAM_ENDPOINT and the network "
                "(and workspace.ca_bundle when a proxy re-signs TLS)",
            ) from None
        if response.status_code in (400, 401, 403):
            raise AuthError(
                "IAM refused the password login",
                endpoint=endpoint,
                status=response.status_code,
                hint="verify HUAWEICLOUD_IAM_USERNAME, HUAWEICLOUD_IAM_PASSWORD, HUAWEICLOUD_IAM_DOMAIN "
                "and the project id",
            )
        if response.status_code >= 500:
            raise ServerError("IAM is failing", endpoint=endpoint, status=response.status_code)
        token_value = response.headers.get("X-Subject-Token")
        if response.status_code not in (200, 201) or not token_value:
            raise MalformedResponseError(
                "IAM answered without an X-Subject-Token header",
                endpoint=endpoint,
                status=response.status_code,
                hint="is workspace.iam_endpoint an IAM endpoint?",
            )
        expires_at = self._clock() + timedelta(hours=24)
        try:
            text = response.json()["token"]["expires_at"]
            expires_at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("iam.expiry_unreadable", endpoint=endpoint)
        log.info("iam.token_issued", expires_at=expires_at.isoformat())
        return _Token(token_value, expires_at)
