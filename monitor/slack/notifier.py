"""The Slack notifier: outbox rows to `chat.postMessage` / `chat.update` through slack_sdk's AsyncWebClient.

Slack's answers are translated here, once, into the dispatcher's outcomes, by the scope of what failed:
- the message (`msg_too_long`, `invalid_blocks`, `message_not_found`, `cant_update_message`, ...): fall
  back here (an edit that fails becomes a thread reply; a post or reply Slack refuses goes again as plain
  text; a reply whose thread is gone goes to the channel); if even that is refused, the row fails for good
  (`MessageRejectedError`) without a meta-alert: the channel works;
- the channel (`channel_not_found`, `not_in_channel`, `is_archived`) or the token (`invalid_auth`,
  `token_revoked`, `account_inactive`, `missing_scope` with the scope Slack says is `needed`, ...): the
  row fails for good and selfwatch raises the meta-alert, whose error names the fix (`FIXES`);
- retryable (429 `ratelimited` with its Retry-After, 5xx, network errors, timeouts): the row waits. Those
  after which Slack may have carried the call out (a broken connection, a timeout, `internal_error`,
  `fatal_error`, any 5xx) are "maybe delivered": the retry of a post or a thread reply first looks for it.

No retry happens inside slack_sdk (`client.without_hidden_retries`): its default connection-error
handler would post again after a reset connection, unseen by the outbox.

It paces itself to about one message per second per channel (Slack's posting limit), and it can tell, from
the channel's history and the metadata every message carries, whether an alert was already posted (the
crash between posting and recording the ts).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from monitor.notify.dispatch import (
    Memo,
    MessageRejectedError,
    Notification,
    PermanentDeliveryError,
    Record,
    RetryableDeliveryError,
)
from monitor.notify.payload import is_meta
from monitor.notify.threads import Posted, deliver_in_threads
from monitor.slack.alert import render_alert, render_thread_reply, render_update
from monitor.slack.blocks import MAX_FALLBACK_TEXT
from monitor.slack.client import without_hidden_retries
from monitor.slack.digest import render_digest
from monitor.slack.message import EVENT_TYPE, SlackMessage, alerts_in_metadata
from monitor.slack.meta import render_meta, render_meta_reply, render_meta_update
from monitor.slack.mrkdwn import safe_cut
from monitor.slack.scopes import oauth_scopes
from monitor.store.base import MessageRef, OutboxRow

__all__ = [
    "FIXES",
    "MESSAGE_ERRORS",
    "PERMANENT_ERRORS",
    "RECONCILE_SCOPES",
    "SlackNotifier",
    "error_scope",
    "log_scope_problems",
    "reconcile_problem",
]

log = structlog.get_logger(__name__)

#: Channel- and token-level errors no retry can fix, each with what someone must do (the meta-alert says it).
FIXES: dict[str, str] = {
    "channel_not_found": "no such channel (or private, bot not in it): fix the name or /invite the bot",
    "not_in_channel": "the bot is not in the channel: /invite it there (or grant chat:write.public)",
    "is_archived": "the channel is archived: unarchive it or route the rule elsewhere",
    "invalid_auth": "SLACK_BOT_TOKEN is not valid: set the app's Bot User OAuth Token (xoxb-)",
    "not_authed": "no token was sent: set SLACK_BOT_TOKEN",
    "account_inactive": "the bot user or the workspace is deactivated: reinstall the app",
    "token_revoked": "the token was revoked (app removed?): reinstall the app, set the new SLACK_BOT_TOKEN",
    "token_expired": "the token expired: reinstall the app (or turn off token rotation), set SLACK_BOT_TOKEN",
    "missing_scope": "the token lacks a scope: add it under OAuth & Permissions and reinstall the app",
    "no_permission": "the workspace does not let this token do that: ask a Slack admin",
    "restricted_action": "a workspace setting forbids posting there: ask a Slack admin",
    "team_access_not_granted": "the token has no access to this workspace: install the app there",
    "ekm_access_denied": "Slack admins suspended posting (EKM): ask a Slack admin",
}  # fmt: skip
PERMANENT_ERRORS = frozenset(FIXES)
#: Errors about one message (its content, or the message an edit or reply points to): the channel works.
MESSAGE_ERRORS = frozenset(
    {
        "invalid_blocks", "invalid_blocks_format", "msg_too_long", "msg_blocks_too_long", "no_text",
        "cant_update_message", "message_not_found", "edit_window_closed", "thread_not_found",
        "invalid_thread_ts", "invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large",
        "too_many_attachments", "invalid_attachments", "cannot_reply_to_message",
    }
)  # fmt: skip
#: Of those, the ones about the message an edit or a reply points to (not about the content sent); those in
#: GONE_ERRORS say it is not there any more, so its thread is gone too.
GONE_ERRORS = frozenset(
    {"message_not_found", "thread_not_found", "invalid_thread_ts", "cannot_reply_to_message"}
)
TARGET_ERRORS = GONE_ERRORS | {"cant_update_message", "edit_window_closed"}
#: The most text a plain-text fallback carries (Slack truncates `text` beyond 40,000; 4,000 is what it
#: recommends for readability).
PLAIN_TEXT_LIMIT = MAX_FALLBACK_TEXT
#: Slack's errors after which "it's possible some aspect of the operation succeeded before the error was
#: raised" (api.slack.com/methods/chat.postMessage, Errors): a retry of a post must look before it posts.
MAYBE_DONE_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
#: The key of a thread reply's metadata that names the outbox row it was posted for.
ROW_KEY = "outbox_row"
#: How far back the crash check looks in a channel's history, and how many pages of channels it reads to
#: learn a channel name's id.
HISTORY_PAGES = 3
LIST_PAGES = 25
#: conversations.list page size: Slack recommends at most 200 (api.slack.com/methods/conversations.list,
#: "limit"), and may answer fewer than asked even when more follow: only the cursor says when it is done.
LIST_LIMIT = 200
#: Memo key prefix (under the receiver's kind, `slack.`): the channel id Slack answered a post to a channel
#: name with (`#ops` -> `C0123`), so that after a restart the crash check can read the history (which takes
#: ids only) without looking the name up.
CHANNEL_ID_KEY = "channel_id:"


#: What the crash reconcile reads with (history of public and private channels, channel names to ids).
#: Posting, reminders, edits, thread replies and digests need chat:write alone.
RECONCILE_SCOPES = ("channels:history", "groups:history", "channels:read", "groups:read")


def reconcile_problem(granted: frozenset[str] | None) -> str | None:
    """What is lost without the reconcile scopes, or None when the token has them (or says nothing)."""
    if granted is None:
        return None
    missing = [scope for scope in RECONCILE_SCOPES if scope not in granted]
    if not missing:
        return None
    return (
        f"the Slack token lacks {', '.join(missing)}: alerts, reminders, edits and replies work with "
        "chat:write, but a message whose answer was lost (a crash mid-post, a timeout) cannot be looked "
        "up and may be posted twice; add the scopes (OAuth & Permissions) and reinstall the app"
    )


async def log_scope_problems(notifier: object) -> str | None:
    """Once at start: ask Slack which scopes the token has (`x-oauth-scopes` on any answer) and say what
    is degraded without those the reconcile needs. Never raises; None for a notifier that is not Slack."""
    if not isinstance(notifier, SlackNotifier):
        return None
    try:
        granted = await notifier.granted_scopes()
    except Exception as exc:  # a start-up note must never stop the start
        log.info("slack.scopes_unknown", error=repr(exc)[:200])
        return None
    problem = reconcile_problem(granted)
    if problem is not None:
        log.warning("slack.reconcile_degraded", problem=problem)
    return problem


class SlackNotifier:
    """The Slack receiver: a notification becomes a post (a digest for several alerts), a thread reply and
    an edit of the alert's message (`notify.threads`)."""

    kind = "slack"

    def __init__(
        self, client: AsyncWebClient, *, per_channel_interval: float = 1.0, retry: bool = False
    ) -> None:
        self.client = without_hidden_retries(client)
        #: `slack.actions: [retry]`: alert messages offer "Retry failed desktops" (redoable types only).
        self.retry = retry
        self._interval = per_channel_interval
        self._last_post: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # "#ops" -> "C0123": history and updates want the id, rules usually name the channel.
        self._channel_ids: dict[str, str] = {}
        # (channel, ts) of messages Slack said are gone (deleted, not ours): replies go to the channel.
        self._gone: set[tuple[str, str]] = set()
        #: Told of each Web API call (method as Slack names it, result, a 429's Retry-After): metrics.
        self.observer: Callable[[str, str, float | None], None] | None = None

    async def deliver(self, notification: Notification, record: Record, memo: Memo) -> None:
        channel = notification.channel
        known = self._channel_ids.get(channel) or memo.get(CHANNEL_ID_KEY + channel)
        if known:
            self._channel_ids[channel] = known
        try:
            await deliver_in_threads(self, notification, record)
        finally:
            learned = self._channel_ids.get(channel)
            if learned and learned != channel and learned != known:
                memo.set(CHANNEL_ID_KEY + channel, learned)

    async def granted_scopes(self) -> frozenset[str] | None:
        """The token's scopes from `auth.test`'s `x-oauth-scopes` header; None when Slack did not say."""
        try:
            answer = await self.client.auth_test()
        except SlackApiError as exc:
            raise _translate("auth.test", "-", exc) from None
        return oauth_scopes(getattr(answer, "headers", None))

    async def post(self, channel: str, rows: Sequence[OutboxRow]) -> Posted:
        payloads = [row.entry.payload for row in rows]
        if is_meta(payloads[0]):  # a meta-alert is alone in its group (selfwatch's group_key)
            messages = [render_meta(payloads[0])]
        elif len(payloads) == 1:
            messages = [render_alert(payloads[0], retry=self.retry)]
        else:
            messages = render_digest(payloads, retry=self.retry)
        parts: dict[str, str] = {}
        first: Posted | None = None
        digest = len(payloads) > 1 and not is_meta(payloads[0])
        for message in messages:
            answer = await self._send(channel, message.post_kwargs(channel))
            posted = _posted(answer, "chat_postMessage", channel)
            self._channel_ids[channel] = posted.channel
            first = first or posted
            parts.update({fingerprint: posted.ts for fingerprint, _ in message.alerts})
        assert first is not None  # render_* return at least one message for at least one row
        return Posted(first.channel, first.ts, parts, digest=digest)

    async def reply(self, ref: MessageRef, row: OutboxRow) -> Posted:
        payload = row.entry.payload
        if is_meta(payload):
            message = render_meta_reply(payload)
        else:
            message = render_thread_reply(payload, retry=self.retry)
        return await self._reply(ref, message, row)

    async def _reply(self, ref: MessageRef, message: SlackMessage, row: OutboxRow) -> Posted:
        """`message` in the thread of `ref`, or in the channel when that thread is gone."""
        kwargs = message.post_kwargs(ref.channel, thread_ts=ref.ts)
        kwargs["metadata"] = _with_row(message.metadata, row.id)
        if (ref.channel, ref.ts) not in self._gone:
            try:
                return _posted(await self._send(ref.channel, kwargs), "chat_postMessage", ref.channel)
            except MessageRejectedError as exc:
                if exc.code not in GONE_ERRORS:
                    raise
                self._gone.add((ref.channel, ref.ts))
        log.warning("slack.thread_gone", channel=ref.channel, ts=ref.ts, fallback="posted in the channel")
        del kwargs["thread_ts"]
        kwargs.pop("reply_broadcast", None)  # in the channel already
        return _posted(await self._send(ref.channel, kwargs), "chat_postMessage", ref.channel)

    async def _send(self, channel: str, kwargs: dict[str, Any]) -> Any:
        """chat.postMessage; a message Slack refuses for its content goes again as plain text."""
        try:
            return await self._call("chat_postMessage", channel, **kwargs)
        except MessageRejectedError as exc:
            if exc.code in TARGET_ERRORS:
                raise
            log.warning("slack.message_refused", channel=channel, error=exc.code, fallback="plain text")
            return await self._call("chat_postMessage", channel, **_plain(kwargs, exc.code))

    async def find_reply(self, ref: MessageRef, row: OutboxRow) -> Posted | None:
        """The reply already posted for outbox row `row` in the thread of `ref` (its metadata names the row),
        from `conversations.replies`; None when there is none, or when the thread cannot be read."""
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            kwargs: dict[str, Any] = {"channel": ref.channel, "ts": ref.ts, "limit": 200,
                                      "include_all_metadata": True}  # fmt: skip
            if cursor:
                kwargs["cursor"] = cursor
            try:
                answer = await self._call("conversations_replies", ref.channel, pace=False, **kwargs)
            except PermanentDeliveryError as exc:
                log.warning("slack.thread_check_skipped", channel=ref.channel, reason=str(exc))
                return None
            for message in _mappings(answer.get("messages")):
                payload = _mapping(_mapping(message.get("metadata")).get("event_payload"))
                if payload.get(ROW_KEY) == row.id and isinstance(message.get("ts"), str):
                    return Posted(ref.channel, message["ts"])
            cursor = _next_cursor(answer)
            if not cursor:
                break
        return None

    async def update(self, ref: MessageRef, row: OutboxRow) -> None:
        # A digest's message shows many alerts: replacing it with one alert's view would hide the others,
        # so for an alert posted in a digest the thread reply carries the news instead. The store says
        # which it is; only a ref stored by an older version (digest None) makes us read the history.
        if is_meta(row.entry.payload):
            message = render_meta_update(row.entry.payload)
        else:
            message = render_update(row.entry.payload, retry=self.retry)
        try:
            if await self._is_digest(ref):
                return
            await self._call("chat_update", ref.channel, **message.update_kwargs(ref.channel, ref.ts))
        except MessageRejectedError as exc:
            # The message is gone, not ours, or refuses this content: the news goes to the thread instead
            # (by the row's own reply when it has one).
            if exc.code in GONE_ERRORS:
                self._gone.add((ref.channel, ref.ts))
            fallback = "the row's thread reply" if row.entry.notify else "a thread reply"
            log.warning(
                "slack.edit_refused", channel=ref.channel, ts=ref.ts, error=exc.code, fallback=fallback
            )
            if not row.entry.notify:
                await self._reply(ref, message, row)

    async def _is_digest(self, ref: MessageRef) -> bool:
        """Whether the message of `ref` is a digest: from the store, or else from the channel's history
        (a history Slack does not let us read is taken as "edit refused": the news goes in the thread)."""
        if ref.digest is not None:
            return ref.digest
        try:
            original = await self._message(ref.channel, ref.ts)
        except PermanentDeliveryError as exc:
            raise MessageRejectedError(
                f"cannot tell a digest from one alert: {exc}", code="unreadable"
            ) from None
        payload = _mapping(_mapping(_mapping(original).get("metadata")).get("event_payload"))
        return bool(payload.get("digest"))

    async def find_posted(self, channel: str, fingerprint: str, episode: int) -> Posted | None:
        """The message already showing this alert's episode, from the channel's recent history.

        A channel known only by name is looked up first (history takes ids only). None when there is no such
        message, or when the name cannot be looked up (no `channels:read`/`groups:read` scope, or the channel
        does not exist yet): then the alert is posted, since at least once beats at most once for an alert."""
        channel = self._channel_ids.get(channel, channel)
        if channel.startswith("#"):
            try:
                resolved = await self._channel_id(channel)
            except PermanentDeliveryError as exc:
                log.warning("slack.history_check_skipped", channel=channel, reason=str(exc))
                return None
            if resolved is None:
                log.info("slack.history_check_skipped", channel=channel, reason="no such channel")
                return None
            channel = resolved
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            kwargs: dict[str, Any] = {"channel": channel, "limit": 200, "include_all_metadata": True}
            if cursor:
                kwargs["cursor"] = cursor
            try:
                answer = await self._call("conversations_history", channel, pace=False, **kwargs)
            except PermanentDeliveryError as exc:  # no channels:history / groups:history: post, at least once
                log.warning("slack.history_check_skipped", channel=channel, reason=str(exc))
                return None
            for message in _mappings(answer.get("messages")):
                metadata = _mapping(message.get("metadata"))
                if metadata.get("event_type") != EVENT_TYPE or not isinstance(message.get("ts"), str):
                    continue
                if message.get("thread_ts") not in (None, message["ts"]):
                    continue  # a reply also sent to the channel (a broadcast recovery), not the alert
                if (fingerprint, episode) in alerts_in_metadata(metadata):
                    digest = bool(_mapping(metadata.get("event_payload")).get("digest"))
                    return Posted(str(answer.get("channel") or channel), message["ts"], digest=digest)
            cursor = _next_cursor(answer)
            if not cursor:
                break
        return None

    async def _channel_id(self, channel: str) -> str | None:
        """The id of channel `#name`, from conversations.list (remembered), or None when there is none."""
        name = channel.lstrip("#")
        cursor: str | None = None
        for _ in range(LIST_PAGES):
            kwargs: dict[str, Any] = {"types": "public_channel,private_channel", "exclude_archived": True,
                                      "limit": LIST_LIMIT}  # fmt: skip
            if cursor:
                kwargs["cursor"] = cursor
            answer = await self._call("conversations_list", channel, pace=False, **kwargs)
            for item in _mappings(answer.get("channels")):
                if item.get("name") == name and isinstance(item.get("id"), str) and item["id"]:
                    self._channel_ids[channel] = item["id"]
                    return self._channel_ids[channel]
            cursor = _next_cursor(answer)
            if not cursor:
                break
        return None

    async def _message(self, channel: str, ts: str) -> dict[str, Any] | None:
        answer = await self._call(
            "conversations_history", channel, pace=False,
            channel=channel, latest=ts, inclusive=True, limit=1, include_all_metadata=True,
        )  # fmt: skip
        messages = _mappings(answer.get("messages"))
        return dict(messages[0]) if messages and messages[0].get("ts") == ts else None

    async def call(self, method: str, where: str, *, pace: bool = True, **kwargs: Any) -> Any:
        """A Web API call (slack_sdk's method name) as every call of this receiver goes: paced per channel
        `where`, errors as DeliveryErrors, observed; for receivers beside the alerts (slack.report)."""
        return await self._call(method, where, pace=pace, **kwargs)

    async def _call(self, method: str, where: str, *, pace: bool = True, **kwargs: Any) -> Any:
        """Call `method`, paced per channel `where` (posting is limited to about 1 message/s/channel)."""
        lock = self._locks.setdefault(where, asyncio.Lock())
        async with lock:
            if pace:
                wait = self._last_post.get(where, 0.0) + self._interval - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                answer = await getattr(self.client, method)(**kwargs)
            except SlackApiError as exc:
                translated = _translate(method, where, exc)
                self._observe(method, translated)
                raise translated from None
            except (aiohttp.ClientError, TimeoutError) as exc:
                # Refused before connecting: Slack never saw it. Otherwise (a timeout, a dropped
                # connection) it may have acted on the request without us hearing the answer.
                unseen = isinstance(exc, aiohttp.ClientConnectorError)
                self._observe(method, None)
                raise RetryableDeliveryError(
                    f"slack {method}: {type(exc).__name__}: {exc}", maybe_delivered=not unseen
                ) from None
            except (AttributeError, TypeError, ValueError, KeyError) as exc:
                # slack_sdk reading an answer that is JSON but not an object (`5`, `[...]`) fails this way;
                # an answer came, so the call may have been carried out.
                self._observe(method, None)
                raise RetryableDeliveryError(
                    f"slack {method}: unreadable answer ({type(exc).__name__})", maybe_delivered=True
                ) from None
            finally:
                if pace:
                    self._last_post[where] = time.monotonic()
            self._observe(method, "ok")
            return answer

    def _observe(self, method: str, outcome: Exception | str | None) -> None:
        """Tell `observer` how a call ended: "ok", the error it became, or None for no (readable) answer."""
        if self.observer is None:
            return
        retry_after = None
        if isinstance(outcome, str):
            result = outcome
        elif outcome is None:
            result = "network"
        elif isinstance(outcome, RetryableDeliveryError) and outcome.retry_after is not None:
            result, retry_after = "rate_limited", outcome.retry_after
        elif isinstance(outcome, MessageRejectedError):
            result = "rejected"
        elif isinstance(outcome, PermanentDeliveryError):
            result = "refused"
        else:
            result = "error"
        # chat_postMessage -> chat.postMessage: the name Slack's docs and rate-limit tiers use.
        self.observer(method.replace("_", ".", 1), result, retry_after)


