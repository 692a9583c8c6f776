"""Who is calling: AK/SK signature verification, IAM password logins and the tokens they yield.

AK/SK requests are re-signed with `monitor.workspace.signer` (the same code the client signs with, itself
checked byte for byte against the official SDK) over exactly what arrived: the method, the raw path, the
query pairs parsed from the raw query string with `unquote` (blank values kept), only the headers named in
`SignedHeaders`, and the body; the signatures are compared in constant time.

Failures raise `AuthFailure`, answered as the API gateway does: 401 `APIGW.0301` "Incorrect IAM authentication
information: ..." and, for an issued token past its expiry, 401 `APIGW.0307` "The token must be updated." (or,
with `SimOptions.expired_token_code="APIGW.0301"`, 401 APIGW.0301 "...: the token has expired").
IAM login failures raise `IamFailure`, answered in IAM's own `{"error": {...}}` shape.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.devtools.sim.query import parse_query
from monitor.workspace import signer

__all__ = [
    "MAX_CLOCK_SKEW",
    "AuthFailure",
    "Authenticator",
    "Credential",
    "IamFailure",
    "IssuedToken",
    "PasswordLogin",
    "Principal",
    "TokenStore",
    "parse_password_login",
]

MAX_CLOCK_SKEW = timedelta(minutes=15)
_BAD_AUTH = "APIGW.0301"
_EXPIRED = "APIGW.0307"

Clock = Callable[[], datetime]


class AuthFailure(Exception):
    def __init__(self, message: str, *, code: str = _BAD_AUTH, status: int = 401) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


def _incorrect(reason: str) -> AuthFailure:
    return AuthFailure(f"Incorrect IAM authentication information: {reason}")


class IamFailure(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> dict[str, Any]:
        title = {400: "Bad Request", 401: "Unauthorized"}.get(self.status, "Error")
        return {"error": {"code": self.status, "title": title, "message": self.message}}


@dataclass(frozen=True)
class Credential:
    """An access key pair; a temporary one also needs its `X-Security-Token`."""

    access_key: str
    secret_key: str
    security_token: str | None = None

    def __repr__(self) -> str:
        return f"Credential(access_key={self.access_key!r}, secret_key=***)"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller and the one project its credential may act in."""

    kind: str  # aksk | temporary | token | static-token
    project_id: str
    name: str


@dataclass(frozen=True)
class IssuedToken:
    value: str
    user: str
    project_id: str
    issued_at: datetime
    expires_at: datetime

    def __repr__(self) -> str:
        return f"IssuedToken(user={self.user!r}, expires_at={self.expires_at.isoformat()})"


class TokenStore:
    """Tokens issued by the simulated IAM; they stay known after expiry, so the API can say "expired"."""

    def __init__(self) -> None:
        self._tokens: dict[str, IssuedToken] = {}

    def issue(self, *, user: str, project_id: str, now: datetime, ttl: timedelta) -> IssuedToken:
        token = IssuedToken(
            value="MIIsim" + secrets.token_urlsafe(48),
            user=user,
            project_id=project_id,
            issued_at=now,
            expires_at=now + ttl,
        )
        self._tokens[token.value] = token
        return token

    def get(self, value: str) -> IssuedToken | None:
        return self._tokens.get(value)

    def expire_all(self, now: datetime) -> int:
        """Make every issued token expired as of `now`; returns how many."""
        for value, token in self._tokens.items():
            self._tokens[value] = IssuedToken(token.value, token.user, token.project_id, token.issued_at, now)
        return len(self._tokens)

    def __len__(self) -> int:
        return len(self._tokens)


