"""mrkdwn injection: Slack markup in user data (task names, descriptions, desktop names, fail reasons) is
rendered inert in every message kind, on its way through the whole product; the terminal gets no control
characters either.

What it proves:
- end to end (the Workspace simulator, real cycles, a real SQLite store, slack_sdk against the Slack
  stand-in): tasks named and described `<!channel>`, `<!here>`, `<@U123>`, `<http://evil|click>`, `&amp;`,
  failing on desktops with such names and fail reasons, go through a digest, a single alert, reminders, a
  recurrence (edit + reply), a status change, a recovery (edit + reply), a silence with markup in its
  comment; in every message, edit and reply the stand-in stored,
  no `<`, `>` or entity comes from user data: the only markup is our dates and the rule's validated mention;
- from API models (not hand-made payloads) through `build_payload` to every renderer (alert, digest, update,
  thread reply) for every kind, for arbitrary text in every field (hypothesis): the same;
- rule files cannot smuggle markup in: a channel with markup is refused, a mention must be valid tokens;
- the console notifier (dry runs, no Slack token) and the `tasks` table print markup literally and send no
  control character (escape sequences, C1, bidi overrides) to the terminal.
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from monitor.decide import DecisionKind, Observation, decide
from monitor.devtools.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    SimOptions,
    start_simulator,
)
from monitor.devtools.sim.runner import Simulator
from monitor.devtools.slackstub import SlackStubOptions, start_slack_stub
from monitor.devtools.slackstub.runner import SlackStub
from monitor.engine import Engine
from monitor.notify.console import ConsoleNotifier
from monitor.notify.dispatch import Dispatcher
from monitor.notify.payload import build_payload
from monitor.rules.load import RuleFileError, load_rules_text
from monitor.slack.alert import render_alert, render_thread_reply, render_update
from monitor.slack.digest import render_digest
from monitor.slack.notifier import SlackNotifier
from monitor.store import SQLiteStore
from monitor.store.base import MessageRef, OutboxEntry, OutboxRow, OutboxState
from monitor.tasklist import task_table
from monitor.workspace.auth import AkSkAuth
from monitor.workspace.client import RetryPolicy, WorkspaceClient
from monitor.workspace.models import ExecutionRecord, RecordDetail, ScheduledTask
from tests.fuzz import examples
from tests.support.slack import allowed_tokens, assert_no_user_markup, assert_valid, texts

HOSTILE = ["<!channel>", "<!here>", "<@U123>", "<http://evil|click>", "&amp;", "<!everyone> &lt;b&gt;"]
MENTION = "<!subteam^S0123456789|@oncall>"
RULES = f"""
rules:
  - name: ops
    match:
      task_name: "prod*"
    channel: "#desktop-ops"
    severity: critical
    mention: "{MENTION}"
    repeat_interval: 1h
silences:
  - match: {{task_name: "prod<!everyone> &lt;b&gt;"}}
    until: 2026-11-29T08:30:00Z
    comment: "<!channel> <http://evil|click> &amp; maintenance"
