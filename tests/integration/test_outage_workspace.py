"""The Workspace API down, throttling, rejecting us or answering garbage: no crash, no false RESOLVED, one
meta-alert in the ops channel and one recovery; and a Slack channel refusing us told to the ops channel.

In process on one clock (`tests.support.world`, which feeds selfwatch as the daemon's poll does), then once
through the real daemon to prove the wiring."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.devtools.sim import SimOptions, SimulatorThread
from monitor.devtools.slackstub import SlackStubOptions, SlackStubThread, StubMessage
from monitor.store import SQLiteStore
from tests.support.daemon import DaemonProcess, write_config
from tests.support.world import World, open_world

RULES = """
rules:
  - name: ops
    match:
      task_name: "prod-*"
    channel: "#alerts"
    notify_resolved: true
  - name: lost
    match:
      task_name: "lost-*"
    channel: "#gone"
"""
THROTTLED = {"error_code": "APIGW.0308", "error_msg": "The throttling threshold has been reached"}
REJECTED = {"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information"}


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with open_world(tmp_path, RULES, tasks=("prod-reboot", "prod-stop", "lost-task")) as opened:
        yield opened


def replies(world: World, channel: str) -> list[list[str]]:
    return [[reply.text for reply in message.replies] for message in world.top_level(channel)]


FAULTS = {
    "down (503)": {"kind": "status", "status": 503},
    "unreachable (dropped connections)": {"kind": "drop"},
    "throttled (429)": {"kind": "status", "status": 429, "body": THROTTLED, "headers": {"Retry-After": "0"}},
    "throttled (429 without Retry-After)": {"kind": "status", "status": 429, "body": THROTTLED},
    "garbage (not JSON)": {"kind": "bad_json"},
    "garbage (an HTML page)": {"kind": "html"},
    "garbage (wrong types)": {"kind": "wrong_types"},
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_an_api_outage_is_one_meta_alert_and_one_recovery_and_resolves_nothing(
    world: World, fault: dict[str, Any]
) -> None:
    world.execute("prod-reboot", "FAIL")
    await world.cycle()
    assert len(world.top_level("alerts")) == 1

    world.sim.state.add_faults([{**fault, "endpoint": "list", "count": 1000}])
    world.execute("prod-stop", "FAIL")
    for _ in range(6):  # twice the threshold
        await world.cycle()
    # prod-reboot: no false RESOLVED, nor anything else (prod-stop may be raised: raising is allowed).
    assert replies(world, "alerts")[0] == []
    [meta] = world.top_level("ops")
    assert "Workspace API" in meta.text
    assert meta.replies == []

    world.sim.state.clear_faults()
    await world.cycle()
    await world.cycle()
    [meta] = world.top_level("ops")
    assert ["recovered" in reply.text.lower() for reply in meta.replies] == [True]
    assert meta.edits
    assert "recovered" in meta.text.lower()
    assert replies(world, "alerts")[0] == []  # prod-reboot still failing: still open
    assert any("prod-stop" in str(message.blocks) for message in world.top_level("alerts"))  # not lost


@pytest.mark.parametrize("extra", [60, -2])
async def test_a_wrong_total_count_is_no_outage_and_resolves_nothing_falsely(
    world: World, extra: int
) -> None:
    """total_count off by +N or -N: the listing still ends on a short page, so it is complete; no
    meta-alert, the failing task stays open, a new failure is raised, a recovery is confirmed by lookup."""
    world.execute("prod-reboot", "FAIL")
    await world.cycle()
    world.sim.state.add_faults([{"kind": "lie_total", "extra": extra, "endpoint": "list", "count": 1000}])
    world.execute("prod-stop", "FAIL")
    for _ in range(4):
        await world.cycle()
    assert world.top_level("ops") == []
    assert replies(world, "alerts")[0] == []
    assert any("prod-stop" in str(message.blocks) for message in world.top_level("alerts"))
    world.execute("prod-reboot", "SUCCESS")
    await world.cycle()
    assert ["resolved" in reply.lower() for reply in replies(world, "alerts")[0]] == [True]


async def test_rejected_credentials_are_told_after_one_cycle(world: World) -> None:
    world.sim.state.add_faults([{"kind": "status", "status": 401, "body": REJECTED, "count": 1000}])
    await world.cycle()
    [meta] = world.top_level("ops")
    assert "APIGW.0301" in str(meta.blocks)


async def test_a_channel_refusing_us_is_told_to_the_ops_channel_and_its_recovery_too(tmp_path: Path) -> None:
    options = SlackStubOptions(strict_channels=True, channels={"alerts": "C0ALERTS01", "ops": "C0OPSOPS01"})
    async with open_world(tmp_path, RULES, tasks=("lost-task", "lost-again"), stub_options=options) as world:
        world.execute("lost-task", "FAIL")
        await world.cycle()
        await world.cycle()
        [meta] = world.top_level("ops")
        assert "channel_not_found" in str(meta.blocks)
        assert "#gone" in str(meta.blocks)

        world.stub.state.add_channel("gone")  # someone created it (and invited the bot)
        world.execute("lost-again", "FAIL")
        await world.cycle()  # delivered to #gone: healed
        await world.flush()  # the recovery, queued by that delivery
        [meta] = world.top_level("ops")
        assert ["recovered" in reply.text.lower() for reply in meta.replies] == [True]
        assert len(world.top_level("gone")) == 1


# The daemon itself: the same story through `workspace-monitor run`, SQLite and all.


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(SimOptions(tasks=0, seed=9)) as running:
        fields = {"task_name": "prod-reboot", "last_status": "SUCCESS", "enable": True,
                  "scheduled_type": "DAY"}  # fmt: skip
        running.call(running.state.create_task, fields)
        yield running


def wait_until(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_the_daemon_sends_one_meta_alert_and_its_recovery_and_keeps_them_across_a_restart(
    tmp_path: Path, sim: SimulatorThread
) -> None:
    with SlackStubThread() as stub:
        write_config(
            tmp_path,
            sim.base_url,
            rules=RULES,
            extra=(
                f"slack:\n  mode: none\n  api_url: {stub.api_url}\n"
                '  default_channel: "#alerts"\n  ops_channel: "#ops"\n'
            ),
            # The kill can land between posting the meta-alert and recording it: the restarted daemon takes
            # the dead one's claim over after claim_lease (default 5 min), finding the post in the history.
            state="claim_lease: 1s",
        )
        config = (tmp_path / "config.yaml").read_text()
        quick = "  poll_interval: 1s\n  retry_attempts: 1\n  outage_cycles: 2\n"
        (tmp_path / "config.yaml").write_text(config.replace("  poll_interval: 1s\n", quick))
        env = {"SLACK_BOT_TOKEN": stub.token}

        def ops() -> list[StubMessage]:
            def read() -> list[StubMessage]:
                try:
                    return stub.state.messages("ops")
                except KeyError:  # nothing posted there yet
                    return []

            return stub.call(read)

        sim.call(sim.state.add_fault, "status", endpoint="list", count=100_000, status=503)
        daemon = DaemonProcess(tmp_path, name="first", **env)
        try:
            daemon.wait_for('"selfwatch.firing"')
            wait_until(lambda: len(ops()) == 1)
        finally:
            daemon.kill()  # mid-outage, no goodbye
        restarted = DaemonProcess(tmp_path, name="second", **env)
        try:
            restarted.wait_for('"cycle.failed"', count=3)  # still down: remembered, not announced again
            sim.call(sim.state.clear_faults)
            restarted.wait_for('"selfwatch.recovered"')
            wait_until(lambda: len(ops()[0].replies) == 1)
        finally:
            assert restarted.stop() == 0
        [meta] = ops()
        assert "Workspace API" in meta.text
        with SQLiteStore.open(tmp_path / "state.db") as store:
            assert store.get_meta("selfwatch:workspace") is not None
