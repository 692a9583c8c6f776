"""The daemon half of `make demo`: the real `workspace-monitor run`, as a child process, living a story.

It starts the Workspace API simulator, the PagerDuty stand-in and (unless real Slack is chosen, see
`setup.choose_slack`) the Slack stand-in in this process, writes a config and rules to a temporary directory
(2-second polls, SQLite, reminders every 15 s, prod-* paged), starts the daemon on them, then changes the
simulator and waits for what the daemon does about it, showing on the terminal what arrives at Slack as it
arrives:

    three prod tasks fail at once         one digest message; the on-call paged (PagerDuty stand-in), an
                                          incident per task
    another fails on its own              a message of its own, with "Retry failed desktops"
    alice presses Retry (and confirms)    "retry running" on the message; who asked and the job's outcome in
                                          its thread; the alert still fires (a retry is not a recovery)
    its next run succeeds                 the message edited, "resolved" in its thread; its incident resolved
    alice: /tasks silence lab-* 10m       the ephemeral answer (Socket Mode envelope, as Slack sends it)
    lab-rebuild fails, silenced           nothing, for two polls
    alice: /tasks failed                  the ephemeral answer
    the others are still failing          a reminder in the digest's thread
    SIGTERM                               the daemon drains and exits 0

With real Slack the simulator plays the same failures, then leaves one task failing (a reminder every 15 s
until someone silences it); the terminal says where to look, and `/tasks` is typed by whoever watches, until
Ctrl-C or five minutes. `StoryOutcome` says what was seen, for the exit code and the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from monitor.devtools.demo.feed import StubFeed, render_event
from monitor.devtools.demo.setup import (
    PAGERDUTY_KEY,
    POLL_INTERVAL,
    REPEAT_INTERVAL,
    STUB_ADMIN,
    STUB_ADMIN_ID,
    SlackTarget,
    choose_slack,
    daemon_environment,
    demo_config,
    demo_rules,
)
from monitor.devtools.pagerduty import PagerDutyStub, start_pagerduty_stub
from monitor.devtools.sim import SimOptions, start_simulator
from monitor.devtools.sim.runner import Simulator
from monitor.devtools.slackstub import StubMessage, start_slack_stub
from monitor.devtools.slackstub.runner import SlackStub
from monitor.slack.actions import RETRY_ACTION_ID

__all__ = ["StoryOutcome", "play_story", "run_daemon_story"]

#: They fail together (a digest) and stay failing (reminders).
TEAM_TASKS = (
    ("prod-nightly-reboot", "REBOOT"),
    ("prod-evening-stop", "STOP"),
    ("prod-weekly-snapshot", "CREATE_SNAPSHOT"),
)
#: Fails alone (a message of its own, which a recovery edits: a digest is never edited for one alert).
RECOVERS = ("prod-morning-start", "START")
SILENCED_TASK = ("lab-rebuild", "REBUILD")
#: How long one step waits for what it expects (generous: a 2-core box running the test suite too).
STEP_WAIT = 30.0
#: With real Slack: how long the daemon stays up for people to try /tasks, unless Ctrl-C comes first.
REAL_SLACK_STAY = 300.0
_TICK = 0.1
_STOP_WAIT = 45.0


@dataclass
class StoryOutcome:
    #: What the story expected to see, in order, and whether it did.
    checks: dict[str, bool] = field(default_factory=dict)
    exit_code: int | None = None
    #: The stand-in's channels as plain data (`StubState.snapshot`), and the slash commands' answers.
    slack: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    answers: list[dict[str, Any]] = field(default_factory=list)
    #: What the PagerDuty stand-in was sent: (event_action, dedup_key) in order, and its incidents as
    #: (summary, status, routing key was the demo's).
    pages: list[tuple[str, str]] = field(default_factory=list)
    incidents: list[tuple[str, str, bool]] = field(default_factory=list)
    daemon_log: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(self.checks.values()) and self.exit_code == 0


class _Daemon:
    """`workspace-monitor run` as a child in its own session (Ctrl-C on the demo is the demo's to handle);
    stdout and stderr (JSON log lines) in files."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process = process
        self.log = log
        self._read = 0

    @classmethod
    async def start(cls, config: Path, env: dict[str, str]) -> _Daemon:
        log = config.parent / "daemon.log"
        with log.open("wb") as err, (config.parent / "daemon.out").open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "monitor.cli", "--config", str(config), "run",
                cwd=config.parent, env=env, stdout=out, stderr=err, start_new_session=True,
            )  # fmt: skip
        return cls(process, log)

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    def events(self) -> list[dict[str, Any]]:
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and "event" in event:
                    found.append(event)
        return found

    def count(self, name: str) -> int:
        return sum(1 for event in self.events() if event["event"] == name)

    def new_events(self) -> list[dict[str, Any]]:
        events = self.events()
        fresh, self._read = events[self._read :], len(events)
        return fresh

    async def stop(self) -> int:
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), _STOP_WAIT)
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()


