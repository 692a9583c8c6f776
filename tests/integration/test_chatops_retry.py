"""Retry failed desktops from Slack (issue 18), end to end in both of the app's modes: the real bolt app in
Socket Mode (envelopes through the Slack stand-in's hub) and in HTTP mode (signed requests), the Workspace
simulator as the API (its write side counts what reached it), a real SQLite store with the alert posted by a
real cycle, and the stand-in holding the alert's message and its thread.

Every test runs in both modes: the button (and `/tasks retry`) must behave the same however Slack reaches us.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from monitor.chatops.access import Access, Caller
from monitor.chatops.handlers import Deps
from monitor.chatops.retry import MARK_BLOCK_ID, Retrier, begin_retry
from monitor.chatops.runner import EVENTS_PATH, ChatopsService, SlackTokens
from monitor.config import SlackSettings
from monitor.devtools.sim import DEFAULT_ACCESS_KEY, DEFAULT_PROJECT_ID, DEFAULT_SECRET_KEY
from monitor.devtools.slackstub import DEFAULT_APP_TOKEN
from monitor.devtools.slackstub.interact import AppDriver, OverSocket, SignedHttp
from monitor.devtools.slackstub.state import StubMessage
from monitor.metrics import COMMAND_OUTCOMES
from monitor.slack.actions import RETRY_ACTION_ID
from monitor.slack.message import SlackMessage
from monitor.slack.notifier import SlackNotifier
from monitor.workspace.auth import AkSkAuth
from monitor.workspace.client import RetryPolicy, WorkspaceClient
from tests.integration.test_chatops_app import SECRET, signed
from tests.support.simapi import http_client
from tests.support.slack import ADMIN, as_message, assert_valid, blocks_text
from tests.support.world import World, open_world

RULES = """
rules:
  - name: prod
    match:
      task_name: "prod-*"
    channel: "#desktop-ops"
    severity: critical
