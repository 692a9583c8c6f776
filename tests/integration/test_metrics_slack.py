"""The notifier's Slack calls in /metrics: by method and result, with Slack's 429s and the waits they asked
for, through the Slack stand-in over loopback HTTP as the daemon wires it (`runtime.build`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.metrics import Metrics
from tests.support.world import World, open_world

RULES = """
rules:
  - name: ops
    match:
      task_name: "prod-*"
    channel: "#alerts"
"""


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with open_world(tmp_path, RULES) as opened:
        yield opened


def calls(metrics: Metrics, result: str, method: str = "chat.postMessage") -> float | None:
    labels = {"method": method, "result": result}
    return metrics.registry.get_sample_value("workspace_monitor_slack_calls_total", labels)


async def test_a_429_is_counted_with_its_wait_and_the_post_that_follows_as_ok(world: World) -> None:
    metrics = world.runtime.metrics
    world.stub.state.faults.rate_limit(1, retry_after=7, method="chat.postMessage")
    world.execute("prod-reboot", "FAIL")
    await world.cycle()
    assert calls(metrics, "rate_limited") == 1
    labels = {"method": "chat.postMessage"}
    assert metrics.registry.get_sample_value("workspace_monitor_slack_rate_limited_total", labels) == 1
    assert (
        metrics.registry.get_sample_value("workspace_monitor_slack_rate_limit_wait_seconds_total", labels)
        == 7
    )
    world.advance(timedelta(seconds=8))
    await world.flush()
    assert calls(metrics, "ok") == 1
    assert len(world.top_level("alerts")) == 1


async def test_a_refused_channel_and_a_server_error_are_told_apart(world: World) -> None:
    metrics = world.runtime.metrics
    world.stub.state.faults.server_error(1, method="chat.postMessage")
    world.execute("prod-reboot", "FAIL")
    await world.cycle()
    assert calls(metrics, "error") == 1
    world.stub.state.faults.error("channel_not_found", 1, method="chat.postMessage")
    world.advance(timedelta(minutes=5))
    await world.flush()
    assert calls(metrics, "refused") == 1