def _log_line(event: dict[str, Any]) -> str | None:
    """The daemon's own log events worth a line in the story (chosen fields only: never a whole line)."""
    name = str(event["event"])
    if name == "cycle.done" and event.get("decisions"):
        return f"cycle.done: {event.get('decisions')} decisions, {event.get('outbox')} to send"
    if name in ("chatops.connected", "chatops.silenced", "daemon.stopping", "daemon.stopped"):
        return name
    if name == "chatops.retry_started":
        return f"chatops.retry_started: job {event.get('job')}, desktops={event.get('desktops')}"
    if name == "chatops.command":
        return f"chatops.command: {event.get('command')}"
    if name == "notify.delivery_failed":
        return f"notify.delivery_failed: {event.get('error')} ({event.get('channel')})"
    if event.get("level") == "error":
        return f"{name}: {event.get('error', '')}"
    return None


@dataclass
class _Story:
    console: Console
    sim: Simulator
    daemon: _Daemon
    target: SlackTarget
    stub: SlackStub | None
    outcome: StoryOutcome
    feed: StubFeed | None = None
    started: float = 0.0
    steps: int = 0
    pager: PagerDutyStub | None = None

    def paged(self, name: str, status: str) -> bool:
        """Whether the on-call has an incident about task `name` in `status` (triggered, resolved)."""
        incidents = self.pager.incidents if self.pager is not None else []
        return any(f": {name} (" in i.summary and i.status == status for i in incidents)

    def execute(self, names: list[str], status: str) -> None:
        for name in names:
            self.sim.state.add_execution(self.sim.state.task(name).id, status)

    def show(self) -> None:
        for event in self.daemon.new_events():
            line = _log_line(event)
            if line is not None:
                self.console.print(Text(f"  daemon: {line}", style="dim"))
        if self.feed is not None:
            for slack_event in self.feed.new_events():
                self.console.print(render_event(slack_event))

    def step(self, title: str) -> None:
        self.steps += 1
        elapsed = asyncio.get_running_loop().time() - self.started
        self.console.rule(Text(f"{self.steps}. {title}  [{elapsed:.0f} s]", style="bold"), align="left")

    async def until(self, check: str, predicate: Callable[[], bool], within: float = STEP_WAIT) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        seen = False
        while True:
            self.show()
            seen = predicate()
            if seen or not self.daemon.alive or loop.time() > deadline:
                break
            await asyncio.sleep(_TICK)
        self.outcome.checks[check] = seen
        if not seen:
            why = "the daemon has exited" if not self.daemon.alive else f"not seen within {within:.0f} s"
            self.console.print(Text(f"  {why}: {check}", style="bold red"))
        return seen

    def polls_from_now(self, count: int) -> Callable[[], bool]:
        start = self.daemon.count("cycle.done")
        return lambda: self.daemon.count("cycle.done") >= start + count


# What the stand-in shows, for the story's checks.
def _said(message: StubMessage) -> str:
    return message.text + json.dumps(message.blocks)


def _top(stub: SlackStub, channel: str) -> list[StubMessage]:
    try:
        return stub.state.messages(channel)
    except KeyError:
        return []


def _everything(stub: SlackStub) -> list[StubMessage]:
    top = [m for channel in list(stub.state.channels.values()) for m in channel.messages]
    return top + [reply for message in top for reply in message.replies]


def _answer(stub: SlackStub, response_id: str) -> str | None:
    for response in list(stub.state.responses):
        if response["id"] == response_id:
            return json.dumps(response["body"])
    return None


