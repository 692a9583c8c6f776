"""The Home tab end to end, through the real bolt app in Socket Mode and in signed HTTP mode: the stand-in's
`AppDriver` opens the tab (`app_home_opened`) and presses its buttons as Slack's client would; the app
publishes the tab (`views.publish`, checked by the stand-in with slack_sdk's View model) from a real SQLite
state whose alerts a real cycle posted to the stand-in; the Workspace simulator is the API."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.chatops.access import Access
from monitor.chatops.retry import Retrier
from monitor.chatops.runner import EVENTS_PATH, ChatopsService, SlackTokens, store_status
from monitor.config import SlackSettings
from monitor.decide import AlertState, AlertStatus
from monitor.devtools.sim.faults import parse_fault
from monitor.devtools.slackstub import DEFAULT_APP_TOKEN
from monitor.devtools.slackstub.interact import AppDriver, OverSocket, SignedHttp
from monitor.devtools.slackstub.views import StubView
from monitor.slack.actions import ACK_ACTION_ID, RETRY_ACTION_ID, SILENCE_MENU_ACTION_ID
from monitor.slack.notifier import SlackNotifier
from monitor.store.base import CycleChanges
from tests.support.slack import ADMIN, texts
from tests.support.world import World, open_world

RULES = """
rules:
  - name: prod
    match:
      task_name: "prod-*"
    channel: "#desktop-ops"
    severity: critical
  - name: lab
    match:
      task_name: "lab-*"
    channel: "#desktop-ops"
    severity: info
"""
SECRET = "home-signing-secret-0123456789abcdef"
STRANGER = "U0STRANGER"
TASKS = [
    {"task_name": "prod-reboot", "task_type": "REBOOT", "desktops": ["desk-01", "desk-02", "desk-03"]},
    {"task_name": "prod-rebuild", "task_type": "REBUILD", "desktops": ["desk-21"]},
    {"task_name": "lab-001", "task_type": "START", "desktops": ["desk-31"]},
]


@dataclass
class Home:
    world: World
    driver: AppDriver

    @property
    def views(self) -> Any:
        return self.world.stub.state.views

    async def fail(self, *names: str) -> None:
        """An execution of each task failing on its first desktop, and a cycle that posts the alerts."""
        for name in names:
            first = self.world.sim.state.task(name).desktops[0].name
            self.world.execute(name, "FAIL", failed_desktops=[first], fail_reason="<!channel> boom")
        await self.world.cycle()

    async def published(self, user: str, count: int) -> StubView:
        """The user's Home tab once `count` publishes happened in all (they come after the ack)."""
        async with asyncio.timeout(10):
            while True:
                home = self.views.home(user)
                if len(self.views.published) >= count and home is not None:
                    view: StubView = home
                    return view
                await asyncio.sleep(0.01)

    async def open(self, user: str) -> StubView:
        count = len(self.views.published) + 1
        answer = await self.driver.open_home(user)
        assert answer.status == 200
        return await self.published(user, count)

    async def press(self, action_id: str, fingerprint: str, user: str) -> StubView:
        """Open the tab, press the button (confirming its dialog, if any), and the tab published after."""
        view = await self.open(user)
        count = len(self.views.published) + 1
        if action_id == SILENCE_MENU_ACTION_ID:  # a menu: its "Silence 1 hour" option
            await self.driver.press(action_id, user=user, view=view, option=f"1h|{fingerprint}")
        else:
            await self.driver.press(action_id, user=user, view=view, value=fingerprint)
        return await self.published(user, count)

    async def thread_says(self, words: str) -> None:
        [message] = self.world.stub.state.messages("desktop-ops")
        async with asyncio.timeout(10):
            while True:
                if any(words in reply.text for reply in message.replies):
                    return
                await asyncio.sleep(0.01)

    def alert(self, name: str) -> str:
        [fingerprint] = [
            a.fingerprint for a in self.world.store.load_open_alerts().values() if a.task_name == name
        ]
        return fingerprint


def shown(view: StubView) -> str:
    return "\n".join(text for _, text in texts(view.blocks))


def buttons(view: StubView) -> list[tuple[str, str]]:
    """(action_id, the alert it acts on) of each control: a button's value, a menu option's "...|<alert>"."""
    return [
        (e["action_id"], e.get("value") or e["options"][0]["value"].partition("|")[2])
        for b in view.blocks
        if b["type"] == "actions"
        for e in b["elements"]
    ]


