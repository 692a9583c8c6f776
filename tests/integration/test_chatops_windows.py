"""`/tasks silences` shows the rule files' maintenance windows, open now or when next, through the real
slack-bolt app driven by signed requests; and `check` prints each interval's next window.

START is Sunday 2026-11-29 08:00 UTC (09:00 in Berlin)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.chatops.access import Access
from monitor.chatops.handlers import RuntimeStatus
from monitor.chatops.runner import ChatopsService, SlackTokens
from monitor.config import SlackSettings
from monitor.devtools.sim import SimulatorThread
from monitor.workspace.client import RetryPolicy
from tests.integration.test_chatops_app import OPS_ROOM, SECRET, App
from tests.integration.test_cli_once import run, setup
from tests.integration.test_cli_once import sim as sim
from tests.support.simapi import http_client
from tests.support.slack import ADMIN, blocks_text
from tests.support.world import START, open_world

RULES = """
time_intervals:
  - name: patch
    time_intervals:
      - weekdays: [sunday]
        times: [{start_time: "09:30", end_time: "11:00"}]
        location: Europe/Berlin
  - name: unused
    time_intervals:
      - months: [february]
rules:
  - name: prod
    match: {task_name: "prod-*"}
    channel: "#desktop-ops"
    mute_time_intervals: [patch]
  - name: lab
    match: {task_name: "lab-*"}
    channel: "#desktop-ops"
    repeat_interval: 0
"""


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[App]:
    tasks = [
        {"task_name": name, "last_status": "SUCCESS", "enable": True} for name in ("prod-reboot", "lab-1")
    ]
    async with (
        open_world(
            tmp_path,
            RULES,
            tasks=tasks,
            default_channel="#desktop-ops",
            sim_options={"seed": 5},
            retry=RetryPolicy(attempts=2, wait_initial=0, wait_max=0, wait_jitter=0),
        ) as opened,
        http_client() as http,
    ):
        status = RuntimeStatus()
        deps = opened.chatops_deps(
            access=Access.of([ADMIN], [OPS_ROOM[0]]),
            status=lambda: status,
            ruleset=opened.runtime.loaded.ruleset,
            on_command=opened.runtime.metrics.chatops_command,
        )
        settings = SlackSettings.model_construct(
            mode="http", listen="127.0.0.1:0", api_url=opened.stub.api_url
        )
        service = ChatopsService(settings, SlackTokens(bot=opened.stub.token, signing_secret=SECRET), deps)
        await service.start()
        try:
            yield App(opened, service, http, status)
        finally:
            await service.stop()


async def test_silences_lists_the_windows_and_when_they_open(world: App) -> None:
    text = blocks_text(await world.command("silences"))
    assert "No active silences." in text
    assert "2 maintenance windows* (0 open now)" in text
    assert "`patch` · next Sun 2026-11-29 09:30 - 11:00 Europe/Berlin · used by rule prod (mute)" in text
    assert (
        "`unused` · next Mon 2027-02-01 00:00 - Mon 2027-03-01 00:00 UTC · used by no rule or silence" in text
    )


async def test_silences_says_which_window_is_open_now(world: App) -> None:
    world.now[0] += timedelta(minutes=45)
    text = blocks_text(await world.command("silences"))
    assert "2 maintenance windows* (1 open now)" in text
    assert (
        "*open* `patch` · open now, until Sun 2026-11-29 11:00 Europe/Berlin · used by rule prod (mute)"
        in text
    )


async def test_a_silence_from_slack_may_name_a_time_interval(world: App) -> None:
    """`silence lab-* patch` mutes lab-* during patch's next window only: a failure inside it is posted
    once, when the window closes (09:30-11:00 Berlin is 08:30-10:00 UTC)."""
    answer = blocks_text(await world.command("silence lab-* patch kernel update"))
    assert "only while `patch` is open" in answer
    [stored] = world.store.silences()
    assert (stored.time_intervals, stored.until) == (("patch",), START + timedelta(hours=2))

    world.now[0] = START + timedelta(minutes=40)
    world.fail("lab-1")
    await world.cycle()
    assert world.stub.state.messages("desktop-ops") == []
    world.now[0] = START + timedelta(hours=2)
    await world.cycle()
    await world.cycle()
    assert len(world.stub.state.messages("desktop-ops")) == 1


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "silence lab-* nightly",
            "bad duration 'nightly': not a duration (30m, 2h, 1d) nor a time interval (the rule files define "
            "patch, unused)",
        ),
        ("silence lab-* unused", "time interval 'unused' has no window closing within 12w6d"),
    ],
)
async def test_a_silence_naming_no_usable_interval_is_refused(world: App, text: str, says: str) -> None:
    """Refused as invalid input, in the answer and in /metrics (not counted as a silence that worked)."""
    assert says in blocks_text(await world.command(text))
    assert world.store.silences() == []

    def counted(outcome: str) -> float | None:
        labels = {"command": "silence", "outcome": outcome}
        registry = world.world.runtime.metrics.registry
        return registry.get_sample_value("workspace_monitor_chatops_commands_total", labels)

    assert (counted("invalid"), counted("ok")) == (1, 0)


def test_check_prints_the_next_window_of_each_interval(tmp_path: Path, sim: SimulatorThread) -> None:
    env = setup(tmp_path, sim, RULES)
    # This checkout's package, not the one installed in the environment.
    result = run("check", cwd=tmp_path, env={**env, "PYTHONPATH": str(Path(__file__).parents[2])})
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout
    [patch] = [line for line in lines if line.startswith("time interval patch:")]
    assert patch.endswith("Europe/Berlin; used by rule prod (mute)") or "open now, until" in patch, patch
    assert any(line.startswith("time interval unused: ") for line in lines), result.stdout
    assert lines[-1].startswith("OK: 2 rules")


async def test_windows_are_worked_out_off_the_event_loop(world: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding a window walks the calendar (up to timeintervals.MAX_WORK looks an interval, under a second):
    `/tasks silences` and `/tasks silence … <interval>` do it in a worker thread, never on the app's loop."""
    import threading

    from monitor.chatops import handlers

    threads: list[threading.Thread] = []
    real_states, real_next = handlers.window_states, handlers.next_window

    def states(*args: object, **kwargs: object) -> object:
        threads.append(threading.current_thread())
        return real_states(*args, **kwargs)  # type: ignore[arg-type]

    def next_window(*args: object, **kwargs: object) -> object:
        threads.append(threading.current_thread())
        return real_next(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(handlers, "window_states", states)
    monkeypatch.setattr(handlers, "next_window", next_window)
    await world.command("silences")
    await world.command("silence lab-* patch kernel update")
    assert len(threads) == 2
    assert threading.main_thread() not in threads
