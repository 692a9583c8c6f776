"""The slack_sdk clients the product posts with, built without hidden retries of what is not idempotent.

slack_sdk's clients retry a request by default when the connection breaks (`async_default_handlers()` is
`[AsyncConnectionErrorRetryHandler()]`: ServerDisconnectedError, "connection reset by peer"). For a post that
is a duplicate whenever Slack had already carried the call out before the connection broke. So:

    web_client(token, base_url)       the notifier's: no retry handler at all; the outbox retries, and a
                                      retry that may repeat a post first looks whether it is there
    app_client(token, base_url)       the chat app's (bolt's client: thread notes, auth.test): only the
                                      rate-limit handler (a 429 means Slack did not take the call); each
                                      call's result, and each 429 waited out, told to its `observer`
    respond_once(url, message)        a response_url post: rate-limit handler only, at most one attempt
                                      otherwise (an ephemeral answer lost is better than one shown twice)

`without_hidden_retries(client)` strips anything but the rate-limit handler from a client built elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

__all__ = [
    "ObservedWebClient",
    "SlackObserver",
    "app_client",
    "respond_once",
    "safe_handlers",
    "web_client",
    "without_hidden_retries",
]

#: Told of a Web API call: (method, result, a 429's Retry-After seconds); `Metrics.slack_call`.
SlackObserver = Callable[[str, str, float | None], None]

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


class ObservedWebClient(AsyncWebClient):
    """An AsyncWebClient telling `observer` how each call ended: ok, rate_limited (a 429 not waited out),
    error (any other Slack error), network (no answer)."""

    observer: SlackObserver | None = None

    def observe(self, method: str, result: str, retry_after: float | None = None) -> None:
        if self.observer is not None:
            self.observer(method, result, retry_after)

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        try:
            response = await super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            self.observe(api_method, "rate_limited" if exc.response.status_code == 429 else "error")
            raise
        except (aiohttp.ClientError, TimeoutError, OSError):
            self.observe(api_method, "network")
            raise
        self.observe(api_method, "ok")
        return response


class _ObservedRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's rate-limit handler (waits Retry-After, then the call is made again), telling the client's
    observer of the 429 and the wait first."""

    def __init__(self, client: ObservedWebClient, max_retry_count: int) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._client = client

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is not None:
            headers = {key.lower(): value for key, value in response.headers.items()}
            try:
                wait = float(headers.get("retry-after", ["1"])[0])
            except (ValueError, IndexError):
                wait = 1.0
            self._client.observe(request.url.rsplit("/", 1)[-1], "rate_limited", wait)
        await super().prepare_for_next_attempt_async(
            state=state, request=request, response=response, error=error
        )


def app_client(token: str | None, base_url: str) -> ObservedWebClient:
    """The chat app's client: a 429 is waited out once (Retry-After), nothing else is retried."""
    client = ObservedWebClient(token=token, base_url=base_url, retry_handlers=[])
    client.retry_handlers = [_ObservedRateLimitHandler(client, max_retry_count=1)]
    return client


async def respond_once(url: str, message: Mapping[str, Any]) -> WebhookResponse:
    """Post `message` to a response_url: bolt's `respond` uses slack_sdk's default handlers, which would
    post again after a connection reset."""
    client = AsyncWebhookClient(
        url=url, timeout=DEFAULT_TIMEOUT, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)]
    )
    return await client.send_dict(dict(message))
