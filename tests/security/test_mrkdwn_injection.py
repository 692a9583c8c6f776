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
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from monitor.decide import DecisionKind, Observation, decide
from monitor.devtools.slackstub import SlackStubOptions
from monitor.notify.console import ConsoleNotifier
from monitor.notify.payload import build_payload
from monitor.rules.load import RuleFileError, load_rules_text
from monitor.slack.alert import render_alert, render_thread_reply, render_update
from monitor.slack.digest import render_digest
from monitor.store.base import MessageRef, OutboxEntry, OutboxRow, OutboxState
from monitor.tasklist import task_table
from monitor.workspace.client import RetryPolicy
from monitor.workspace.models import ExecutionRecord, RecordDetail, ScheduledTask
from tests.fuzz import examples
from tests.support.slack import allowed_tokens, assert_no_user_markup, assert_valid, texts
from tests.support.world import START, World, open_world

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
FORBIDDEN = re.compile(r"<!channel>|<!here>|<!everyone>|<@U123>|<http://evil")


# -- end to end ---------------------------------------------------------------------------------------------


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    daily = {"last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY"}
    tasks = [
        {"task_name": f"prod{hostile}", "description": f"{hostile} desc {index}", **daily}
        for index, hostile in enumerate(HOSTILE)
    ]
    async with open_world(
        tmp_path,
        RULES,
        tasks=tasks,
        default_channel="#desktop-ops",
        stub_options=SlackStubOptions(strict_channels=True, rate_limits=False),  # unpaced, as open_world's
        retry=RetryPolicy(attempts=2, wait_initial=0, wait_max=0, wait_jitter=0),
    ) as opened:
        yield opened


async def cycle(world: World, minutes: int = 1) -> None:
    """`minutes` later, one poll cycle and one dispatch."""
    world.advance(timedelta(minutes=minutes))
    await world.engine.run_cycle()
    await world.dispatcher.flush()


def channel_shows(world: World) -> list[tuple[str, str, Any]]:
    """(what, text, blocks) of every message and reply as the channel shows them now."""
    found = []
    for message in world.stub.state.messages("desktop-ops"):
        found.append(("message", message.text, message.blocks))
        found.extend(("reply", reply.text, reply.blocks) for reply in message.replies)
    return found


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
    await cycle(world)  # one digest of four NEW alerts; the fifth is silenced (a comment full of markup)
    world.execute(names[0], "FAIL", failed_desktops=["<!channel>"], fail_reason="<@U123> &amp;")
    await cycle(world)  # a single NEW alert
    await cycle(world, minutes=61)  # reminders in every thread; the silence has ended: its alert is sent
    world.execute(names[0], "FAIL", fail_reason="<http://evil|click>")
    await cycle(world)  # RECURRED: edit + reply
    world.execute(names[1], "SKIP")
    await cycle(world)  # CHANGED
    world.execute(names[2], "SUCCESS")
    await cycle(world)  # RESOLVED: edit + reply

    shown = channel_shows(world)
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
