"""The slack-bolt `AsyncApp` behind `/tasks` and the alert buttons: a few lines per listener.

Every listener acks at once (Slack allows 3 seconds; listing 10,000 tasks takes longer than that on a slow
API), then parses, calls a handler from `monitor.chatops.handlers`, and answers ephemerally through
`respond` (the command's response_url). Buttons:

    alert_ack / alert_silence_1h      on alert messages (value: the alert fingerprint); the answer is
                                      ephemeral, and a short note goes in the alert's thread for everyone
                                      (Silence 1h is on messages posted before the Silence menu)
    alert_silence_menu                the Silence menu (option "<duration>|<fingerprint>"): 1h, 4h, 1d, 1w
                                      as the button; "Custom…" opens a modal (duration, reason) whose
                                      submission (`alert_silence_custom`) silences or shows what is wrong
    alert_script_output               "Full output" of a script record: a modal, opened at once (the
                                      trigger_id lasts 3 s) and filled when the API answers; open to all
    alert_runbook                     a link button: Slack opens the URL; the app only acks
    alert_retry                       "Retry failed desktops" (`slack.actions: [retry]`; on alert messages
                                      and on `/tasks retry`'s answer): `monitor.chatops.retry` plans,
                                      claims and starts it; the answer is ephemeral, progress and the
                                      outcome go to the alert's thread, followed after the answer is sent
    tasks_page_next / _previous       on a `/tasks list` answer (value: the command text of that page);
                                      the answer replaces the listing

The Home tab: `app_home_opened` (tab home) publishes the tab (`monitor.chatops.home`) for that person with
`views.publish`, built from the store when the tab is opened (never on a timer). Its Acknowledge and
Silence 1h buttons (and Retry, with retries on) are the messages' (same action ids, same listeners); a
press there has no response_url, so the answer is shown on top of the tab, published again, and the note
goes in the alert's thread.

Changing state (silence, unsilence, ack, retry, the alert buttons) needs `Access`; others get a polite
refusal. In HTTP mode a verified request whose signature was seen in the last minutes is a replay: acked,
dropped (`monitor.chatops.replay`). A request whose response_url is not Slack's is acked and dropped
(`monitor.chatops.response_url`): answers are never posted anywhere a payload says.
The app does not depend on HA leadership: every replica answers what it is asked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

import aiohttp
import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltRequest, AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from monitor.chatops.access import Caller
from monitor.chatops.commands import CommandError, command_name, parse_command, storable
from monitor.chatops.handlers import Deps, acknowledge_alert, handle, home_tab, silence_alert
from monitor.chatops.limits import PerUserRate
from monitor.chatops.modals import (
    SilenceTarget,
    loading_modal,
    output_modal,
    read_silence_form,
    silence_modal,
    unavailable_modal,
)
from monitor.chatops.replay import RecentSignatures
from monitor.chatops.replies import error_reply, refusal_reply
from monitor.chatops.response_url import response_url_allowed
from monitor.chatops.retry import begin_retry
from monitor.durations import format_duration
from monitor.slack.actions import (
    ACK_ACTION_ID,
    RETRY_ACTION_ID,
    RUNBOOK_ACTION_ID,
    SCRIPT_OUTPUT_ACTION_ID,
    SILENCE_1H_ACTION_ID,
    SILENCE_CUSTOM_CALLBACK_ID,
    SILENCE_MENU_ACTION_ID,
)
from monitor.slack.client import respond_once
from monitor.slack.controls import parse_silence_choice
from monitor.slack.message import SlackMessage
from monitor.slack.mrkdwn import user_text
from monitor.store import StoreError
from monitor.workspace.errors import NotFoundError, WorkspaceError

__all__ = ["COMMAND", "SILENCE_BUTTON_DURATION", "build_app", "caller_of"]

log = structlog.get_logger(__name__)

COMMAND = "/tasks"
SILENCE_BUTTON_DURATION = timedelta(hours=1)
_PAGE_ACTION = re.compile(r"tasks_page_(next|previous)")

#: What an alert button does: (alert fingerprint, caller) -> (whether it did, the answer).
AlertAction = Callable[[str, Caller], Awaitable[tuple[bool, SlackMessage]]]


def _command_of(text: str) -> str:
    """The command a text that was not run names (its first word, when it is one), for metrics; "unparsed"
    otherwise, so that what people type never becomes a label value."""
    try:
        return command_name(parse_command(text))
    except CommandError:
        return "unparsed"


def _str(mapping: object, key: str) -> str:
    """A string of Slack's payload, "" when absent or not one; what no store keeps (NUL, lone surrogates)
    replaced (`commands.storable`): names and texts reach the store."""
    value = mapping.get(key) if isinstance(mapping, Mapping) else None
    return storable(value) if isinstance(value, str) else ""


def caller_of(body: Mapping[str, Any]) -> Caller:
    """Who and where, from a slash command body (flat) or an interaction payload (nested)."""
    if "user_id" in body:
        return Caller(
            user_id=_str(body, "user_id"),
            user_name=_str(body, "user_name"),
            channel_id=_str(body, "channel_id"),
            channel_name=_str(body, "channel_name"),
            team_domain=_str(body, "team_domain") or None,
        )
    user, channel, team = body.get("user"), body.get("channel"), body.get("team")
    return Caller(
        user_id=_str(user, "id"),
        user_name=_str(user, "username") or _str(user, "name"),
        channel_id=_str(channel, "id"),
        channel_name=_str(channel, "name"),
        team_domain=_str(team, "domain") or None,
    )


def _action_value(body: Mapping[str, Any]) -> str:
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    return _str(first, "value")


def _async(reply: SlackMessage) -> Callable[[], Awaitable[SlackMessage]]:
    async def answer() -> SlackMessage:
        return reply

    return answer


def _selected_value(body: Mapping[str, Any]) -> str:
    """The value of the option chosen in a menu (`selected_option`)."""
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    return _str(first.get("selected_option") if isinstance(first, Mapping) else None, "value")


async def _send(respond: AsyncRespond, reply: SlackMessage, *, replace: bool = False) -> None:
    """Answer at the response_url, once: bolt's `respond` would post again after a connection reset."""
    if respond.response_url is None:
        raise ValueError("respond is unsupported here as there is no response_url")
    message: dict[str, Any] = {"text": reply.text, "response_type": "ephemeral", "replace_original": replace}
    if reply.blocks:
        message["blocks"] = reply.blocks
    await respond_once(respond.response_url, message)