#: What each kind of answer leads to (`error_scope`).
RATE_LIMITED, MESSAGE, REFUSED, MAYBE_DONE, RETRY = (
    "rate limited",
    "message",
    "refused",
    "maybe done",
    "retry",
)


def error_scope(error: str, status: int) -> str:
    """What a failed call's answer means for the row: RATE_LIMITED (wait, Slack did nothing), MESSAGE (this
    message only: fall back, no meta-alert), REFUSED (the channel or the token: fails for good, meta-alert),
    MAYBE_DONE (retry, but Slack may have done it: look first), RETRY (retry; Slack did nothing)."""
    if status == 429 or error == "ratelimited":
        return RATE_LIMITED
    if error in MESSAGE_ERRORS:
        return MESSAGE
    if error in FIXES:
        return REFUSED
    if error in MAYBE_DONE_ERRORS or status >= 500:
        return MAYBE_DONE
    return RETRY


def _translate(method: str, channel: str, exc: SlackApiError) -> Exception:
    # Usually a SlackResponse (whose data may be any JSON); for a body that is not JSON, slack_sdk hands
    # over aiohttp's raw response.
    response: Any = exc.response
    body = getattr(response, "data", None)
    error = str(body.get("error") or "unknown_error") if isinstance(body, dict) else "unreadable_response"
    status = getattr(response, "status_code", None) or getattr(response, "status", None) or 0
    scope = error_scope(error, status if isinstance(status, int) else 0)
    if scope == RATE_LIMITED:
        headers = getattr(response, "headers", None) or {}
        retry_after = _retry_after(headers.get("Retry-After"))
        return RetryableDeliveryError(f"slack {method} to {channel}: rate limited", retry_after=retry_after)
    if scope == MESSAGE:
        return MessageRejectedError(f"slack {method} to {channel}: {error}", code=error)
    if scope == REFUSED:
        return PermanentDeliveryError(f"slack {method} to {channel}: {error}: {_fix(error, body)}")
    return RetryableDeliveryError(
        f"slack {method} to {channel}: {error} (HTTP {status})", maybe_delivered=scope == MAYBE_DONE
    )