async def _slash(story: _Story, stub: SlackStub, text: str, response_id: str) -> None:
    """`/tasks text` from alice in the alert channel, as a Socket Mode envelope (what Slack does when she
    types it); the daemon must ack it within 3 seconds, and answers at the response_url."""
    story.console.print(Text(f"{STUB_ADMIN} types in {story.target.channel}: /tasks {text}", style="magenta"))
    channel = stub.state.channel(story.target.channel)
    command = {"user_id": STUB_ADMIN_ID, "user_name": STUB_ADMIN, "channel_id": channel.id,
               "channel_name": channel.name, "command": "/tasks", "text": text,
               "response_url": stub.response_url(response_id), "team_id": stub.state.options.team_id,
               "api_app_id": stub.state.options.app_id, "trigger_id": f"demo.{response_id}"}  # fmt: skip
    envelope = await stub.socket.send("slash_commands", command)
    try:
        await stub.socket.ack(envelope)
        story.outcome.checks[f"/tasks {text} acked within 3 s"] = True
    except TimeoutError:
        story.outcome.checks[f"/tasks {text} acked within 3 s"] = False


async def _press_retry(story: _Story, stub: SlackStub, message: StubMessage, response_id: str) -> None:
    """alice presses "Retry failed desktops" on `message` and confirms: the `block_actions` envelope Slack
    sends after the confirm dialog (the dialog itself is Slack's, client side)."""
    value = next(
        element["value"]
        for block in message.blocks or []
        if block.get("type") == "actions"
        for element in block.get("elements", [])
        if element.get("action_id") == RETRY_ACTION_ID
    )
    story.console.print(Text(f'{STUB_ADMIN} presses "Retry failed desktops" and confirms', style="magenta"))
    channel = stub.state.channel(story.target.channel)
    payload = {
        "type": "block_actions", "team": {"id": stub.state.options.team_id},
        "user": {"id": STUB_ADMIN_ID, "username": STUB_ADMIN, "name": STUB_ADMIN},
        "api_app_id": stub.state.options.app_id, "trigger_id": f"demo.{response_id}",
        "container": {"type": "message", "message_ts": message.ts, "channel_id": channel.id},
        "channel": {"id": channel.id, "name": channel.name},
        "message": {"type": "message", "ts": message.ts, "text": message.text, "blocks": message.blocks},
        "response_url": stub.response_url(response_id),
        "actions": [{"action_id": RETRY_ACTION_ID, "block_id": "retry", "value": value, "type": "button"}],
    }  # fmt: skip
    envelope = await stub.socket.send("interactive", payload)
    try:
        await stub.socket.ack(envelope)
        story.outcome.checks["the retry button acked within 3 s"] = True
    except TimeoutError:
        story.outcome.checks["the retry button acked within 3 s"] = False