@pytest.fixture(params=["socket", "http"])
async def home(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Home]:
    async with open_world(tmp_path, RULES, tasks=TASKS) as world:
        runtime = world.runtime
        assert isinstance(world.notifier, SlackNotifier)
        world.notifier.retry = True  # slack.actions: [retry], on the messages and on the tab
        deps = world.chatops_deps(
            access=Access.of([ADMIN], []),
            status=store_status(world.store, runtime.health),
            ruleset=runtime.loaded.ruleset,
            retry=Retrier(world.client, interval=0, checks=5),
        )
        link: Callable[[ChatopsService], Any]
        if request.param == "http":
            # Port 0 (any free port) is for tests only, so the settings are built without the port check.
            settings = SlackSettings.model_construct(
                mode="http", listen="127.0.0.1:0", api_url=world.stub.api_url
            )
            tokens = SlackTokens(bot=world.stub.token, signing_secret=SECRET)
            link = lambda service: SignedHttp(f"http://{service.address}{EVENTS_PATH}", SECRET)  # noqa: E731
        else:
            settings = SlackSettings(mode="socket", api_url=world.stub.api_url)
            tokens = SlackTokens(bot=world.stub.token, app=DEFAULT_APP_TOKEN)
            link = lambda service: OverSocket(world.stub.socket)  # noqa: E731
        service = ChatopsService(settings, tokens, deps, ping_interval=1.0, watch_every=0.05)
        await service.start()
        try:
            if request.param == "socket":
                await world.stub.socket.wait_connected()
            yield Home(world, AppDriver(world.stub, link(service)))
        finally:
            await service.stop()


async def test_opening_the_tab_publishes_the_firing_alerts_by_severity_with_links_and_buttons(
    home: Home,
) -> None:
    await home.fail("prod-reboot", "lab-001")
    view = await home.open(ADMIN)
    text = shown(view)
    assert "Firing alerts (2)" in text
    assert text.index("🔴 *critical* (1)") < text.index("🔵 *info* (1)")
    [message] = [m for m in home.world.stub.state.messages("desktop-ops") if "prod-reboot" in m.text]
    link = f"<https://stub.slack.com/archives/{message.channel}/p{message.ts.replace('.', '')}|message>"
    assert link in text
    prod = home.alert("prod-reboot")
    assert (ACK_ACTION_ID, prod) in buttons(view)
    assert (SILENCE_MENU_ACTION_ID, prod) in buttons(view)
    assert "*Last poll*" in text


async def test_the_tab_is_built_each_time_it_is_opened_and_never_otherwise(home: Home) -> None:
    first = await home.open(ADMIN)
    assert "✅ No firing alerts." in shown(first)
    await home.fail("prod-reboot")
    await asyncio.sleep(0.1)
    assert len(home.views.published) == 1  # nothing is published on a timer or on a new alert
    again = await home.open(ADMIN)
    assert "Firing alerts (1)" in shown(again)
    assert again.id == first.id
    assert home.world.stub.state.count("views.publish", ok=True) == 2


async def test_acknowledge_on_the_tab_acknowledges_notes_it_in_the_thread_and_shows_it(home: Home) -> None:
    await home.fail("prod-reboot")
    fingerprint = home.alert("prod-reboot")
    view = await home.press(ACK_ACTION_ID, fingerprint, ADMIN)
    assert home.world.store.load_alerts([fingerprint])[fingerprint].acknowledged_by == "u0admin001"
    text = shown(view)
    assert f"Alert `{fingerprint}` acknowledged by u0admin001" in view.blocks[0]["text"]["text"]
    assert "👀 u0admin001" in text
    assert (ACK_ACTION_ID, fingerprint) not in buttons(view)  # as on the message, once acknowledged
    await home.thread_says("Acknowledged by u0admin001")


async def test_silence_on_the_tab_silences_the_alerts_rule_for_its_task(home: Home) -> None:
    await home.fail("prod-reboot")
    fingerprint = home.alert("prod-reboot")
    view = await home.press(SILENCE_MENU_ACTION_ID, fingerprint, ADMIN)
    [silence] = home.world.store.silences()
    assert silence.rules == frozenset({"prod"})
    assert view.blocks[0]["text"]["text"].startswith("Silenced:")
    assert "Active silences (1)" in shown(view)


@pytest.mark.parametrize("action_id", [ACK_ACTION_ID, SILENCE_MENU_ACTION_ID, RETRY_ACTION_ID])
async def test_a_non_admin_sees_the_tab_but_its_buttons_refuse_them_as_on_messages(
    home: Home, action_id: str
) -> None:
    await home.fail("prod-reboot")
    fingerprint = home.alert("prod-reboot")
    view = await home.open(STRANGER)
    assert "Firing alerts (1)" in shown(view)
    assert (action_id, fingerprint) in buttons(view)
    answered = await home.press(action_id, fingerprint, STRANGER)
    assert re.match(
        r"🙏 Sorry, only admins \(or anyone in an allowed channel\) may", answered.blocks[0]["text"]["text"]
    )
    assert home.world.store.silences() == []
    assert home.world.store.load_alerts([fingerprint])[fingerprint].acknowledged_by is None
    assert home.world.sim.state.jobs.actions == []
    [message] = home.world.stub.state.messages("desktop-ops")
    assert message.replies == []


