"""The slack_sdk clients the product posts with, built without hidden retries of what is not idempotent.

slack_sdk's clients retry a request by default when the connection breaks (`async_default_handlers()` is
`[AsyncConnectionErrorRetryHandler()]`: ServerDisconnectedError, "connection reset by peer"). For a post that
is a duplicate whenever Slack had already carried the call out before the connection broke. So:

    web_client(token, base_url)       the notifier's: no retry handler at all; the outbox retries, and a
                                      retry that may repeat a post first looks whether it is there
    app_client(token, base_url)       the chat app's (bolt's client: thread notes, auth.test): only the
                                      rate-limit handler (a 429 means Slack did not take the call)
    respond_once(url, message)        a response_url post: rate-limit handler only, at most one attempt
                                      otherwise (an ephemeral answer lost is better than one shown twice)

`without_hidden_retries(client)` strips anything but the rate-limit handler from a client built elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

__all__ = ["app_client", "respond_once", "safe_handlers", "web_client", "without_hidden_retries"]

#: Seconds a Web API call may take before the notifier gives up on it (and treats it as maybe delivered).
DEFAULT_TIMEOUT = 30


def safe_handlers(handlers: list[AsyncRetryHandler]) -> list[AsyncRetryHandler]:
    """The retry handlers that never repeat a call Slack may have carried out: the rate-limit ones."""
    return [handler for handler in handlers if isinstance(handler, AsyncRateLimitErrorRetryHandler)]


def without_hidden_retries(client: AsyncWebClient) -> AsyncWebClient:
    """`client` with only its rate-limit retry handlers left (changed in place, and returned)."""
    client.retry_handlers = safe_handlers(list(client.retry_handlers or []))
    return client


def web_client(token: str, base_url: str, *, timeout: int = DEFAULT_TIMEOUT) -> AsyncWebClient:
    """The notifier's client: no retries inside slack_sdk (the dispatcher's outbox is where retrying is)."""
    return AsyncWebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])


def app_client(token: str | None, base_url: str) -> AsyncWebClient:
    """The chat app's client: a 429 is waited out once (Retry-After), nothing else is retried."""
    return AsyncWebClient(
        token=token, base_url=base_url, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)]
    )


async def respond_once(url: str, message: Mapping[str, Any]) -> WebhookResponse:
    """Post `message` to a response_url: bolt's `respond` uses slack_sdk's default handlers, which would
    post again after a connection reset."""
    client = AsyncWebhookClient(
        url=url, timeout=DEFAULT_TIMEOUT, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)]
    )
    return await client.send_dict(dict(message))
