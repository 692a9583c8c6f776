"""Slack tokens that Slack refuses: said once, retried with a bounded backoff, visible in health and status.

A revoked or mistyped app-level token (`xapp-`) makes `apps.connections.open` answer `invalid_auth` (or
`token_revoked`, `not_allowed_token_type` for a bot token in its place, ...). slack_sdk's Socket Mode client
then retries every ping interval forever, logging a traceback each time. Instead the service asks for the
link itself (`ChatopsService` replaces the client's `issue_new_wss_url`): a rejection is logged once as
`chatops.token_rejected` with the fix, counted (`on_rejected`, the `slack_token_rejections` metric), and
retried after 5 s, 10 s, 20 s ... up to 5 minutes; `/healthz` and `/tasks status` say "Slack app token
rejected (...)" until it is accepted again. The bot token (`xoxb-`) is checked the same way with `auth.test`
at start and every few minutes.

The errors are Slack's token-level ones (docs of `apps.connections.open` and `auth.test`: invalid_auth,
not_authed, account_inactive, token_revoked, token_expired, not_allowed_token_type, missing_scope when the app
token lacks `connections:write`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import structlog

__all__ = ["TOKEN_ERRORS", "Backoff", "TokenKind", "TokenState"]

log = structlog.get_logger(__name__)

TOKEN_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
        "missing_scope",
    }
)

TokenKind = Literal["app", "bot"]

_FIX = {
    "app": "make a new app-level token with connections:write (Basic Information > App-Level Tokens), "
    "set SLACK_APP_TOKEN and restart",
    "bot": "reinstall the app (Install App) and set SLACK_BOT_TOKEN to its xoxb- Bot User OAuth Token, "
    "then restart",
}


@dataclass
class Backoff:
    """Delays `first`, 2x, 4x ... up to `longest`; `reset()` after a success."""

    first: float = 5.0
    longest: float = 300.0
    _next: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._next = self.first

    def delay(self) -> float:
        current = self._next
        self._next = min(self.longest, self._next * 2)
        return current

    def reset(self) -> None:
        self._next = self.first


@dataclass
class TokenState:
    """Which tokens Slack currently refuses, and why. `rejected` is called on every refusal (the metric);
    the log says so once per episode."""

    on_rejected: Callable[[TokenKind, str], None] = lambda kind, error: None
    _refused: dict[TokenKind, str] = field(default_factory=dict)

    def rejected(self, kind: TokenKind, error: str) -> None:
        self.on_rejected(kind, error)
        if self._refused.get(kind) != error:
            self._refused[kind] = error
            log.error("chatops.token_rejected", kind=kind, error=error, fix=_FIX[kind])

    def accepted(self, kind: TokenKind) -> None:
        if self._refused.pop(kind, None) is not None:
            log.info("chatops.token_accepted", kind=kind)

    def problem(self) -> str | None:
        """ "Slack app token rejected (invalid_auth): <fix>", the app token first; None when both are fine."""
        for kind in ("app", "bot"):
            error = self._refused.get(kind)
            if error is not None:
                return f"Slack {kind} token rejected ({error}): {_FIX[kind]}"
        return None
