"""The alert message's controls through the real bolt app, driven by the Slack stand-in as a person's client
(`AppDriver`: signed HTTP requests built from what the stand-in shows): the Silence menu with its confirm,
the custom silence modal (views.open, view_submission with errors), the script's "Full output" modal
(views.open then views.update), the Runbook link, and a broadcast recovery. The main paths run in Socket
Mode too (Socket Mode envelopes acked by the app).

Every posted message and every modal is checked as Slack would (slack_sdk's models, in the stand-in).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.chatops.access import Access
from monitor.chatops.runner import EVENTS_PATH, ChatopsService, SlackTokens
from monitor.config import SlackSettings
from monitor.devtools.slackstub import DEFAULT_APP_TOKEN, SlackStubOptions
from monitor.devtools.slackstub.interact import AppDriver, AppLink, OverSocket, SignedHttp
from monitor.devtools.slackstub.state import StubMessage
from monitor.metrics import COMMAND_OUTCOMES
from monitor.slack.actions import (
    RUNBOOK_ACTION_ID,
    SCRIPT_OUTPUT_ACTION_ID,
    SILENCE_CUSTOM_CALLBACK_ID,
    SILENCE_MENU_ACTION_ID,
)
from monitor.slack.message import SlackMessage
from tests.support.slack import ADMIN, assert_valid, texts
from tests.support.world import START, World, open_world

SECRET = "controls-signing-secret-0123456789"
STRANGER = "U0STRANGER"
RULES = """
rules:
  - name: prod
    match:
      task_name: "prod-*"
    channel: "#desktop-ops"
    severity: critical
    notify_resolved: broadcast
    runbook_url: "https://wiki.example.com/rb/{task_type}?name={task_name}"
"""
SCRIPT = {"last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY", "task_type": "EXECUTE_SCRIPT"}
#: A task name that would add a parameter, a path, a fragment and a mention to a runbook link unescaped.
HOSTILE_NAME = "prod-a&b=<!channel> /x#y?z"
HOSTILE_OUTPUT = "start\n" + "<!channel> ```\x1b[2J &amp;\n" * 5000 + "the end: <@U0BOSS> denied"


@dataclass
class Controls:
    world: World
    driver: AppDriver

    @property
    def stub(self) -> Any:
        return self.world.stub

    async def alert(self, name: str = "prod-reboot") -> StubMessage:
        """The alert message a real cycle posts for `name` failing on two desktops."""
        self.world.execute(name, "FAIL", failed_desktops=["desk-01", "desk-02"], fail_reason="<!here> denied")
        await self.world.engine.run_cycle()
        await self.world.dispatcher.flush()
        message: StubMessage = self.stub.state.messages("desktop-ops")[-1]
        assert_valid(SlackMessage(message.text, message.blocks or []))
        return message

    def fingerprint(self) -> str:
        [fingerprint] = self.world.store.load_open_alerts()
        return fingerprint

    async def choose(
        self, message: StubMessage, option: str, *, user: str = ADMIN, confirm: bool = True
    ) -> Any:
        return await self.driver.press(
            SILENCE_MENU_ACTION_ID,
            user=user,
            message=("desktop-ops", message.ts),
            option=option,
            confirm=confirm,
        )

    def answers(self) -> list[str]:
        """The ephemeral answers posted to response_urls, as text."""
        return [
            " ".join(text for _, text in texts(r["body"].get("blocks") or []))
            for r in self.stub.state.responses
        ]

    async def modal(self, user: str, *, ready: bool = True) -> Any:
        """The one modal open for `user`, once the app opened it (after its ack) and, with `ready`, filled."""
        for _ in range(1500):
            opened = self.stub.state.views.open_modals(user)
            if opened and not (ready and "Looking it up" in str(opened[0].blocks)):
                [modal] = opened
                return modal
            await _tick()
        raise AssertionError(f"no modal for {user}")

    async def replies(self, message: StubMessage, count: int) -> list[StubMessage]:
        """The replies in `message`'s thread once there are `count` (notes are posted after the ack)."""
        for _ in range(1500):
            found: list[StubMessage] = self.stub.state.message("desktop-ops", message.ts).replies
            if len(found) >= count:
                return found
            await _tick()
        raise AssertionError(f"{count} replies expected")

    async def answered(self, count: int) -> list[str]:
        for _ in range(1500):
            if len(self.stub.state.responses) >= count:
                return self.answers()
            await _tick()
        raise AssertionError(f"{count} answers expected, got {self.answers()}")