async def _stub_story(story: _Story, stub: SlackStub) -> None:
    channel = story.target.channel
    names = [name for name, _ in TEAM_TASKS]

    story.step(f"Three of the desktop-ops team's tasks fail at once: one digest in {channel}")
    story.execute(names, "FAIL")

    def top(containing: str) -> StubMessage | None:
        return next((m for m in _top(stub, channel) if containing in _said(m)), None)

    await story.until(
        "one digest naming the three failing tasks",
        lambda: (
            len(_top(stub, channel)) == 1 and all(name in _said(_top(stub, channel)[0]) for name in names)
        ),
    )
    await story.until(
        "the on-call paged: a PagerDuty incident for each of them",
        lambda: all(story.paged(name, "triggered") for name in names),
    )

    story.step(f"{RECOVERS[0]} fails on its own a little later: a message of its own")
    story.execute([RECOVERS[0]], "FAIL")
    await story.until(f"a message about {RECOVERS[0]}", lambda: top(RECOVERS[0]) is not None)

    story.step(f"alice retries {RECOVERS[0]}'s failed desktops from its message: the outcome in its thread")
    alone = top(RECOVERS[0])
    if alone is not None and RETRY_ACTION_ID in _said(alone):
        await _press_retry(story, stub, alone, "retry")

        def retried() -> bool:
            replies = [_said(reply) for reply in alone.replies]
            return any("Retry* asked by" in r for r in replies) and any("Retry job" in r for r in replies)

        await story.until("who asked and the retry job's outcome in the alert's thread", retried)
        shown = [version.blocks for version in alone.edits] + [alone.blocks]
        story.outcome.checks["'retry running' shown on the message meanwhile"] = any(
            "Retry running" in json.dumps(blocks) for blocks in shown
        )
        story.outcome.checks["the alert still fires: a retry is not a recovery"] = (
            "recovered" not in alone.text
        )
    else:
        story.outcome.checks[f"a retry button on {RECOVERS[0]}'s message"] = False

    story.step(f"{RECOVERS[0]} succeeds again: its message is edited and the recovery said in its thread")
    story.execute([RECOVERS[0]], "SUCCESS")

    def recovered() -> bool:
        found = top(RECOVERS[0])
        return (
            found is not None
            and bool(found.edits)
            and any("resolved" in _said(reply).lower() for reply in found.replies)
        )

    await story.until("its message edited, resolved in its thread", recovered)
    await story.until("its PagerDuty incident resolved", lambda: story.paged(RECOVERS[0], "resolved"))

    story.step("Lab desktops are being re-imaged by hand: alice silences lab-* from Slack")
    await _slash(story, stub, "silence lab-* 10m re-imaging by hand", "silence")
    await story.until("the silence confirmed", lambda: "Silenced" in (_answer(stub, "silence") or ""))

    lab = SILENCED_TASK[0]
    story.step(f"{lab} fails while silenced: recorded, nothing posted (two polls)")
    story.execute([lab], "FAIL")
    await story.until("two polls after the silenced failure", story.polls_from_now(2))
    story.outcome.checks[f"nothing posted about {lab}"] = not any(lab in _said(m) for m in _everything(stub))

    story.step("alice asks what is failing now")
    await _slash(story, stub, "failed", "failed")
    await story.until(
        "/tasks failed lists the failing tasks",
        lambda: all(name in (_answer(stub, "failed") or "") for name in [*names, lab]),
    )

    story.step(f"Still failing {REPEAT_INTERVAL} s after the digest: reminders in its thread")

    def reminded(name: str) -> bool:
        found = top(names[0])
        replies = found.replies if found is not None else []
        return any("reminder" in _said(reply).lower() and name in _said(reply) for reply in replies)

    # All of them, so that the daemon is stopped with nothing left to send.
    await story.until("a reminder for each in the digest's thread", lambda: all(map(reminded, names)))
    keys = [i.dedup_key for i in story.pager.incidents] if story.pager is not None else []
    story.outcome.checks["one incident per alert: reminders page nobody again"] = (
        len(keys) == len(set(keys)) == len(names) + 1
    )


