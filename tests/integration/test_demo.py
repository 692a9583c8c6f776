"""`make demo`'s daemon story, end to end: the real `workspace-monitor run` as a child process against the
simulator and the Slack stand-in, driven by `run_daemon_story`. What the stand-in holds afterwards is checked
here on its own terms, not only through the story's own checklist; and `workspace-monitor demo` as a command.

Slow (about 25 s each: reminders come 15 s after the digest): skipped unless WORKSPACE_MONITOR_SLOW=1, which
`.ci/run` sets.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

import pytest
from rich.console import Console

from monitor.devtools.demo.setup import choose_slack
from monitor.devtools.demo.story import (
    RECOVERS,
    SILENCED_TASK,
    TEAM_TASKS,
    StoryOutcome,
    play_story,
    run_daemon_story,
)
from monitor.devtools.sim import DEFAULT_SECRET_KEY
from monitor.devtools.slackstub import DEFAULT_APP_TOKEN, DEFAULT_TOKEN, start_slack_stub

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("WORKSPACE_MONITOR_SLOW"), reason="set WORKSPACE_MONITOR_SLOW=1"),
]

SECRETS = (DEFAULT_TOKEN, DEFAULT_APP_TOKEN, DEFAULT_SECRET_KEY)
TEAM = [name for name, _ in TEAM_TASKS]


def said(message: dict[str, Any]) -> str:
    return message["text"] + json.dumps(message["blocks"])


def child_env(**extra: str) -> dict[str, str]:
    env = {"PATH": os.environ["PATH"], **extra}
    if "PYTHONPATH" in os.environ:  # a checkout other than the installed one
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


@pytest.fixture(scope="module")
def story() -> tuple[StoryOutcome, str]:
    console = Console(record=True, width=160)
    # Even with real-Slack variables half set, the stand-in is used (and nothing of the parent leaks in).
    env = child_env(SLACK_BOT_TOKEN="xoxb-not-for-the-demo")
    outcome = asyncio.run(run_daemon_story(console, env))
    return outcome, console.export_text()


def test_the_story_saw_everything_and_the_daemon_exited_0(story: tuple[StoryOutcome, str]) -> None:
    outcome, terminal = story
    assert outcome.exit_code == 0, outcome.daemon_log[-3000:]
    assert [check for check, seen in outcome.checks.items() if not seen] == []
    assert outcome.ok
    assert "workspace-monitor run exited with 0" in terminal
    assert '"daemon.stopped"' in outcome.daemon_log


def test_one_digest_for_the_team_with_a_reminder_for_each_in_its_thread(
    story: tuple[StoryOutcome, str],
) -> None:
    outcome, _ = story
    [digest] = [m for m in outcome.slack["desktop-ops"] if all(name in said(m) for name in TEAM)]
    assert digest["edits"] == []  # a digest is never rewritten for one of its alerts
    reminders = [reply for reply in digest["replies"] if "Reminder" in reply["text"]]
    assert sorted(name for name in TEAM for reply in reminders if name in reply["text"]) == sorted(TEAM)


def test_a_recovery_edits_its_alerts_message_and_says_so_in_the_thread(
    story: tuple[StoryOutcome, str],
) -> None:
    outcome, _ = story
    name = RECOVERS[0]
    [message] = [m for m in outcome.slack["desktop-ops"] if name in said(m) and m["replies"]]
    # Edited for the retry ("retry running" on, then off) and once for the recovery.
    assert "failed" in message["edits"][0]["text"]
    assert "recovered" in message["text"]
    assert "recovered" not in json.dumps(message["edits"])
    assert [reply["text"] for reply in message["replies"] if "Resolved" in reply["text"]] != []


def test_a_retry_from_the_alert_message_is_told_in_its_thread_and_is_not_a_recovery(
    story: tuple[StoryOutcome, str],
) -> None:
    outcome, _ = story
    [message] = [m for m in outcome.slack["desktop-ops"] if RECOVERS[0] in said(m) and m["replies"]]
    replies = [reply["text"] for reply in message["replies"]]
    asked = next(i for i, text in enumerate(replies) if "Retry* asked by alice" in text)
    done = next(i for i, text in enumerate(replies) if "Retry job" in text and "succeeded" in text)
    resolved = next(i for i, text in enumerate(replies) if "Resolved" in text)
    assert asked < done < resolved  # the recovery came from the next successful run, not from the retry
    assert [e for e in message["edits"] if "Retry running" in json.dumps(e["blocks"])] != []
    assert "Retry running" not in json.dumps(message["blocks"])


def test_the_on_call_was_paged_once_per_alert_and_the_recovery_resolved_its_incident(
    story: tuple[StoryOutcome, str],
) -> None:
    outcome, _ = story
    triggered = [key for action, key in outcome.pages if action == "trigger"]
    assert len(triggered) == len(set(triggered)) == len(TEAM) + 1, "one trigger per alert, none for reminders"
    status = {summary.split(": ")[1].split(" (")[0]: state for summary, state, _ in outcome.incidents}
    assert status == {**dict.fromkeys(TEAM, "triggered"), RECOVERS[0]: "resolved"}
    assert all(with_demo_key for _, _, with_demo_key in outcome.incidents)


def test_the_slash_commands_were_answered_and_the_silenced_task_never_posted(
    story: tuple[StoryOutcome, str],
) -> None:
    outcome, _ = story
    answers = {answer["id"]: json.dumps(answer["body"]) for answer in outcome.answers}
    assert "Silenced" in answers["silence"]
    assert "lab-*" in answers["silence"]
    assert all(name in answers["failed"] for name in [*TEAM, SILENCED_TASK[0]])
    assert RECOVERS[0] not in answers["failed"]
    everything = [m for ms in outcome.slack.values() for m in ms]
    everything += [reply for m in everything for reply in m["replies"]]
    assert [m["text"] for m in everything if SILENCED_TASK[0] in said(m)] == []


def test_the_terminal_shows_the_story_and_no_secret(story: tuple[StoryOutcome, str]) -> None:
    outcome, terminal = story
    for shown in ("new message", "reply in the thread of", "edited", "/tasks answer", "alice types"):
        assert shown in terminal
    for secret in SECRETS:
        assert secret not in terminal
        assert secret not in outcome.daemon_log


def test_workspace_monitor_demo_exits_0_with_every_check_seen() -> None:
    """The command behind `make demo`: the client tour, then the daemon story."""
    command = [sys.executable, "-m", "monitor.cli", "demo"]
    result = subprocess.run(
        command, env=child_env(), capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "✓ a reminder for each in the digest's thread" in result.stdout
    assert "✗" not in result.stdout
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr


def test_the_real_slack_path_runs_the_daemon_on_the_given_tokens_and_channel() -> None:
    """What `SLACK_BOT_TOKEN=... SLACK_APP_TOKEN=... DEMO_SLACK_CHANNEL=... make demo` does, with the stand-in
    playing slack.com (the only difference: its api_url): the daemon posts the story, the terminal tells
    people what to type, and the wait for them ends on time."""
    env = child_env(
        SLACK_BOT_TOKEN=DEFAULT_TOKEN, SLACK_APP_TOKEN=DEFAULT_APP_TOKEN, DEMO_SLACK_CHANNEL="general"
    )
    console = Console(record=True, width=160)

    async def play() -> tuple[StoryOutcome, dict[str, list[dict[str, Any]]]]:
        async with start_slack_stub() as stub:
            target = choose_slack(env)
            assert target.real
            outcome = await play_story(console, target, env, api_url=stub.api_url, stay=6)
            return outcome, stub.state.snapshot()

    outcome, slack = asyncio.run(play())
    assert outcome.ok, outcome.checks
    terminal = console.export_text()
    assert "Now type in #general:  /tasks failed" in terminal
    [digest] = [m for m in slack["general"] if all(name in said(m) for name in TEAM)]
    replies = [reply["text"] for reply in digest["replies"]]
    still, *recovered = TEAM
    assert any("Reminder" in text and still in text for text in replies)
    assert all(any("Resolved" in text and name in text for text in replies) for name in recovered)
    [own] = [m for m in slack["general"] if RECOVERS[0] in said(m) and m["edits"]]
    assert "recovered" in own["text"]
    for secret in SECRETS:
        assert secret not in terminal