@dataclass(frozen=True)
class PasswordLogin:
    user: str
    password: str
    domain: str
    project_id: str | None
    project_name: str | None

    def __repr__(self) -> str:
        return f"PasswordLogin(user={self.user!r}, domain={self.domain!r}, password=***)"


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def parse_password_login(body: Any) -> PasswordLogin:
    """Read an IAM `POST /v3/auth/tokens` password-method, project-scoped request body."""
    auth = _dig(body, "auth")
    methods = _dig(auth, "identity", "methods")
    if not isinstance(methods, list) or "password" not in methods:
        raise IamFailure(400, "The request body must use the password method (auth.identity.methods).")
    user = _dig(auth, "identity", "password", "user")
    fields = (_dig(user, "name"), _dig(user, "password"), _dig(user, "domain", "name"))
    if not all(isinstance(f, str) and f for f in fields):
        raise IamFailure(400, "auth.identity.password.user needs name, password and domain.name.")
    project_id = _dig(auth, "scope", "project", "id")
    project_name = _dig(auth, "scope", "project", "name")
    if not isinstance(project_id, str) and not isinstance(project_name, str):
        raise IamFailure(400, "A project scope (auth.scope.project.id or .name) is required.")
    name, password, domain = (str(f) for f in fields)
    return PasswordLogin(
        user=name,
        password=password,
        domain=domain,
        project_id=project_id if isinstance(project_id, str) else None,
        project_name=project_name if isinstance(project_name, str) else None,
    )


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class Authenticator:
    """Decides whether a `/v2` request is authenticated, and as whom."""

    def __init__(
        self,
        *,
        project_id: str,
        credentials: Iterable[Credential],
        static_tokens: Iterable[str],
        tokens: TokenStore,
        clock: Clock,
        expired_as_0301: bool = False,
    ) -> None:
        self._project_id = project_id
        # An expired token is answered APIGW.0307; or, as some gateways do, APIGW.0301 saying it expired.
        self.expired_as_0301 = expired_as_0301
        self._credentials = {c.access_key: c for c in credentials}
        self._static_tokens = tuple(static_tokens)
        self._tokens = tokens
        self._clock = clock

    def verify(self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes) -> Principal:
        """`raw_path` is the path and query exactly as received; `headers` must be case-insensitive."""
        authorization = headers.get("Authorization")
        if authorization:
            return self._verify_signature(method, raw_path, headers, body, authorization)
        token = headers.get("X-Auth-Token")
        if token:
            return self._verify_token(token)
        raise _incorrect("neither an Authorization nor an X-Auth-Token header was sent")

    def _verify_token(self, value: str) -> Principal:
        if any(_same(value, static) for static in self._static_tokens):
            return Principal("static-token", self._project_id, "static")
        issued = self._tokens.get(value)
        if issued is None:
            raise _incorrect("the token is not valid")
        if self._clock() >= issued.expires_at:
            if self.expired_as_0301:
                raise _incorrect("the token has expired")
            raise AuthFailure("The token must be updated.", code=_EXPIRED)
        return Principal("token", issued.project_id, issued.user)

    def _verify_signature(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes, authorization: str
    ) -> Principal:
        parsed = signer.parse_authorization(authorization)
        if parsed is None:
            raise _incorrect(
                "the Authorization header is not SDK-HMAC-SHA256 Access=..., SignedHeaders=..., ..."
            )
        credential = self._credentials.get(parsed.access_key)
        if credential is None:
            raise _incorrect("the access key does not exist")
        signed = [name.lower() for name in parsed.signed_headers]
        if "x-sdk-date" not in signed:
            raise _incorrect("X-Sdk-Date must be sent and signed")
        self._check_date(headers.get("X-Sdk-Date", ""))
        if credential.security_token is not None:
            self._check_security_token(credential.security_token, headers, signed)
        selected: dict[str, str] = {}
        for name in signed:
            value = headers.get(name)
            if value is None:
                raise _incorrect(f"the signed header {name} is missing")
            selected[name] = value
        path, _, query = raw_path.partition("?")
        params = parse_query(query, plus_is_space=False)
        text, names = signer.canonical_request(method, path, params, selected, body)
        if names != signed:
            raise _incorrect("SignedHeaders is not the sorted, lower-case list of signed header names")
        expected = signer.signature(credential.secret_key, headers["X-Sdk-Date"].strip(), text)
        if not _same(expected, parsed.signature):
            raise _incorrect("verify aksk signature fail")
        kind = "temporary" if credential.security_token is not None else "aksk"
        return Principal(kind, self._project_id, credential.access_key)

    def _check_date(self, value: str) -> None:
        try:
            sent = datetime.strptime(value.strip(), signer.DATE_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise _incorrect("X-Sdk-Date must look like 20260101T000000Z") from None
        if abs(self._clock() - sent) > MAX_CLOCK_SKEW:
            raise _incorrect("the request time (X-Sdk-Date) is more than 15 minutes from the server time")

    @staticmethod
    def _check_security_token(expected: str, headers: Mapping[str, str], signed: list[str]) -> None:
        sent = headers.get("X-Security-Token")
        if not sent:
            raise _incorrect("a temporary access key needs the X-Security-Token header")
        if "x-security-token" not in signed:
            raise _incorrect("X-Security-Token must be signed")
        if not _same(sent, expected):
            raise _incorrect("the security token does not belong to this access key")
