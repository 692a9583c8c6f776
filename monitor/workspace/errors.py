"""The exceptions the Workspace client raises, and nothing else escapes it.

Foreign exceptions (httpx, json, pydantic) are translated here, at the boundary, so callers only ever catch
these. Each class says whether trying again can help:

    WorkspaceError
    ├── RetryableError              trying again later may succeed
    │   ├── TransportError          connection refused, reset, DNS, timeout
    │   ├── ServerError             HTTP 5xx
    │   └── RateLimitedError        HTTP 429 (APIGW.0308); carries Retry-After and the body
    ├── OutcomeUnknownError         a write (POST) got no clear answer (timeout, reset, 5xx): it may have run;
    │                               never retried, by the client or anyone: check the job instead
    └── PermanentError              trying again will not help until someone changes something
        ├── ConfigurationError      missing credentials, bad region/endpoint (APIGW.0101, a 404 that is
        │                           not the API's), bad settings
        ├── AuthError               401/403: credentials, signature, token or project rejected
        │   └── PermissionDeniedError   403 to a write: the IAM user lacks `action` (e.g.
        │                               workspace:desktops:operate)
        ├── RequestError            4xx other than auth and throttling (bad parameter, not found)
        │   └── NotFoundError       404, or a 400 saying the task/record does not exist
        └── MalformedResponseError  not JSON, an HTML error page, missing or wrongly typed fields

Every error carries `endpoint` (the API operation, e.g. "GET /v2/{project_id}/scheduled-tasks") so a
message can name what failed; `hint` says what an operator should check.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConfigurationError",
    "MalformedResponseError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermanentError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RequestError",
    "RetryableError",
    "ServerError",
    "TransportError",
    "WorkspaceError",
]


class WorkspaceError(Exception):
    """Base of everything the Workspace client raises."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status: int | None = None,
        error_code: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.endpoint = endpoint
        self.status = status
        self.error_code = error_code
        self.hint = hint

    def __str__(self) -> str:
        parts = []
        if self.endpoint:
            parts.append(f"{self.endpoint}: ")
        parts.append(self.message)
        if self.status is not None or self.error_code:
            detail = ", ".join(
                p for p in (f"HTTP {self.status}" if self.status else "", self.error_code or "") if p
            )
            parts.append(f" ({detail})")
        if self.hint:
            parts.append(f"; {self.hint}")
        return "".join(parts)


class RetryableError(WorkspaceError):
    """A failure that may go away by itself: try again later."""

    retryable = True


class TransportError(RetryableError):
    """The request did not get an HTTP answer: connection refused or reset, DNS failure, timeout.

    `sent` is False when the request certainly never left (no connection, no IAM token): a write may then
    be asked again; when True the server may have received it."""

    sent: bool = True


class ServerError(RetryableError):
    """The API answered 5xx."""


class RateLimitedError(RetryableError):
    """The API answered 429 (APIGW.0308). `retry_after` is in seconds when the server said so."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        body: str = "",
        endpoint: str | None = None,
        status: int | None = None,
        error_code: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, status=status, error_code=error_code, hint=hint)
        self.retry_after = retry_after
        self.body = body


class OutcomeUnknownError(WorkspaceError):
    """A write whose answer never came or was a 5xx: the action may have run. Not retryable (doing it again
    could act twice); the reply to a person says "may have run, check the job". `cause` is the failure."""

    retryable = False

    def __init__(self, message: str, *, cause: WorkspaceError, endpoint: str | None = None) -> None:
        super().__init__(
            message,
            endpoint=endpoint,
            status=cause.status,
            error_code=cause.error_code,
            hint="it may have run: check the job (or the desktops) before asking again",
        )
        self.cause = cause


class PermanentError(WorkspaceError):
    """A failure that will repeat until someone changes configuration, credentials or code."""


class ConfigurationError(PermanentError):
    """The client cannot be built or cannot reach the API as configured."""


class AuthError(PermanentError):
    """401/403: the credentials, the signature, the token or the project were rejected."""


class PermissionDeniedError(AuthError):
    """403 to a write: the IAM user may read but lacks `action`; the hint names the action to grant."""

    def __init__(
        self,
        message: str,
        *,
        action: str,
        endpoint: str | None = None,
        status: int | None = None,
        error_code: str | None = None,
    ) -> None:
        super().__init__(
            message,
            endpoint=endpoint,
            status=status,
            error_code=error_code,
            hint=f"grant the IAM user the action {action} (a custom policy allowing it, see the README)",
        )
        self.action = action


class RequestError(PermanentError):
    """The API rejected the request itself (4xx other than auth and throttling)."""


class NotFoundError(RequestError):
    """The task or record does not exist: 404, or 400 whose message says so (what the real API sends)."""


class MalformedResponseError(PermanentError):
    """The answer is not what the Workspace API sends: not JSON, an HTML page, missing or mistyped fields."""
