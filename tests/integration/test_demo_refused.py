"""When the daemon refuses to start (here: a bot token given as the app token, a real-Slack demo's likeliest
mistake), the demo says the daemon's own one line, fails, and does not wait out its steps."""

from __future__ import annotations

import asyncio
import os

from rich.console import Console

from monitor.devtools.demo.setup import choose_slack
from monitor.devtools.demo.story import StoryOutcome, play_story
from monitor.devtools.slackstub import DEFAULT_TOKEN, start_slack_stub


def test_a_daemon_that_refuses_to_start_fails_the_demo_with_its_reason() -> None:
    env = {"PATH": os.environ["PATH"], "SLACK_BOT_TOKEN": DEFAULT_TOKEN, "SLACK_APP_TOKEN": DEFAULT_TOKEN,
           "DEMO_SLACK_CHANNEL": "general"}  # fmt: skip
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    console = Console(record=True, width=300)

    async def play() -> StoryOutcome:
        async with start_slack_stub() as stub:
            return await play_story(console, choose_slack(env), env, api_url=stub.api_url, stay=0)

    outcome = asyncio.run(play())
    terminal = console.export_text()
    assert outcome.exit_code == 2
    assert not outcome.ok
    assert "SLACK_APP_TOKEN is not an app-level token (xapp-...)" in terminal
    assert "the daemon has exited: daemon started" in terminal
    assert DEFAULT_TOKEN not in terminal
