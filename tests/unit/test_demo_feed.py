"""The demo's feed of what arrives at the Slack stand-in: every post, reply, edit and answer once, in the
order Slack would show them, rendered compactly and inertly."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from monitor.devtools.demo.feed import SlackEvent, StubFeed, blocks_lines, readable, render_event
from monitor.devtools.slackstub import StubState


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def summary(events: list[SlackEvent]) -> list[tuple[str, str, str]]:
    return [(event.kind, event.where, event.text) for event in events]


def test_posts_replies_edits_and_answers_each_show_once_in_order() -> None:
    state = StubState()
    feed = StubFeed(state)
    digest = state.post_message("#desktop-ops", text="3 tasks failed")
    state.post_message("#desktop-ops", text="reminder", thread_ts=digest.ts)
    state.record_response("r1", {"text": "Silenced", "blocks": [section("Silenced: lab-*")]})
    state.post_ephemeral("#general", "U1", text="only you")
    assert summary(feed.new_events()) == [
        ("post", "#desktop-ops", "3 tasks failed"),
        ("reply", "#desktop-ops", "reminder"),
        ("answer", "response_url r1", "Silenced"),
        ("answer", "#general", "only you"),
    ]
    assert feed.new_events() == []

    state.update_message(digest.channel, digest.ts, text="2 tasks failed")
    assert summary(feed.new_events()) == [("edit", "#desktop-ops", "2 tasks failed")]
    assert feed.new_events() == []


def test_a_message_edited_before_the_feed_looked_shows_first_as_posted_then_as_edited() -> None:
    state = StubState()
    posted = state.post_message("#desktop-ops", text="failed", blocks=[section("failed")])
    state.update_message(posted.channel, posted.ts, text="recovered", blocks=[section("recovered")])
    events = StubFeed(state).new_events()
    assert summary(events) == [("post", "#desktop-ops", "failed"), ("edit", "#desktop-ops", "recovered")]
    assert events[0].blocks == [section("failed")]


def test_replies_name_their_thread() -> None:
    state = StubState()
    parent = state.post_message("#desktop-ops", text="digest")
    reply = state.post_message("#desktop-ops", text="resolved", thread_ts=parent.ts)
    [_, event] = StubFeed(state).new_events()
    assert (event.ts, event.thread_ts) == (reply.ts, parent.ts)


@pytest.mark.parametrize(
    ("mrkdwn", "shown"),
    [
        ("<!date^1795944833^{date_short_pretty} {time}|2026-11-29 09:33 UTC>.", "2026-11-29 09:33 UTC."),
        ("<https://console.example/task/1|open in console>", "open in console"),
        ("<!subteam^S0DEMO|@desktop-oncall> look", "@desktop-oncall look"),
        ("`/tasks show &lt;ID&gt;` &amp; more", "`/tasks show <ID>` & more"),
        ("&amp;lt; stays one level deep", "&lt; stays one level deep"),
        ("plain *bold* text", "plain *bold* text"),
    ],
)  # fmt: skip
def test_readable_mrkdwn(mrkdwn: str, shown: str) -> None:
    assert readable(mrkdwn) == shown


def test_blocks_lines_keeps_text_drops_buttons_and_cuts_long_messages() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "3 scheduled tasks failed"}},
        {"type": "section", "fields": [mrkdwn("*Type*\nSTOP")]},
        {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Ack"}}]},
        {"type": "divider"},
        {"type": "context", "elements": [mrkdwn("rule a"), {"type": "image"}, mrkdwn("b")]},
    ]  # fmt: skip
    assert blocks_lines(blocks) == ["3 scheduled tasks failed", "*Type*", "STOP", "rule a  b"]
    assert blocks_lines(blocks, limit=3) == ["3 scheduled tasks failed", "*Type*", "… 2 more lines"]


def test_rendering_passes_no_markup_or_terminal_controls_from_message_text() -> None:
    console = Console(record=True, width=200, force_terminal=True)
    event = SlackEvent(
        "post", "#ops", "[bold red]x[/] \x1b]0;pwned\x07", [section("\x1b[2Jcleared \u202eevil")], "1.000100"
    )
    console.print(render_event(event))
    text = console.export_text()
    assert "[bold red]x[/]" in text
    assert "\x1b]0;" not in text
    assert "\x1b[2J" not in text
    assert "\u202e" not in text