async def _tick() -> None:
    await asyncio.sleep(0.01)


@pytest.fixture
async def controls(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Controls]:
    """The app in HTTP mode (signed requests), or with `indirect` "socket" in Socket Mode (envelopes)."""
    mode = getattr(request, "param", "http")
    tasks = [
        {"task_name": "prod-reboot", "last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY",
         "task_type": "REBOOT"},
        {"task_name": "prod-patch", **SCRIPT},
        {"task_name": HOSTILE_NAME, "last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY",
         "task_type": "REBOOT"},
    ]  # fmt: skip
    frozen = SlackStubOptions(clock=lambda: 1_764_403_200.0)  # trigger_ids never expire under a slow test
    async with open_world(tmp_path, RULES, tasks=tasks, stub_options=frozen) as world:
        deps = world.chatops_deps(
            access=Access.of([ADMIN], []),
            on_command=world.runtime.metrics.chatops_command,
        )
        if mode == "socket":
            settings = SlackSettings(mode="socket", api_url=world.stub.api_url)
            tokens = SlackTokens(bot=world.stub.token, app=DEFAULT_APP_TOKEN)
        else:
            settings = SlackSettings.model_construct(
                mode="http", listen="127.0.0.1:0", api_url=world.stub.api_url
            )
            tokens = SlackTokens(bot=world.stub.token, signing_secret=SECRET)
        service = ChatopsService(settings, tokens, deps)
        await service.start()
        try:
            link: AppLink
            if mode == "socket":
                await world.stub.socket.wait_connected()
                link = OverSocket(world.stub.socket)
            else:
                link = SignedHttp(f"http://{service.address}{EVENTS_PATH}", SECRET)
            yield Controls(world, AppDriver(world.stub, link))
        finally:
            await service.stop()


# -- the Silence menu ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("controls", ["http", "socket"], indirect=True)
@pytest.mark.parametrize(
    ("option", "duration", "note"),
    [("1h", timedelta(hours=1), "1h"), ("4h", timedelta(hours=4), "4h"), ("1d", timedelta(days=1), "1d"),
     ("1w", timedelta(weeks=1), "1w")],
)  # fmt: skip
async def test_each_silence_choice_silences_the_alerts_task_for_that_long(
    controls: Controls, option: str, duration: timedelta, note: str
) -> None:
    message = await controls.alert()
    fingerprint = controls.fingerprint()
    answer = await controls.choose(message, f"{option}|{fingerprint}")
    assert answer.status == 200
    [said] = await controls.answered(1)
    [silence] = controls.world.store.silences()
    assert silence.until == START + duration
    assert silence.rules == frozenset({"prod"})
    assert silence.matcher.to_spec() == {"id": [controls.world.task_id("prod-reboot")]}
    assert silence.id in said
    [reply] = await controls.replies(message, 1)
    assert reply.text.startswith("🔕 Silenced for ")
    assert reply.text.endswith(" by u0admin001.")


async def test_a_denied_confirm_sends_nothing_and_silences_nothing(controls: Controls) -> None:
    message = await controls.alert()
    assert await controls.choose(message, f"1h|{controls.fingerprint()}", confirm=False) is None
    assert controls.world.store.silences() == []
    assert controls.driver.sent == []


@pytest.mark.parametrize("controls", ["http", "socket"], indirect=True)
async def test_a_stranger_is_refused_by_the_menu_and_by_custom(controls: Controls) -> None:
    message = await controls.alert()
    fingerprint = controls.fingerprint()
    await controls.choose(message, f"4h|{fingerprint}", user=STRANGER)
    await controls.choose(message, f"custom|{fingerprint}", user=STRANGER)
    said = await controls.answered(2)
    assert all("Sorry, only admins" in text for text in said)
    assert controls.stub.state.views.open_modals() == []
    assert controls.world.store.silences() == []