async def _real_story(story: _Story, stay: float) -> None:
    """Real Slack: the same failures, then one task left failing; people look and type /tasks themselves."""
    channel = story.target.channel
    names = [name for name, _ in TEAM_TASKS]
    story.step(f"Three tasks fail at once: look in {channel} for one digest")
    story.execute(names, "FAIL")
    await story.until("two polls", story.polls_from_now(2))
    story.step(f"{RECOVERS[0]} fails on its own: a message of its own")
    story.execute([RECOVERS[0]], "FAIL")
    await story.until("two polls", story.polls_from_now(2))
    story.step(f"{RECOVERS[0]} succeeds again: its message is edited, 'Resolved' in its thread")
    story.execute([RECOVERS[0]], "SUCCESS")
    await story.until("two polls", story.polls_from_now(2))
    story.step(f"{SILENCED_TASK[0]} fails; in the digest's thread, reminders come every {REPEAT_INTERVAL} s")
    story.execute([SILENCED_TASK[0]], "FAIL")
    await story.until("the first reminders", story.polls_from_now(1 + REPEAT_INTERVAL // POLL_INTERVAL))
    keeps_failing, *recover = names
    story.step(f"{', '.join(recover)} succeed again; {keeps_failing} keeps failing, and reminding")
    story.execute(recover, "SUCCESS")
    story.console.print(
        Text(
            f"Now type in {channel}:  /tasks failed   /tasks silence {keeps_failing} 1h   /tasks alerts\n"
            f"The daemon stays up for {stay / 60:.0f} minutes; Ctrl-C stops it sooner.",
            style="bold magenta",
        )
    )
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    deadline = loop.time() + stay
    try:
        while not interrupted.is_set() and story.daemon.alive and loop.time() < deadline:
            story.show()
            await asyncio.sleep(_TICK)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
    story.outcome.checks["no delivery to Slack failed"] = story.daemon.count("notify.delivery_failed") == 0


async def _started(story: _Story) -> bool:
    if story.stub is not None:
        stub = story.stub
        return await story.until(
            "daemon started: first poll done, Socket Mode connected",
            lambda: story.daemon.count("cycle.done") >= 1 and stub.socket.connected >= 1,
        )
    return await story.until(
        "daemon started: first poll done, Socket Mode connected",
        lambda: story.daemon.count("cycle.done") >= 1 and story.daemon.count("chatops.connected") >= 1,
    )


async def play_story(
    console: Console,
    target: SlackTarget,
    env: Mapping[str, str],
    *,
    stub: SlackStub | None = None,
    api_url: str | None = None,
    stay: float = REAL_SLACK_STAY,
) -> StoryOutcome:
    """The simulator, the daemon on `api_url` (None: slack.com), and the story: the scripted one with its
    checks when `stub` is the Slack the daemon talks to, else the real-Slack one, which ends after `stay`
    seconds or at Ctrl-C."""
    outcome = StoryOutcome()
    async with start_simulator(SimOptions(tasks=0, seed=5)) as sim, start_pagerduty_stub() as pager:
        for name, task_type in (*TEAM_TASKS, RECOVERS, SILENCED_TASK):
            sim.state.create_task(
                {"task_name": name, "task_type": task_type, "scheduled_type": "DAY", "last_status": "SUCCESS"}
            )
        with tempfile.TemporaryDirectory(prefix="workspace-monitor-demo-") as scratch:
            where = Path(scratch)
            (where / "rules.yaml").write_text(demo_rules(target.channel))
            config = where / "config.yaml"
            config.write_text(
                demo_config(
                    target,
                    sim_url=sim.base_url,
                    state_dir=where,
                    api_url=api_url,
                    pagerduty_url=pager.enqueue_url,
                )
            )
            console.print(f"Slack: {target.note}")
            console.print(f"PagerDuty: the stand-in on {pager.url} (rule desktop-ops pages)")
            console.print(
                f"Workspace API: the simulator on {sim.base_url}, {len(sim.state.tasks)} daily tasks"
            )
            console.print(Text(f"{config}:\n{config.read_text()}\nrules.yaml:\n{demo_rules(target.channel)}"))
            daemon = await _Daemon.start(config, daemon_environment(target, env))
            console.print(
                f"started: workspace-monitor --config {config} run  (pid {daemon.process.pid}, polls every "
                f"{POLL_INTERVAL} s, state in {where / 'state.db'})"
            )
            feed = StubFeed(stub.state) if stub else None
            story = _Story(
                console,
                sim,
                daemon,
                target,
                stub,
                outcome,
                feed,
                asyncio.get_running_loop().time(),
                pager=pager,
            )
            try:
                if await _started(story):
                    if stub is not None:
                        await _stub_story(story, stub)
                    else:
                        await _real_story(story, stay)
            finally:
                if daemon.alive:
                    story.step("SIGTERM: the daemon lets its cycle finish, flushes the outbox and exits")
                outcome.exit_code = await daemon.stop()
                story.show()
                outcome.daemon_log = daemon.log.read_text(errors="replace")
                outcome.pages = list(pager.events)
                outcome.incidents = [
                    (i.summary, i.status, i.routing_key == PAGERDUTY_KEY) for i in pager.incidents
                ]
            style = "green" if outcome.exit_code == 0 else "bold red"
            console.print(Text(f"workspace-monitor run exited with {outcome.exit_code}", style=style))
            if outcome.exit_code != 0:
                _explain_exit(console, outcome.daemon_log)
    if stub is not None:
        outcome.slack = stub.state.snapshot()
        outcome.answers = list(stub.state.responses)
    return outcome


def _explain_exit(console: Console, log: str) -> None:
    """The daemon's own one-line reasons (it redacts secrets from its logs itself)."""
    for line in log.splitlines():
        if line.startswith("workspace-monitor:"):
            console.print(Text(line, style="red"))


async def run_daemon_story(console: Console, env: Mapping[str, str] | None = None) -> StoryOutcome:
    """The story against the stand-in, or against real Slack when `env` selects it (default: os.environ)."""
    env = os.environ if env is None else env
    target = choose_slack(env)
    if target.real:
        outcome = await play_story(console, target, env)
    else:
        async with start_slack_stub() as stub:
            outcome = await play_story(console, target, env, stub=stub, api_url=stub.api_url)
    for check, seen in outcome.checks.items():
        console.print(Text(f"{'✓' if seen else '✗'} {check}", style="green" if seen else "bold red"))
    return outcome
