"""The notifier's Slack calls in /metrics: by method and result, with Slack's 429s and the waits they asked
for, through the Slack stand-in over loopback HTTP as the daemon wires it (`runtime.build`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from slack_sdk.errors import SlackApiError

from monitor.devtools.slackstub import SlackStubOptions, start_slack_stub
from monitor.metrics import Metrics
from monitor.slack.client import app_client
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


async def test_the_apps_calls_and_a_429_it_waits_out_are_told_to_its_observer() -> None:
    """The /tasks app's client waits out one 429 inside slack_sdk (Retry-After): the 429 and its wait are
    counted before the call is made again, then the call's own result."""
    seen: list[tuple[str, str, float | None]] = []
    async with start_slack_stub(SlackStubOptions()) as stub:
        client = app_client(stub.token, stub.api_url)
        client.observer = lambda *call: seen.append(call)
        stub.state.faults.rate_limit(1, retry_after=0, method="auth.test")
        await client.auth_test()
        stub.state.faults.error("invalid_auth", 1, method="auth.test")
        with pytest.raises(SlackApiError):
            await client.auth_test()
    assert seen == [
        ("auth.test", "rate_limited", 0.0),
        ("auth.test", "ok", None),
        ("auth.test", "error", None),
    ]