"""
START = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
FORBIDDEN = re.compile(r"<!channel>|<!here>|<!everyone>|<@U123>|<http://evil")


# -- end to end ---------------------------------------------------------------------------------------------


@dataclass
class World:
    sim: Simulator
    stub: SlackStub
    engine: Engine
    dispatcher: Dispatcher
    now: list[datetime]

    def execute(self, name: str, status: str, **details: Any) -> None:
        self.sim.state.add_execution(self.sim.state.task(name).id, status, **details)

    async def cycle(self, minutes: int = 1) -> None:
        self.now[0] += timedelta(minutes=minutes)
        await self.engine.run_cycle()
        await self.dispatcher.flush()

    def shown(self) -> list[tuple[str, str, Any]]:
        """(what, text, blocks) of every message and reply as the channel shows them now."""
        found = []
        for message in self.stub.state.messages("desktop-ops"):
            found.append(("message", message.text, message.blocks))
            found.extend(("reply", reply.text, reply.blocks) for reply in message.replies)
        return found


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    now = [START]
    async with (
        start_simulator(SimOptions(tasks=0, seed=4, clock=lambda: now[0])) as sim,
        start_slack_stub(SlackStubOptions(strict_channels=True)) as stub,
    ):
        for index, hostile in enumerate(HOSTILE):
            fields = {"task_name": f"prod{hostile}", "description": f"{hostile} desc {index}"}
            sim.state.create_task(
                {**fields, "last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY"}
            )
        auth = AkSkAuth(
            DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, project_id=DEFAULT_PROJECT_ID, clock=lambda: now[0]
        )
        client = WorkspaceClient(
            endpoint=sim.base_url,
            project_id=DEFAULT_PROJECT_ID,
            auth=auth,
            retry=RetryPolicy(attempts=2, wait_initial=0, wait_max=0, wait_jitter=0),
        )
        store = SQLiteStore.open(tmp_path / "state.db")
        engine = Engine(
            client=client,
            store=store,
            ruleset=load_rules_text(RULES, "rules.yaml"),
            project=DEFAULT_PROJECT_ID,
            default_channel="#desktop-ops",
            clock=lambda: now[0],
        )
        notifier = SlackNotifier(stub.client(), per_channel_interval=0)
        dispatcher = Dispatcher(store, notifier, claimer="test", clock=lambda: now[0])
        async with client:
            yield World(sim, stub, engine, dispatcher, now)
        store.close()


def assert_inert(shown: list[tuple[str, str, Any]]) -> None:
    allowed = allowed_tokens(MENTION)
    for what, text, blocks in shown:
        assert not FORBIDDEN.search(str(blocks) + text), (what, text)
        assert_no_user_markup(text, allowed)
        for _kind, block_text in texts(blocks):
            assert_no_user_markup(block_text, allowed)


async def test_markup_in_task_data_is_inert_in_every_message_kind(world: World) -> None:
    names = [f"prod{hostile}" for hostile in HOSTILE]
    for name in names[1:]:
        world.execute(name, "FAIL", failed_desktops=[f"desk{h}" for h in HOSTILE[:2]], fail_reason=HOSTILE[3])
    await world.cycle()  # one digest of four NEW alerts; the fifth is silenced (a comment full of markup)
    world.execute(names[0], "FAIL", failed_desktops=["<!channel>"], fail_reason="<@U123> &amp;")
    await world.cycle()  # a single NEW alert
    await world.cycle(minutes=61)  # reminders in every thread; the silence has ended: its alert is sent
    world.execute(names[0], "FAIL", fail_reason="<http://evil|click>")
    await world.cycle()  # RECURRED: edit + reply
    world.execute(names[1], "SKIP")
    await world.cycle()  # CHANGED
    world.execute(names[2], "SUCCESS")
    await world.cycle()  # RESOLVED: edit + reply

    shown = world.shown()
    posts = world.stub.state.count("chat.postMessage", ok=True)
    edits = world.stub.state.count("chat.update", ok=True)
    # A digest, a single alert, five reminders, the alert held back by the silence, the RECURRED, CHANGED
    # and RESOLVED replies; the single alert's message edited on RECURRED (an alert posted in a digest is
    # answered in the digest's thread instead).
    assert (posts, edits) == (1 + 1 + 5 + 1 + 3, 1)
    assert "prod&lt;!channel&gt;" in str(shown)  # shown, literally
    assert_inert(shown)


# -- from API models through every renderer -----------------------------------------------------------------

hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(alphabet="<>&!@|^#:;*_~` \nabc", max_size=30),
    st.text(max_size=30),
)
ALL_KINDS = ["NEW", "REPEAT", "RECURRED", "CHANGED", "RESOLVED", "CLOSED"]


RULE = load_rules_text(RULES, "rules.yaml").rules[0]


def payload_from_models(name: str, description: str, desktop: str, reason: str, code: str) -> dict[str, Any]:
    rule = RULE
    task = ScheduledTask(
        id="t-1", task_name=name, task_type=code, last_status="FAIL", description=description,
        scheduled_type=code, life_cycle_type=code, time_zone=code, next_execution_time=description,
    )  # fmt: skip
    record = ExecutionRecord(id="r-1", start_time=reason, status="FAIL", failed_num=1, time_zone=code)
    detail = RecordDetail(desktop_name=desktop, exec_status=code, result_code=code, fail_reason=reason)
    decision = decide(
        None, Observation.from_listing(task, "p-1", latest_record=record), rule, silence=None, now=START,
        listing_complete=True,
    )  # fmt: skip
    assert decision.kind is DecisionKind.NEW
    assert decision.new_state is not None
    return build_payload(
        decision, decision.new_state, rule, task=task, now=START, records=[record], failed_desktops=[detail]
    )


@examples(ci_cap=500)
@given(hostile_text, hostile_text, hostile_text, hostile_text, hostile_text)
def test_no_user_markup_from_models_in_any_rendered_kind(
    name: str, description: str, desktop: str, reason: str, code: str
) -> None:
    base = payload_from_models(name, description, desktop, reason, code)
    allowed = allowed_tokens(MENTION)
    for kind in ALL_KINDS:
        status = {"RESOLVED": "resolved", "CLOSED": "closed"}.get(kind, "firing")
        payload = {**base, "kind": kind, "alert_status": status}
        messages = [render_update(payload), *render_digest([payload, base])]
        if kind == "NEW":
            messages.append(render_alert(payload))
        else:
            messages.append(render_thread_reply(payload))
        for message in messages:
            assert_valid(message, allowed=allowed)


# -- rule files ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["<!channel>", "#ops <!here>", "<#C123|ops>", "&amp;"])
def test_a_channel_with_markup_is_refused(channel: str) -> None:
    with pytest.raises(RuleFileError, match="is not a Slack channel"):
        load_rules_text(f'rules:\n  - name: r\n    channel: "{channel}"\n', "r.yaml")


@pytest.mark.parametrize(
    "mention", ["<http://evil|click>", "<!channel|x>", "<@U1> <http://x|y>", "&lt;", "<#C123>"]
)
def test_a_mention_must_be_valid_tokens(mention: str) -> None:
    with pytest.raises(RuleFileError, match="is not a Slack mention"):
        load_rules_text(f'rules:\n  - name: r\n    mention: "{mention}"\n', "r.yaml")


# -- the terminal -------------------------------------------------------------------------------------------

TERMINAL_HOSTILE = "prod\x1b[2J\x1b]0;owned\x07[bold red]x[/bold red]\x9b31m\u202etxt.exe\rforged line"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_output(render: Any) -> str:
    buffer = io.StringIO()
    render(Console(file=buffer, force_terminal=True, color_system=None, width=300))
    return buffer.getvalue()


async def test_the_console_notifier_sends_no_control_characters_and_no_markup() -> None:
    payload = payload_from_models(TERMINAL_HOSTILE, TERMINAL_HOSTILE, TERMINAL_HOSTILE, TERMINAL_HOSTILE, "x")
    entry = OutboxEntry(
        fingerprint="f", episode=1, kind=DecisionKind.NEW, channel="#ops", payload=payload, created_at=START
    )
    row = OutboxRow(1, entry, OutboxState.PENDING, 0, START)
    ref = MessageRef("f", 1, "#ops", "1.000001")
    buffer = io.StringIO()
    notifier = ConsoleNotifier(Console(file=buffer, force_terminal=True, color_system=None, width=300))
    await notifier.post("#ops", [row])
    await notifier.post("#ops", [row, row])
    await notifier.reply(ref, row)
    await notifier.update(ref, row)
    shown = buffer.getvalue()
    assert not CONTROL.search(shown), repr(shown)
    assert "[bold red]x[/bold red]" in shown  # markup shown literally, not obeyed


def test_the_tasks_table_sends_no_control_characters() -> None:
    task = ScheduledTask(
        id="t\x1b[1m", task_name=TERMINAL_HOSTILE, task_type="\x9b2J", last_status="FAIL\x07"
    )
    shown = terminal_output(lambda console: console.print(task_table([task])))
    assert not CONTROL.search(shown), repr(shown)
    assert "[bold red]x[/bold red]" in shown