async def test_retry_is_on_the_tab_for_alerts_of_a_redoable_task_only_as_on_messages(home: Home) -> None:
    await home.fail("prod-reboot", "prod-rebuild")
    view = await home.open(ADMIN)
    [retry] = [e for b in view.blocks if b["type"] == "actions" for e in b["elements"]
               if e["action_id"] == RETRY_ACTION_ID]  # fmt: skip
    assert retry["value"] == home.alert("prod-reboot")
    assert "prod-reboot" in retry["confirm"]["text"]["text"]


async def test_retry_on_the_tab_runs_once_confirmed_on_the_failed_desktops(home: Home) -> None:
    await home.fail("prod-reboot")
    fingerprint = home.alert("prod-reboot")
    view = await home.open(ADMIN)
    # The confirm dialog denied: Slack sends nothing, nothing runs.
    assert (
        await home.driver.press(RETRY_ACTION_ID, user=ADMIN, view=view, value=fingerprint, confirm=False)
        is None
    )
    assert home.world.sim.state.jobs.actions == []
    answered = await home.press(RETRY_ACTION_ID, fingerprint, ADMIN)
    assert "Retry started (reboot on 1 desktop" in answered.blocks[0]["text"]["text"]
    await home.thread_says("asked by u0admin001")
    [action] = home.world.sim.state.jobs.actions
    first = home.world.sim.state.task("prod-reboot").desktops[0].id
    assert (action["desktop_ids"], action["op_type"]) == ([first], "reboot")


async def test_the_tab_is_still_shown_without_retry_when_the_api_cannot_list_the_failing_tasks(
    home: Home,
) -> None:
    await home.fail("prod-reboot")
    home.world.sim.state.faults.add(
        parse_fault({"kind": "status", "status": 500, "endpoint": "list", "count": 50})
    )
    view = await home.open(ADMIN)
    assert "Firing alerts (1)" in shown(view)
    assert [action for action, _ in buttons(view)] == [ACK_ACTION_ID, SILENCE_MENU_ACTION_ID]


async def test_a_custom_silence_from_the_tab_opens_its_form_and_silences_on_submit(home: Home) -> None:
    """ "Custom…" in the tab's Silence menu (of the second alert shown) opens the form with the press's
    trigger_id; its submission silences that alert for the duration given, with the reason, and says so in
    the alert's thread."""
    await home.fail("prod-reboot", "lab-001")
    fingerprint = home.alert("lab-001")
    view = await home.open(ADMIN)
    await home.driver.press(SILENCE_MENU_ACTION_ID, user=ADMIN, view=view, option=f"custom|{fingerprint}")
    async with asyncio.timeout(10):
        while True:
            opened = home.views.open_modals(ADMIN)
            if opened:
                break
            await asyncio.sleep(0.01)
    form = {"duration": {"value": "2h"}, "reason": {"value": "patching <!here>"}}
    answer = await home.driver.submit(opened[0].id, form, user=ADMIN)
    assert answer.body == {}
    [silence] = home.world.store.silences()
    assert silence.rules == frozenset({"lab"})
    assert silence.until - silence.created_at == timedelta(hours=2)
    assert silence.comment == "patching <!here>"
    assert home.views.open_modals(ADMIN) == []
    [message] = [m for m in home.world.stub.state.messages("desktop-ops") if "lab-001" in m.text]
    async with asyncio.timeout(10):
        while True:
            if any("Silenced for 2h by u0admin001" in reply.text for reply in message.replies):
                break
            await asyncio.sleep(0.01)


async def test_with_500_firing_alerts_the_tab_published_is_one_slack_takes(home: Home) -> None:
    """500 firing alerts in the store: the stand-in (slack_sdk's View model, 100 blocks, 250 kB) takes the
    tab, which shows the first 30 with their controls and counts the rest."""
    now = home.world.now[0]
    alerts = [
        AlertState(
            fingerprint=f"{index:016x}", rule_name=("prod", "lab")[index % 2], project="p",
            task_id=f"t-{index}", task_name=f"prod-{index:03d} <!channel>", status=AlertStatus.FIRING,
            episode=1, last_status="FAIL", record_id=None, next_execution_time=None, occurrences=1,
            consecutive_failures=1, opened_at=now - timedelta(minutes=index), updated_at=now,
        )
        for index in range(500)
    ]  # fmt: skip
    home.world.store.apply_cycle(CycleChanges(alerts=alerts))
    view = await home.open(ADMIN)
    text = shown(view)
    assert "Firing alerts (500)" in text
    assert "… and 220 more critical" in text
    assert "… and 250 more info" in text
    assert len(view.blocks) <= 100
    assert "&lt;!channel&gt;" in text
    assert home.world.stub.state.count("views.publish", ok=False) == 0