@pytest.mark.parametrize("controls", ["http", "socket"], indirect=True)
async def test_custom_opens_a_modal_and_its_submission_silences_with_the_reason(controls: Controls) -> None:
    message = await controls.alert()
    await controls.choose(message, f"custom|{controls.fingerprint()}")
    modal = await controls.modal(ADMIN)
    assert modal.body["callback_id"] == SILENCE_CUSTOM_CALLBACK_ID
    answer = await controls.driver.submit(
        modal.id,
        {"duration": {"value": "3d"}, "reason": {"value": "patching <!channel> until Friday"}},
        user=ADMIN,
    )
    assert answer.status == 200
    assert answer.body.get("response_action") is None, "closed"
    assert controls.stub.state.views.open_modals() == []
    [silence] = controls.world.store.silences()
    assert silence.until == START + timedelta(days=3)
    assert silence.comment == "patching <!channel> until Friday"
    [reply] = await controls.replies(message, 1)  # the note comes after the ack
    assert reply.text == "🔕 Silenced for 3d by u0admin001: patching &lt;!channel&gt; until Friday"


@pytest.mark.parametrize(
    ("values", "errors"),
    [
        ({"duration": "soon", "reason": "x"}, {"duration": "bad duration 'soon'"}),
        ({"duration": "1000d", "reason": "x"}, {"duration": "longer than the longest silence"}),
        ({"duration": "2h", "reason": "   "}, {"reason": "Say why"}),
        ({"duration": "", "reason": ""}, {"duration": "bad duration", "reason": "Say why"}),
    ],
)
async def test_a_bad_custom_form_stays_open_saying_what_is_wrong(
    controls: Controls, values: dict[str, str], errors: dict[str, str]
) -> None:
    message = await controls.alert()
    await controls.choose(message, f"custom|{controls.fingerprint()}")
    modal = await controls.modal(ADMIN)
    answer = await controls.driver.submit(modal.id, {k: {"value": v} for k, v in values.items()}, user=ADMIN)
    assert answer.body["response_action"] == "errors"
    assert set(answer.body["errors"]) == set(errors)
    for block, says in errors.items():
        assert says in answer.body["errors"][block]
    assert [m.id for m in controls.stub.state.views.open_modals()] == [modal.id]
    assert controls.world.store.silences() == []


async def test_a_custom_silence_of_an_alert_that_closed_meanwhile_says_so_in_the_modal(
    controls: Controls,
) -> None:
    message = await controls.alert()
    await controls.choose(message, f"custom|{controls.fingerprint()}")
    modal = await controls.modal(ADMIN)
    controls.world.execute("prod-reboot", "SUCCESS")
    await controls.world.engine.run_cycle()
    answer = await controls.driver.submit(
        modal.id, {"duration": {"value": "2h"}, "reason": {"value": "x"}}, user=ADMIN
    )
    assert answer.body["response_action"] == "errors"
    assert "no longer open" in answer.body["errors"]["reason"]
    registry = controls.world.runtime.metrics.registry
    counted = {
        outcome: registry.get_sample_value(
            "workspace_monitor_chatops_commands_total", {"command": "silence_button", "outcome": outcome}
        )
        for outcome in COMMAND_OUTCOMES
    }
    assert {outcome: n for outcome, n in counted.items() if n} == {"invalid": 1}, "it did nothing"


# -- the runbook and the broadcast recovery -----------------------------------------------------------------


@pytest.mark.parametrize("controls", ["http", "socket"], indirect=True)
async def test_the_runbook_link_is_escaped_and_its_press_is_acked(controls: Controls) -> None:
    """A hostile task name is one escaped query value of the link a real cycle posts (no new parameter,
    path, fragment or mention), and pressing the link button is acked with nothing answered."""
    message = await controls.alert(HOSTILE_NAME)
    [link] = [e for b in message.blocks if b["type"] == "actions" for e in b["elements"] if e.get("url")]
    assert (
        link["url"] == "https://wiki.example.com/rb/REBOOT?name=prod-a%26b%3D%3C%21channel%3E%20%2Fx%23y%3Fz"
    )
    answer = await controls.driver.press(
        RUNBOOK_ACTION_ID, user=STRANGER, message=("desktop-ops", message.ts)
    )
    assert answer is not None
    assert answer.status == 200
    assert controls.stub.state.responses == []