"""
STRANGER = "U0STRANGER"
GENERAL = ("C0GENERAL01", "general")
TASKS = [
    {"task_name": "prod-reboot", "task_type": "REBOOT", "desktops": ["desk-01", "desk-02", "desk-03"]},
    {"task_name": "prod-script", "task_type": "EXECUTE_SCRIPT", "desktops": ["desk-11", "desk-12"]},
    {"task_name": "prod-rebuild", "task_type": "REBUILD", "desktops": ["desk-21"]},
    {"task_name": "prod-fleet", "task_type": "STOP", "desktops": [f"fleet-{i:02d}" for i in range(14)]},
]


@dataclass
class Bot:
    """The world with the app on it in one mode, and Slack's side: commands, presses, answers, threads."""

    world: World
    service: ChatopsService
    mode: str
    http: httpx.AsyncClient
    deps: Deps
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def fail(self, name: str, desktops: int = 3) -> list[str]:
        """An execution of `name` failing on its first `desktops` desktops (which the action endpoint
        knows); their ids."""
        task = self.world.sim.state.task(name)
        failing = task.desktops[:desktops]
        assert len(failing) == desktops, "the simulator gave the task too few desktops"
        self.world.execute(name, "FAIL", failed_desktops=[d.name for d in failing], fail_reason="timeout")
        return [d.id for d in failing]

    async def alert(self, name: str) -> tuple[StubMessage, str]:
        """The alert posted for `name` by a real cycle: its message and fingerprint."""
        await self.world.cycle()
        [fingerprint] = [a.fingerprint for a in self.world.store.load_open_alerts().values()
                         if a.task_name == name]  # fmt: skip
        ref = self.world.store.message_ref(fingerprint)
        assert ref is not None
        [message] = [m for m in self.world.top_level("desktop-ops") if m.ts == ref.ts]
        return message, fingerprint

    async def send(self, kind: str, payload: dict[str, Any]) -> None:
        if self.mode == "socket":
            envelope = await self.world.stub.socket.send(kind, payload)
            await self.world.stub.socket.ack(envelope)
            return
        form = payload if kind == "slash_commands" else {"payload": json.dumps(payload)}
        body = urlencode(form).encode()
        url = f"http://{self.service.address}{EVENTS_PATH}"
        acked = await self.http.post(url, content=body, headers=signed(body))
        assert acked.status_code == 200

    async def answer(self, response_id: str) -> dict[str, Any]:
        async with asyncio.timeout(15):
            while True:
                for response in self.world.stub.state.responses:
                    if response["id"] == response_id:
                        body: dict[str, Any] = response["body"]
                        assert_valid(as_message(body))
                        return body
                await asyncio.sleep(0.01)

    async def command(self, text: str, *, user: str = ADMIN) -> dict[str, Any]:
        response_id = f"c{next(self._ids)}"
        await self.send(
            "slash_commands",
            {
                "token": "legacy-verification-token", "team_id": "T0STUBTEAM", "team_domain": "acme",
                "channel_id": GENERAL[0], "channel_name": GENERAL[1], "user_id": user,
                "user_name": user.lower(), "command": "/tasks", "text": text, "api_app_id": "A0STUBAPP1",
                "response_url": self.world.stub.response_url(response_id), "trigger_id": "1.2.3",
            },
        )  # fmt: skip
        return await self.answer(response_id)

    def press_payload(self, value: str, message: StubMessage, response_id: str, user: str) -> dict[str, Any]:
        return {
            "type": "block_actions",
            "team": {"id": "T0STUBTEAM", "domain": "acme"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0STUBTEAM"},
            "api_app_id": "A0STUBAPP1",
            "token": "legacy-verification-token",
            "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel},
            "trigger_id": "1.2.3",
            "channel": {"id": message.channel, "name": "desktop-ops"},
            "message": {"type": "message", "ts": message.ts, "text": message.text, "blocks": message.blocks},
            "response_url": self.world.stub.response_url(response_id),
            "actions": [{"action_id": RETRY_ACTION_ID, "block_id": "b1", "value": value, "type": "button",
                         "action_ts": "1764403300.000200"}],
        }  # fmt: skip

    async def press(self, value: str, message: StubMessage, *, user: str = ADMIN) -> dict[str, Any]:
        response_id = f"p{next(self._ids)}"
        await self.send("interactive", self.press_payload(value, message, response_id, user))
        return await self.answer(response_id)

    async def thread_says(self, message: StubMessage, words: str) -> str:
        """The reply in the alert's thread containing `words` (waits: the outcome follows the answer)."""
        async with asyncio.timeout(15):
            while True:
                for reply in message.replies:
                    if words in reply.text:
                        return reply.text
                await asyncio.sleep(0.01)

    def actions(self) -> list[dict[str, Any]]:
        return list(self.world.sim.state.jobs.actions)

    def driver(self) -> AppDriver:
        """The stand-in as the person's Slack client: a button with a confirm reaches the app only when
        the person confirms."""
        stub = self.world.stub
        if self.mode == "socket":
            return AppDriver(stub, OverSocket(stub.socket))
        return AppDriver(stub, SignedHttp(f"http://{self.service.address}{EVENTS_PATH}", SECRET))


def retry_value(message: StubMessage) -> str:
    for block in message.blocks or []:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element["action_id"] == RETRY_ACTION_ID:
                value: str = element["value"]
                return value
    raise AssertionError("the alert has no retry button")


@pytest.fixture(params=["http", "socket"])
async def bot(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Bot]:
    tasks = [{**t, "last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY"} for t in TASKS]
    async with (
        open_world(tmp_path, RULES, tasks=tasks, default_channel="#desktop-ops") as world,
        http_client() as http,
    ):
        assert isinstance(world.notifier, SlackNotifier)
        world.notifier.retry = True  # slack.actions: [retry]
        deps = world.chatops_deps(
            access=Access.of([ADMIN], []),
            on_command=world.runtime.metrics.chatops_command,
            retry=Retrier(world.client, interval=0, checks=5),
        )
        mode = request.param
        if mode == "http":
            settings = SlackSettings.model_construct(
                mode="http", listen="127.0.0.1:0", api_url=world.stub.api_url
            )
            tokens = SlackTokens(bot=world.stub.token, signing_secret=SECRET)
        else:
            settings = SlackSettings(mode="socket", api_url=world.stub.api_url)
            tokens = SlackTokens(bot=world.stub.token, app=DEFAULT_APP_TOKEN)
        service = ChatopsService(settings, tokens, deps, ping_interval=1.0, watch_every=0.05)
        await service.start()
        try:
            if mode == "socket":
                await world.stub.socket.wait_connected()
            yield Bot(world, service, mode, http, deps)
        finally:
            await service.stop()


async def test_a_power_task_is_retried_on_its_failed_desktops_only(bot: Bot) -> None:
    failed = bot.fail("prod-reboot", desktops=2)
    message, fingerprint = await bot.alert("prod-reboot")
    assert retry_value(message) == fingerprint
    answer = await bot.press(fingerprint, message)
    assert "Retry started (reboot on 2 desktops" in blocks_text(answer)
    done = await bot.thread_says(message, "succeeded on 2 desktops")
    assert "A retry is not a recovery" in done
    [action] = bot.actions()
    assert (sorted(action["desktop_ids"]), action["op_type"], action["type"]) == (
        sorted(failed),
        "reboot",
        "SOFT",
    )
    # Who asked, in the thread; the alert still fires (the next poll decides).
    assert any("asked by u0admin001" in reply.text for reply in message.replies)
    assert bot.world.store.load_open_alerts()[fingerprint].is_open


async def test_the_message_shows_retry_running_while_it_runs_and_not_after(bot: Bot) -> None:
    bot.fail("prod-reboot", desktops=1)
    message, fingerprint = await bot.alert("prod-reboot")
    await bot.press(fingerprint, message)
    await bot.thread_says(message, "succeeded on 1 desktop")

    def has_mark(blocks: list[dict[str, Any]] | None) -> bool:
        return any(block.get("block_id") == MARK_BLOCK_ID for block in blocks or [])

    async with asyncio.timeout(5):
        while has_mark(message.blocks):  # noqa: ASYNC110 - taken off right after the outcome is said
            await asyncio.sleep(0.01)
    [marked] = [version.blocks for version in message.edits if has_mark(version.blocks)]
    assert "Retry running: reboot on 1 desktop, asked by u0admin001" in json.dumps(marked)
    assert retry_value(message) == fingerprint  # the message reads as it did, buttons and all


async def test_a_script_retry_uses_the_records_execute_task_id(bot: Bot) -> None:
    bot.fail("prod-script", desktops=2)
    message, fingerprint = await bot.alert("prod-script")
    task = bot.world.sim.state.task("prod-script")
    record_id = task.records[0].id
    answer = await bot.press(fingerprint, message)
    assert "the script again on 2 desktops" in blocks_text(answer)
    await bot.thread_says(message, "succeeded on 2 desktops")
    # The record's execute_task_id, not the scheduled task's id (which the simulator refuses).
    assert task.execute_task_id != task.id
    assert bot.world.sim.state.jobs.script_retries == [(task.execute_task_id, record_id)]
    assert bot.actions() == []


async def test_a_non_admin_is_refused_and_nothing_runs(bot: Bot) -> None:
    bot.fail("prod-reboot")
    message, fingerprint = await bot.alert("prod-reboot")
    answer = await bot.press(fingerprint, message, user=STRANGER)
    assert "only admins" in blocks_text(answer)
    typed = await bot.command(f"retry {fingerprint}", user=STRANGER)
    assert "only admins" in blocks_text(typed)
    assert bot.actions() == []
    assert message.replies == []


async def test_a_double_click_starts_one_action(bot: Bot) -> None:
    bot.fail("prod-reboot", desktops=2)
    message, fingerprint = await bot.alert("prod-reboot")
    first, second = await asyncio.gather(bot.press(fingerprint, message), bot.press(fingerprint, message))
    answers = sorted([blocks_text(first), blocks_text(second)], key=lambda text: "already running" in text)
    assert "Retry started" in answers[0]
    assert "already running" in answers[1]
    await bot.thread_says(message, "succeeded on 2 desktops")
    assert len(bot.actions()) == 1


async def test_a_timed_out_post_is_not_repeated_and_may_have_run(bot: Bot) -> None:
    bot.fail("prod-reboot", desktops=1)
    message, fingerprint = await bot.alert("prod-reboot")
    bot.world.sim.state.add_fault("delay", endpoint="action", seconds=1.0)
    auth = AkSkAuth(
        DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, project_id=DEFAULT_PROJECT_ID, clock=lambda: bot.world.now[0]
    )
    async with WorkspaceClient(
        endpoint=bot.world.sim.base_url, project_id=DEFAULT_PROJECT_ID, auth=auth, timeout=0.3,
        retry=RetryPolicy(attempts=4, wait_initial=0, wait_max=0, wait_jitter=0),
    ) as impatient:  # fmt: skip
        # The same app; only the retrier's client is an impatient one.
        patient, bot.deps.retry = bot.deps.retry, Retrier(impatient, interval=0, checks=5)
        try:
            answer = await bot.press(fingerprint, message)
        finally:
            bot.deps.retry = patient
    assert "may have run, check the job" in blocks_text(answer)
    assert "may have run, check the job" in await bot.thread_says(message, "may have run")
    while bot.world.sim.state.stats.in_flight:  # noqa: ASYNC110 - the delayed request finishing
        await asyncio.sleep(0.01)
    assert bot.world.sim.state.stats.count("action") == 1
    # The claim holds: a second press does not send it again either.
    again = await bot.press(fingerprint, message)
    assert "already running" in blocks_text(again)
    assert bot.world.sim.state.stats.count("action") == 1


async def test_a_job_failing_on_some_desktops_is_reported_per_desktop(bot: Bot) -> None:
    failed = bot.fail("prod-reboot", desktops=3)
    names = {d.id: d.name for d in bot.world.sim.state.task("prod-reboot").desktops}
    bot.world.sim.state.jobs.fail_desktops = {failed[0]: "disk <full> & stuck", failed[2]: "no agent"}
    message, fingerprint = await bot.alert("prod-reboot")
    await bot.press(fingerprint, message)
    text = await bot.thread_says(message, "failed on 2 of 3 desktops again")
    assert f"• {names[failed[0]]}: disk &lt;full&gt; &amp; stuck" in text
    assert f"• {names[failed[2]]}: no agent" in text
    assert names[failed[1]] not in text.split("again:")[1]


async def test_tasks_retry_answers_with_the_plan_and_a_confirmed_button(bot: Bot) -> None:
    bot.fail("prod-reboot", desktops=2)
    message, fingerprint = await bot.alert("prod-reboot")
    task_id = bot.world.task_id("prod-reboot")
    answer = await bot.command(f"retry {task_id}")
    [element] = [e for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert (element["action_id"], element["value"]) == (RETRY_ACTION_ID, fingerprint)
    assert "Reboot (reboot) again on the 2 desktops" in element["confirm"]["text"]["text"]
    assert bot.actions() == []  # nothing runs before the confirmed press
    assert "Retry started" in blocks_text(await bot.press(fingerprint, message))
    await bot.thread_says(message, "succeeded on 2 desktops")


async def test_a_rebuild_has_no_button_and_show_says_why(bot: Bot) -> None:
    bot.fail("prod-rebuild", desktops=1)
    message, fingerprint = await bot.alert("prod-rebuild")
    with pytest.raises(AssertionError, match="no retry button"):
        retry_value(message)
    shown = await bot.command(f"show {bot.world.task_id('prod-rebuild')}")
    assert "No retry from Slack: rebuilding desktops is destructive" in blocks_text(shown)
    typed = await bot.command(f"retry {fingerprint}")
    assert "No retry from Slack: rebuilding desktops is destructive" in blocks_text(typed)


async def test_once_a_retry_has_ended_another_may_be_asked(bot: Bot) -> None:
    """The claim guards a retry in flight; once its job ended, asking again is a new, confirmed decision."""
    bot.fail("prod-reboot", desktops=1)
    message, fingerprint = await bot.alert("prod-reboot")
    await bot.press(fingerprint, message)
    await bot.thread_says(message, "succeeded on 1 desktop")
    assert "Retry started" in blocks_text(await bot.press(fingerprint, message))
    async with asyncio.timeout(5):
        while len(bot.actions()) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_a_denied_confirm_sends_nothing_and_a_confirmed_one_retries(bot: Bot) -> None:
    """Slack shows the confirm dialog in the client: "Cancel" never reaches the app."""
    bot.fail("prod-reboot", desktops=2)
    message, _ = await bot.alert("prod-reboot")
    driver = bot.driver()
    where = (message.channel, message.ts)
    assert await driver.press(RETRY_ACTION_ID, user=ADMIN, message=where, confirm=False) is None
    assert bot.actions() == []
    assert message.replies == []
    answer = await driver.press(RETRY_ACTION_ID, user=ADMIN, message=where)
    assert answer is not None
    assert answer.status == 200
    await bot.thread_says(message, "succeeded on 2 desktops")
    assert len(bot.actions()) == 1


async def test_a_job_still_running_after_the_bound_is_said_so_and_not_started_again(bot: Bot) -> None:
    bot.world.sim.state.jobs.hang = True
    bot.fail("prod-reboot", desktops=1)
    message, fingerprint = await bot.alert("prod-reboot")
    await bot.press(fingerprint, message)
    said = await bot.thread_says(message, "still RUNNING after 5 checks")
    assert "check it in the console" in said
    # Still being worked on as far as anyone knows: the claim holds until it expires.
    assert "already running" in blocks_text(await bot.press(fingerprint, message))
    assert len(bot.actions()) == 1


async def test_a_read_only_iam_user_is_told_the_missing_action_and_nothing_ran(bot: Bot) -> None:
    bot.world.sim.state.jobs.read_only = True
    bot.fail("prod-reboot", desktops=1)
    message, fingerprint = await bot.alert("prod-reboot")
    answer = await bot.press(fingerprint, message)
    assert "the IAM user lacks `workspace:desktops:operate`" in blocks_text(answer)
    assert "Nothing ran" in await bot.thread_says(message, "workspace:desktops:operate")
    assert bot.actions() == []
    # Refused means nothing ran: once the policy is fixed, the same retry may be asked again.
    bot.world.sim.state.jobs.read_only = False
    assert "Retry started" in blocks_text(await bot.press(fingerprint, message))


async def test_an_alert_of_another_project_is_refused_not_looked_up_in_the_wrong_one(bot: Bot) -> None:
    """The app's client reaches the first project listed; another project's alert says so."""
    bot.fail("prod-reboot", desktops=1)
    message, fingerprint = await bot.alert("prod-reboot")
    assert bot.deps.retry is not None
    bot.deps.retry.project = "eu-prod"
    answer = await bot.press(fingerprint, message)
    assert "retries from Slack reach only the first project listed (eu-prod)" in blocks_text(answer)
    assert bot.actions() == []
    assert message.replies == []


async def test_a_monitor_stopping_mid_job_says_so_and_takes_the_line_off(bot: Bot) -> None:
    """The follow-up is cancelled when the daemon stops: the thread says the outcome will not be followed,
    the message loses its "retry running" line, and the claim stays (the job may still be running)."""
    bot.world.sim.state.jobs.hang = True
    bot.fail("prod-reboot", desktops=1)
    message, fingerprint = await bot.alert("prod-reboot")
    assert bot.deps.retry is not None
    patient = Retrier(bot.world.client, interval=0.05, checks=1000)
    answers: list[str] = []

    async def respond(reply: Any) -> None:
        answers.append(reply.text)

    started = await begin_retry(
        fingerprint, Caller(user_id=ADMIN, user_name="u0admin001"), patient, bot.world.store,
        clock=lambda: bot.world.now[0], slack=bot.world.stub.client(), respond=respond,
    )  # fmt: skip
    assert started.follow is not None
    following = asyncio.create_task(started.follow())
    async with asyncio.timeout(10):
        while bot.world.sim.state.stats.count("job") < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert any(b.get("block_id") == MARK_BLOCK_ID for b in message.blocks)
    following.cancel()
    with pytest.raises(asyncio.CancelledError):
        await following
    said = await bot.thread_says(message, "The monitor stopped before retry job")
    assert "check it in the console" in said
    assert not any(b.get("block_id") == MARK_BLOCK_ID for b in message.blocks)
    assert "already running" in blocks_text(await bot.press(fingerprint, message))
    assert len(bot.actions()) == 1


async def test_a_digest_is_not_marked_but_its_thread_hears_the_retry(bot: Bot) -> None:
    """Alerts posted together share one digest message: a "retry running" line there would not say which
    alert is meant, so only the thread tells (the retry itself is as ever, via `/tasks retry`)."""
    bot.fail("prod-reboot", desktops=1)
    bot.fail("prod-script", desktops=1)
    await bot.world.cycle()
    [digest] = bot.world.top_level("desktop-ops")
    fingerprint = next(
        a.fingerprint for a in bot.world.store.load_open_alerts().values() if a.task_name == "prod-reboot"
    )
    ref = bot.world.store.message_ref(fingerprint)
    assert ref is not None
    assert (ref.ts, ref.digest) == (digest.ts, True)
    prompt = await bot.command(f"retry {fingerprint}")
    assert RETRY_ACTION_ID in json.dumps(prompt["blocks"])
    await bot.press(fingerprint, digest)
    await bot.thread_says(digest, "succeeded on 1 desktop")
    assert not any(MARK_BLOCK_ID in json.dumps(v.blocks) for v in digest.edits)
    assert not any(b.get("block_id") == MARK_BLOCK_ID for b in digest.blocks)


async def test_a_script_failing_again_on_a_desktop_is_reported_with_its_reason(bot: Bot) -> None:
    failed = bot.fail("prod-script", desktops=2)
    bot.world.sim.state.jobs.fail_desktops = {failed[1]: "disk full"}
    message, fingerprint = await bot.alert("prod-script")
    await bot.press(fingerprint, message)
    text = await bot.thread_says(message, "failed on 1 of 2 desktops again")
    assert "• desk-12: disk full" in text
    assert "desk-11" not in text.split("again:")[1]


async def test_many_desktops_failing_again_are_named_up_to_ten_and_counted_within_block_kit(bot: Bot) -> None:
    failed = bot.fail("prod-fleet", desktops=14)
    bot.world.sim.state.jobs.fail_desktops = {d: "<!channel> " + "x" * 400 for d in failed}
    message, fingerprint = await bot.alert("prod-fleet")
    await bot.press(fingerprint, message)
    await bot.thread_says(message, "failed on 14 of 14 desktops again")
    [reply] = [r for r in message.replies if "again" in r.text]
    assert reply.text.count("• fleet-") == 10
    assert "• and 4 more" in reply.text
    assert "<!channel>" not in reply.text + json.dumps(reply.blocks)
    assert "&lt;!channel&gt; xxx" in reply.text
    assert_valid(SlackMessage(reply.text, reply.blocks))


def outcomes(bot: Bot, command: str) -> dict[str, float]:
    """How `command` was counted in workspace_monitor_chatops_commands_total, by outcome (the non-zero)."""
    registry = bot.world.runtime.metrics.registry
    counts = {
        outcome: registry.get_sample_value(
            "workspace_monitor_chatops_commands_total", {"command": command, "outcome": outcome}
        )
        for outcome in COMMAND_OUTCOMES
    }
    return {outcome: n for outcome, n in counts.items() if n}


@pytest.mark.parametrize(
    ("failing", "target", "outcome"),
    [
        ("prod-reboot", "task", "ok"),  # answered with the plan and its button
        (None, "task", "invalid"),  # no alert fires for the task
        (None, "0000000000000000", "invalid"),  # no such alert
        ("prod-rebuild", "alert", "refused"),  # a task type that has no retry
    ],
)
async def test_tasks_retry_counts_as_what_came_of_it(
    bot: Bot, failing: str | None, target: str, outcome: str
) -> None:
    fingerprint = ""
    if failing is not None:
        bot.fail(failing, desktops=1)
        _, fingerprint = await bot.alert(failing)
    task_id = bot.world.task_id(failing or "prod-reboot")
    argument = {"task": task_id, "alert": fingerprint}.get(target, target)
    await bot.command(f"retry {argument}")
    assert outcomes(bot, "retry") == {outcome: 1}
    assert bot.actions() == []


async def test_a_retry_button_of_another_projects_alert_counts_refused(bot: Bot) -> None:
    bot.fail("prod-reboot", desktops=1)
    message, fingerprint = await bot.alert("prod-reboot")
    assert bot.deps.retry is not None
    bot.deps.retry.project = "eu-prod"
    await bot.press(fingerprint, message)
    assert outcomes(bot, "retry_button") == {"refused": 1}


async def test_a_retry_button_started_counts_ok(bot: Bot) -> None:
    bot.fail("prod-reboot", desktops=1)
    message, fingerprint = await bot.alert("prod-reboot")
    await bot.press(fingerprint, message)
    await bot.thread_says(message, "succeeded on 1 desktop")
    assert outcomes(bot, "retry_button") == {"ok": 1}