def _from_home(body: Mapping[str, Any]) -> bool:
    """Whether an action was pressed on the Home tab (a view; no response_url, no channel)."""
    return _str(body.get("container"), "type") == "view" and _str(body.get("view"), "type") == "home"


async def _note_in_thread(client: AsyncWebClient, channel: str, ts: str, text: str) -> None:
    """Tell the channel, in the alert's thread, what someone did with its button (best effort)."""
    if not channel or not ts:
        return
    try:
        await client.chat_postMessage(channel=channel, thread_ts=ts, text=text, unfurl_links=False)
    except SlackApiError as exc:
        log.warning("chatops.thread_note_failed", error=exc.response.get("error"), channel=channel)


class WorkspaceUrl:
    """`auth.test`'s `url` (https://acme.slack.com/), asked once it is needed and kept: links to messages
    on the Home tab (whose event names no team domain). Unknown (Slack unreachable): asked again next time."""

    def __init__(self) -> None:
        self._url: str | None = None

    async def get(self, client: AsyncWebClient) -> str | None:
        if self._url is None:
            try:
                answer = await client.auth_test()
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
                log.info("chatops.workspace_url_unknown", error=repr(exc)[:200])
                return None
            url = answer.get("url")
            self._url = url if isinstance(url, str) else None
        return self._url


async def _answer(
    respond: AsyncRespond, work: Callable[[], Awaitable[SlackMessage]], *, what: str, replace: bool = False
) -> None:
    """Everything a listener does after its ack. Nothing escapes from here: bolt (1.30) drops an ack when
    its listener raises within ~10 ms of it (the command's HTTP answer turns into a 404), so every failure
    ends here - logged, and answered politely when Slack still takes the answer."""
    try:
        reply = await work()
    except Exception as exc:  # the listener's boundary: a bug must not become Slack's "dispatch_failed"
        log.error("chatops.listener_failed", what=what, error=repr(exc)[:300])
        reply = error_reply("Something went wrong answering that (it is logged); try again.")
    try:
        await _send(respond, reply, replace=replace)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("chatops.respond_failed", what=what, error=repr(exc)[:300])