async def test_a_broadcast_rules_recovery_is_in_the_thread_and_the_channel(controls: Controls) -> None:
    message = await controls.alert()
    controls.world.execute("prod-reboot", "SUCCESS")
    await controls.world.engine.run_cycle()
    await controls.world.dispatcher.flush()
    [reply] = controls.stub.state.message("desktop-ops", message.ts).replies
    assert reply.text.startswith("✅ [critical] Resolved")
    top = controls.stub.state.messages("desktop-ops")
    assert [m.ts for m in top] == [message.ts, reply.ts], "the reply shows in the channel too"
    assert top[1].wire(include_metadata=False)["subtype"] == "thread_broadcast"


# -- the script's full output ------------------------------------------------------------------------------


@pytest.mark.parametrize("controls", ["http", "socket"], indirect=True)
async def test_full_output_opens_a_modal_with_the_end_of_the_escaped_output(controls: Controls) -> None:
    controls.world.sim.state.jobs.failed_outputs["desk-01"] = HOSTILE_OUTPUT
    message = await controls.alert("prod-patch")
    [first, _] = [b["accessory"]["value"] for b in message.blocks if b.get("accessory", {}).get("action_id")
                  == SCRIPT_OUTPUT_ACTION_ID]  # fmt: skip
    answer = await controls.driver.press(
        SCRIPT_OUTPUT_ACTION_ID, user=STRANGER, message=("desktop-ops", message.ts), value=first
    )
    assert answer is not None
    assert answer.status == 200
    modal = await controls.modal(STRANGER)
    shown = [text for kind, text in texts(modal.blocks) if kind == "mrkdwn"]
    assert shown[0].startswith("📜 *desk-01* · FAIL · exit 1")
    body = "".join(shown)
    assert body.count("```") % 2 == 0
    assert "the end: &lt;@U0BOSS&gt; denied" in body
    assert "<!channel>" not in body
    assert "\x1b" not in body
    assert len(modal.blocks) <= 100


async def test_full_output_of_a_record_the_api_does_not_have(controls: Controls) -> None:
    message = await controls.alert("prod-patch")
    block = next(
        b for b in message.blocks if b.get("accessory", {}).get("action_id") == SCRIPT_OUTPUT_ACTION_ID
    )
    block["accessory"]["value"] = "0000-no-such-record"
    await controls.driver.press(SCRIPT_OUTPUT_ACTION_ID, user=ADMIN, message=("desktop-ops", message.ts))
    modal = await controls.modal(ADMIN)
    assert "⚠️" in str(modal.blocks)


@pytest.mark.parametrize("controls", ["http", "socket"], indirect=True)
async def test_custom_silence_from_the_home_tab_notes_it_in_the_alerts_thread(controls: Controls) -> None:
    """On the Home tab a control has no message: the form still names the alert's message (the stored one),
    so the note goes to its thread."""
    message = await controls.alert()
    fingerprint = controls.fingerprint()
    await controls.driver.open_home(ADMIN)
    for _ in range(1500):
        home = controls.stub.state.views.home(ADMIN)
        if home is not None and fingerprint in str(home.blocks):
            break
        await _tick()
    assert home is not None
    await controls.driver.press(SILENCE_MENU_ACTION_ID, user=ADMIN, view=home, option=f"custom|{fingerprint}")
    modal = await controls.modal(ADMIN)
    await controls.driver.submit(
        modal.id, {"duration": {"value": "12h"}, "reason": {"value": "night"}}, user=ADMIN
    )
    [silence] = controls.world.store.silences()
    assert silence.until == START + timedelta(hours=12)
    [reply] = await controls.replies(message, 1)
    assert reply.text == "🔕 Silenced for 12h by u0admin001: night"