#: The longest pause a Retry-After may ask for (the dispatcher retries no later than its horizon anyway).
MAX_RETRY_AFTER = 900.0


def _retry_after(value: object) -> float:
    """Seconds to wait from a Retry-After header: 1 when absent or unreadable ("abc", "inf", "nan")."""
    try:
        seconds = float(str(value))
    except ValueError:
        return 1.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER) if math.isfinite(seconds) else 1.0


def _posted(answer: Any, method: str, channel: str) -> Posted:
    """Where Slack says it put the message. An `ok` answer without them may still have posted it."""
    where, ts = answer.get("channel"), answer.get("ts")
    if not (isinstance(where, str) and where and isinstance(ts, str) and ts):
        raise RetryableDeliveryError(
            f"slack {method} to {channel}: the answer has no channel and ts", maybe_delivered=True
        )
    return Posted(where, ts)


def _fix(error: str, body: object) -> str:
    """What to do about a channel or token error; for `missing_scope`, the scope Slack says is `needed`."""
    body = _mapping(body)
    if error == "missing_scope" and isinstance(body.get("needed"), str) and body["needed"]:
        provided = body.get("provided")
        has = f" (it has {provided})" if isinstance(provided, str) and provided else ""
        needed = body["needed"]
        return f"the token lacks the scope {needed}{has}: add it (OAuth & Permissions), reinstall the app"
    return FIXES[error]


def _plain(kwargs: dict[str, Any], error: str) -> dict[str, Any]:
    """A refused message again as its fallback text alone (no blocks; no metadata if that was refused)."""
    plain = {key: value for key, value in kwargs.items() if key != "blocks"}
    plain["text"] = safe_cut(str(kwargs.get("text") or "(message refused by Slack)"), PLAIN_TEXT_LIMIT)
    if "metadata" in error:
        plain.pop("metadata", None)
    return plain


def _with_row(metadata: dict[str, Any] | None, row_id: int) -> dict[str, Any] | None:
    """A reply's metadata with the outbox row it is for, so a retry can tell it was posted."""
    if metadata is None:
        return None
    return {**metadata, "event_payload": {**_mapping(metadata.get("event_payload")), ROW_KEY: row_id}}


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _mappings(value: object) -> list[dict[str, Any]]:
    """The objects of a list Slack answered (anything else in it, or instead of it, is ignored)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _next_cursor(answer: Any) -> str | None:
    cursor = _mapping(answer.get("response_metadata")).get("next_cursor")
    return cursor if isinstance(cursor, str) and cursor else None