def build_app(deps: Deps, *, client: AsyncWebClient, signing_secret: str | None) -> AsyncApp:
    """The bolt app. `signing_secret` is for HTTP mode (requests are verified); None in Socket Mode."""
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret or "",
        request_verification_enabled=signing_secret is not None,
        name="workspace-monitor",
    )
    if signing_secret is not None:
        recent = RecentSignatures(clock=time.monotonic)

        @app.middleware
        async def drop_replays(
            req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[None]]
        ) -> BoltResponse | None:
            # After bolt's signature check (its middleware runs first): only verified requests get here.
            signature = (req.headers.get("x-slack-signature") or [""])[0]
            if signature and not recent.first_time(signature):
                log.warning("chatops.replay_dropped", type=_str(req.body, "type") or "command")
                return BoltResponse(status=200, body="")
            await next()
            return None

    api_url = client.base_url

    @app.middleware
    async def refuse_foreign_response_urls(
        req: AsyncBoltRequest, next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        # Answers go to the request's response_url: only Slack's (or slack.api_url's host) is used. A
        # request naming another is not run at all: Slack never sends one.
        body = req.body
        urls = [body.get("response_url")] if "response_url" in body else []
        listed = body.get("response_urls")
        if isinstance(listed, list):
            urls += [item.get("response_url") if isinstance(item, dict) else item for item in listed]
        refused = [url for url in urls if not response_url_allowed(url, api_url)]
        if refused:
            shown = [str(url)[:120] for url in refused]
            log.warning("chatops.response_url_refused", urls=shown, user=caller_of(body).user_id)
            return BoltResponse(status=200, body="")
        await next()
        return None

    async def run_text(text: str, caller: Caller) -> SlackMessage:
        wait = deps.rate.wait_for(caller.user_id)
        if wait > 0:
            log.info("chatops.rate_limited", user=caller.user_id, wait=round(wait, 1))
            deps.on_command(_command_of(text), "rate_limited")
            return error_reply(
                f"That is more than {deps.rate.per_minute} `/tasks` commands a minute; "
                f"try again in {math.ceil(wait)} s."
            )
        try:
            command = parse_command(text)
        except CommandError as exc:
            deps.on_command("unparsed", "invalid")
            return error_reply(exc.message)
        log.info("chatops.command", command=type(command).__name__, user=caller.user_id)
        return await handle(command, caller, deps)

    @app.command(COMMAND)
    async def on_command(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await _answer(respond, lambda: run_text(_str(body, "text"), caller_of(body)), what="command")

    @app.action(_PAGE_ACTION)
    async def on_page(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await _answer(
            respond, lambda: run_text(_action_value(body), caller_of(body)), what="page", replace=True
        )

    workspace_url = WorkspaceUrl()

    async def publish_home(user: str, notice: str | None = None) -> None:
        """Build the Home tab for `user` now and publish it (failures logged: the tab keeps its last view)."""
        try:
            view = await home_tab(deps, workspace_url=await workspace_url.get(client), notice=notice)
            await client.views_publish(user_id=user, view=view)
        except SlackApiError as exc:
            deps.on_command("home", "api_error")
            log.warning("chatops.home_failed", error=exc.response.get("error"), user=user)
        except StoreError as exc:
            deps.on_command("home", "store_error")
            log.error("chatops.home_failed", error=str(exc), user=user)
        except Exception as exc:  # the listener's boundary, as `_answer`'s; counted as output_button's are
            deps.on_command("home", "api_error")
            log.error("chatops.home_failed", error=repr(exc)[:300], user=user)
        else:
            deps.on_command("home", "ok")

    # Each opening reads every open alert and the outbox, and with retries on lists the failing tasks: at
    # most as many a minute per person as commands (apart from them), past that the tab keeps its view.
    home_rate = PerUserRate(deps.rate.per_minute)

    @app.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any]) -> None:
        # The Messages tab opens this event too (tab "messages"): only the Home tab is ours.
        user = _str(event, "user")
        if _str(event, "tab") != "home" or not user:
            return
        wait = home_rate.wait_for(user)
        if wait > 0:
            log.info("chatops.rate_limited", user=user, wait=round(wait, 1), command="home")
            deps.on_command("home", "rate_limited")
            return
        await publish_home(user)

    async def where_noted(body: Mapping[str, Any], alert: str) -> tuple[str, str]:
        """Where the alert's message is (channel, ts): the one pressed, or the stored one (Home tab)."""
        if not _from_home(body):
            ts = _str(body.get("message"), "ts") or _str(body.get("container"), "message_ts")
            return _str(body.get("channel"), "id"), ts
        ref = await asyncio.to_thread(deps.store.message_ref, alert)
        return (ref.channel, ref.ts) if ref is not None else ("", "")

    async def on_alert_button(
        body: dict[str, Any], *, button: str, what: str, note: str, act: AlertAction, alert: str | None = None
    ) -> SlackMessage:
        caller = caller_of(body)
        if not deps.access.may_change(caller):
            deps.on_command(button, "refused")
            return refusal_reply(what)
        alert = _action_value(body) if alert is None else alert
        try:
            done, reply = await act(alert, caller)
            channel, ts = await where_noted(body, alert) if done else ("", "")
        except StoreError as exc:
            deps.on_command(button, "store_error")
            return error_reply(f"The state store failed: {exc}.")
        # Not done: the alert is no longer open (it closed meanwhile), as `/tasks ack` of an unknown one.
        deps.on_command(button, "ok" if done else "invalid")
        if done:
            await _note_in_thread(client, channel, ts, f"{note} by {user_text(caller.shown, 80)}.")
        return reply

    async def answer_button(
        body: dict[str, Any], respond: AsyncRespond, work: Callable[[], Awaitable[SlackMessage]], what: str
    ) -> None:
        """On a message: answered ephemerally at its response_url. On the Home tab: the answer on top of
        the tab, published again (it shows the change too)."""
        if not _from_home(body):
            await _answer(respond, work, what=what)
            return
        try:
            reply = await work()
        except Exception as exc:  # the listener's boundary, as `_answer`'s
            log.error("chatops.listener_failed", what=what, error=repr(exc)[:300])
            reply = error_reply("Something went wrong answering that (it is logged); try again.")
        await publish_home(caller_of(body).user_id, notice=reply.text)

    async def acknowledge(alert: str, caller: Caller) -> tuple[bool, SlackMessage]:
        return await acknowledge_alert(alert, caller, deps)

    async def silence(alert: str, caller: Caller) -> tuple[bool, SlackMessage]:
        return await silence_alert(alert, SILENCE_BUTTON_DURATION, caller, deps)

    @app.action(ACK_ACTION_ID)
    async def on_ack(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await answer_button(
            body,
            respond,
            lambda: on_alert_button(
                body, button="ack_button", what="acknowledge alerts", note="👀 Acknowledged", act=acknowledge
            ),
            "ack button",
        )

    @app.action(SILENCE_1H_ACTION_ID)
    async def on_silence(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await answer_button(
            body,
            respond,
            lambda: on_alert_button(
                body, button="silence_button", what="silence alerts", note="🔕 Silenced for 1h", act=silence
            ),
            "silence button",
        )

    @app.action(RETRY_ACTION_ID)
    async def on_retry(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        follow: list[Callable[[], Awaitable[None]]] = []
        from_home, user = _from_home(body), caller_of(body).user_id

        async def tell(message: SlackMessage) -> None:
            # The clicker again (an alert without a message): on the Home tab, on top of it.
            if from_home:
                await publish_home(user, notice=message.text)
            else:
                await _send(respond, message)

        async def start() -> SlackMessage:
            caller = caller_of(body)
            if not deps.access.may_change(caller):
                log.info("chatops.refused", user=caller.user_id, channel=caller.channel_id, command="retry")
                deps.on_command("retry_button", "refused")
                return refusal_reply("retry failed desktops")
            if deps.retry is None:
                deps.on_command("retry_button", "refused")
                return error_reply("Retries from Slack are off (`slack.actions: [retry]` turns them on).")
            try:
                started = await begin_retry(
                    _action_value(body), caller, deps.retry, deps.store, clock=deps.clock, slack=client,
                    respond=tell, clicked=body.get("message"),
                )  # fmt: skip
            except WorkspaceError as exc:
                deps.on_command("retry_button", "api_error")
                return error_reply(f"The Workspace API failed: {exc}. Nothing was started.")
            except StoreError as exc:
                deps.on_command("retry_button", "store_error")
                return error_reply(f"The state store failed: {exc}. Nothing was started.")
            deps.on_command("retry_button", started.outcome)
            if started.follow is not None:
                follow.append(started.follow)
            return started.reply

        await answer_button(body, respond, start, "retry button")
        for step in follow:  # after the answer: following a job takes minutes
            try:
                await step()
            except Exception as exc:  # the listener's boundary, as in _answer
                log.error("chatops.listener_failed", what="retry follow-up", error=repr(exc)[:300])

    @app.action(SILENCE_MENU_ACTION_ID)
    async def on_silence_menu(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        choice = parse_silence_choice(_selected_value(body))
        if choice is None:
            log.warning("chatops.bad_menu_choice", value=_selected_value(body)[:80])
            reply = error_reply("That choice is not one the menu offers.")
            await answer_button(body, respond, _async(reply), "silence menu")
            return
        alert, duration = choice
        if duration is None:
            problem = await open_custom_silence(body, alert)
            if problem is not None:
                await answer_button(body, respond, _async(problem), "silence modal")
            return

        async def silence_for(alert: str, caller: Caller) -> tuple[bool, SlackMessage]:
            return await silence_alert(alert, duration, caller, deps)

        note = f"🔕 Silenced for {format_duration(duration)}"
        await answer_button(
            body,
            respond,
            lambda: on_alert_button(
                body, button="silence_button", what="silence alerts", note=note, act=silence_for, alert=alert
            ),
            "silence menu",
        )

    async def open_custom_silence(body: dict[str, Any], alert: str) -> SlackMessage | None:
        """The custom silence modal for those who may silence: None when it opened, else what to answer."""
        caller = caller_of(body)
        if not deps.access.may_change(caller):
            deps.on_command("silence_button", "refused")
            return refusal_reply("silence alerts")
        try:
            channel, ts = await where_noted(body, alert)
            await client.views_open(
                trigger_id=_str(body, "trigger_id"), view=silence_modal(SilenceTarget(alert, channel, ts))
            )
        except Exception as exc:  # the listener's boundary, as `_answer`: a Slack refusal or a network error
            log.warning("chatops.modal_failed", error=repr(exc)[:300], what="silence")
            return error_reply("Slack did not open the form (it is logged); pick Custom… again.")
        return None

    @app.view(SILENCE_CUSTOM_CALLBACK_ID)
    async def on_custom_silence(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        # Checked and done before the ack, so that anything wrong shows in the modal (a store write is fast).
        target = SilenceTarget.from_metadata(view.get("private_metadata"))
        form = read_silence_form(view)
        if target is None:
            await ack(response_action="errors", errors={"reason": "This form names no alert; use the menu."})
            return
        if isinstance(form, dict):
            await ack(response_action="errors", errors=form)
            return
        caller = dataclasses.replace(caller_of(body), channel_id=target.channel)
        if not deps.access.may_change(caller):
            deps.on_command("silence_button", "refused")
            await ack(response_action="errors", errors={"reason": refusal_reply("silence alerts").text[:150]})
            return
        try:
            done, reply = await silence_alert(
                target.fingerprint, form.duration, caller, deps, reason=form.reason
            )
        except StoreError as exc:
            deps.on_command("silence_button", "store_error")
            await ack(response_action="errors", errors={"reason": f"The state store failed: {exc}"[:150]})
            return
        if not done:  # the alert closed while the form was open
            deps.on_command("silence_button", "invalid")
            await ack(response_action="errors", errors={"reason": reply.text[:150]})
            return
        await ack()
        deps.on_command("silence_button", "ok")
        who, why = user_text(caller.shown, 80), user_text(form.reason, 300)
        await _note_in_thread(
            client,
            target.channel,
            target.ts,
            f"🔕 Silenced for {format_duration(form.duration)} by {who}: {why}",
        )

    @app.action(SCRIPT_OUTPUT_ACTION_ID)
    async def on_script_output(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        try:
            opened = await client.views_open(trigger_id=_str(body, "trigger_id"), view=loading_modal())
        except SlackApiError as exc:
            log.warning("chatops.modal_failed", error=exc.response.get("error"), what="script output")
            return
        view_id = _str(opened.get("view"), "id")
        record_id = _action_value(body)
        try:
            view = output_modal(await deps.tasks.get_script_record(record_id))
            outcome = "ok"
        except NotFoundError:
            view, outcome = unavailable_modal("The API no longer has this script record."), "api_error"
        except WorkspaceError as exc:
            log.warning("chatops.command_failed", command="script_output", error=str(exc))
            view, outcome = unavailable_modal(f"The Workspace API failed: {exc}. Try again."), "api_error"
        except Exception as exc:  # the listener's boundary, as `_answer`
            log.error("chatops.listener_failed", what="script output", error=repr(exc)[:300])
            view, outcome = unavailable_modal("Something went wrong (it is logged); try again."), "api_error"
        deps.on_command("output_button", outcome)
        try:
            await client.views_update(view_id=view_id, view=view)
        except SlackApiError as exc:
            log.warning("chatops.modal_failed", error=exc.response.get("error"), what="script output")

    @app.action(RUNBOOK_ACTION_ID)
    async def on_runbook(ack: AsyncAck) -> None:
        await ack()  # Slack opened the link; the press is only acknowledged

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        # Only what happens before a listener's own guard (bolt's middleware) can reach this.
        log.error("chatops.app_failed", error=repr(error)[:300], type=_str(body, "type") or "command")

    return app