@pytest.mark.parametrize("record_id", ["..", "."])
async def test_full_output_of_a_value_that_would_leave_its_path_asks_the_api_nothing(
    controls: Controls, record_id: str
) -> None:
    """A button value of `..` would have become `GET /v2/{project_id}` (`.`: the records listing), since
    URL normalisation resolves dot segments: the client refuses it unasked and the modal says so."""
    message = await controls.alert("prod-patch")
    block = next(
        b for b in message.blocks if b.get("accessory", {}).get("action_id") == SCRIPT_OUTPUT_ACTION_ID
    )
    block["accessory"]["value"] = record_id
    stats = controls.world.sim.state.stats
    asked = stats.snapshot()["total"]
    await controls.driver.press(SCRIPT_OUTPUT_ACTION_ID, user=STRANGER, message=("desktop-ops", message.ts))
    modal = await controls.modal(STRANGER)
    assert "no longer has this script record" in str(modal.blocks)
    assert stats.snapshot()["total"] == asked


@pytest.mark.parametrize("controls", ["http", "socket"], indirect=True)
async def test_a_custom_silence_whose_reason_no_store_can_keep_is_stored_cleaned(controls: Controls) -> None:
    """A reason with a lone surrogate (a JSON escape `\\ud800` decodes to one) raised UnicodeEncodeError in
    the store and the form got no answer; with NUL PostgreSQL refused it. Both become U+FFFD."""
    message = await controls.alert()
    await controls.choose(message, f"custom|{controls.fingerprint()}")
    modal = await controls.modal(ADMIN)
    answer = await controls.driver.submit(
        modal.id, {"duration": {"value": "2h"}, "reason": {"value": "night\ud800 \x00work"}}, user=ADMIN
    )
    assert answer.status == 200
    assert answer.body.get("response_action") is None, "closed"
    [silence] = controls.world.store.silences()
    assert silence.comment == "night\ufffd \ufffdwork"


async def test_opening_the_home_tab_over_and_over_is_rate_limited(controls: Controls) -> None:
    """Each opening reads every open alert and the outbox (and, with retries on, lists the failing tasks):
    ten a minute per person, like commands; past that the tab keeps the view it has, counted rate_limited."""
    registry = controls.world.runtime.metrics.registry

    def counted(outcome: str) -> float:
        labels = {"command": "home", "outcome": outcome}
        return registry.get_sample_value("workspace_monitor_chatops_commands_total", labels) or 0.0

    for _ in range(12):
        await controls.driver.open_home(ADMIN)
    for _ in range(1500):
        if counted("ok") + counted("rate_limited") >= 12:
            break
        await _tick()
    assert (counted("ok"), counted("rate_limited")) == (10, 2)
    assert len([user for user, _ in controls.stub.state.views.published if user == ADMIN]) == 10
    await controls.driver.open_home(STRANGER)  # someone else is not held back
    for _ in range(1500):
        if counted("ok") >= 11:
            break
        await _tick()
    assert counted("ok") == 11


@pytest.mark.parametrize(
    ("metadata", "says"),
    [
        ("not json {", "This form names no alert"),
        ('{"alert": "../x", "channel": "C1", "ts": "1"}', "This form names no alert"),
        ('{"alert": ["a"], "channel": "C1", "ts": "1"}', "This form names no alert"),
        ('{"alert": "00000000deadbeef", "channel": "C1", "ts": "1"}', "no longer open"),
    ],
)
async def test_a_custom_form_whose_metadata_is_not_ours_silences_nothing(
    controls: Controls, metadata: str, says: str
) -> None:
    """The form's private_metadata round-trips through Slack (only the app sets it), but it is read warily:
    one that names no alert of ours, or an alert that is not open, is answered in the form, nothing stored."""
    message = await controls.alert()
    await controls.choose(message, f"custom|{controls.fingerprint()}")
    modal = await controls.modal(ADMIN)
    modal.body["private_metadata"] = metadata
    answer = await controls.driver.submit(
        modal.id, {"duration": {"value": "2h"}, "reason": {"value": "x"}}, user=ADMIN
    )
    assert answer.body["response_action"] == "errors"
    assert says in answer.body["errors"]["reason"]
    assert controls.world.store.silences() == []
