"""A rule's `pagerduty: true` escalates its alerts: real cycles against the simulator, Slack through its
stand-in, and PagerDuty's stand-in over loopback, all on the test's clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.chatops.access import Caller
from monitor.chatops.handlers import acknowledge_alert
from monitor.devtools.pagerduty import PagerDutyStubThread
from monitor.notify.dispatch import Dispatcher
from monitor.pagerduty.notifier import PagerDutyNotifier
from monitor.rules.load import compile_match
from monitor.silences import Silence as StoredSilence
from tests.support.world import World, open_world

KEY = "0123456789abcdef0123456789ABCDEF"
RULES = """
rules:
  - name: ops
    match:
      task_name: "prod-*"
    channel: "#ops-alerts"
    severity: critical
    pagerduty: true
  - name: lab
    match:
      task_name: "lab-*"
    channel: "#lab"
"""


@pytest.fixture
def pd() -> Iterator[PagerDutyStubThread]:
    with PagerDutyStubThread() as stub:
        yield stub


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with open_world(tmp_path, RULES, tasks=("prod-reboot", "lab-script")) as opened:
        yield opened


def _escalate(world: World, pd: PagerDutyStubThread, key: str = KEY) -> None:
    """The dispatcher as a daemon with `pagerduty:` configured builds it (again, as after a restart)."""
    receiver = PagerDutyNotifier(key, pd.server.enqueue_url, interval=0)
    world.dispatcher = Dispatcher(
        world.store, world.runtime.delivery, claimer="t", clock=lambda: world.now[0], receivers=[receiver]
    )


async def test_a_failure_triggers_and_its_recovery_resolves_one_incident(
    world: World, pd: PagerDutyStubThread
) -> None:
    _escalate(world, pd)
    world.execute("prod-reboot", "FAIL")
    await world.cycle()
    [incident] = pd.server.incidents
    assert incident.status == "triggered"
    assert len(world.top_level("#ops-alerts")) == 1, "Slack is told as before"

    world.advance(timedelta(hours=2))
    _escalate(world, pd)  # a restart
    world.execute("prod-reboot", "FAIL")
    await world.cycle()  # a reminder in Slack; PagerDuty is not paged again
    world.advance(timedelta(minutes=5))
    world.execute("prod-reboot", "SUCCESS")
    await world.cycle()

    assert [action for action, _ in pd.server.events] == ["trigger", "resolve"]
    assert [i.status for i in pd.server.incidents] == ["resolved"]


async def test_rules_without_pagerduty_page_nobody(world: World, pd: PagerDutyStubThread) -> None:
    _escalate(world, pd)
    world.execute("lab-script", "FAIL")
    await world.cycle()
    assert pd.server.requests == 0
    assert world.store.pending_outbox(now=world.now[0]) == []


async def test_a_refused_routing_key_is_a_meta_alert(world: World, pd: PagerDutyStubThread) -> None:
    _escalate(world, pd, key="x" * 31)
    world.execute("prod-reboot", "FAIL")
    await world.cycle()
    await world.flush()  # the meta-alert, queued by the refusal
    assert pd.server.incidents == []
    [meta] = [m for m in world.top_level("#ops") if "PagerDuty escalation" in str(m.text)]
    assert "routing key" in str(meta.blocks), "the fix named is PagerDuty's, not Slack's"


async def _ack(world: World) -> bool:
    """The Acknowledge button (or `/tasks ack`) on the prod-reboot alert, with the rules in force as the
    daemon hands them to the app."""
    [fingerprint] = world.store.load_open_alerts()
    deps = world.chatops_deps(
        ruleset=world.runtime.loaded.ruleset,
    )
    done, _ = await acknowledge_alert(fingerprint, Caller("U1", "alice"), deps)
    return done


async def test_an_ack_in_slack_acknowledges_the_incident_in_order(
    world: World, pd: PagerDutyStubThread
) -> None:
    _escalate(world, pd)
    world.execute("prod-reboot", "FAIL")
    await world.cycle()
    assert await _ack(world)
    _escalate(world, pd)  # a restart: the ack is in the outbox
    await world.flush()
    assert pd.server.incidents[0].status == "acknowledged"

    world.advance(timedelta(minutes=5))
    world.execute("prod-reboot", "SUCCESS")
    await world.cycle()
    assert [(i.status, i.actions) for i in pd.server.incidents] == [
        ("resolved", ["trigger", "acknowledge", "resolve"])
    ]


async def test_an_ack_of_an_alert_without_an_incident_is_not_sent(
    world: World, pd: PagerDutyStubThread
) -> None:
    """An alert of a rule without `pagerduty` never has an incident to acknowledge."""
    world.execute("lab-script", "FAIL")
    _escalate(world, pd)
    await world.cycle()
    assert await _ack(world)
    await world.flush()
    assert pd.server.requests == 0


async def test_a_task_deleted_while_paged_resolves_its_incident(
    world: World, pd: PagerDutyStubThread
) -> None:
    """CLOSED (the task is gone) ends the incident as RESOLVED does: nobody is paged for a task that no
    longer exists."""
    _escalate(world, pd)
    world.execute("prod-reboot", "FAIL")
    await world.cycle()
    world.sim.state.delete_task("prod-reboot")
    world.advance(timedelta(minutes=5))
    await world.cycle()

    assert [action for action, _ in pd.server.events] == ["trigger", "resolve"]
    assert [i.status for i in pd.server.incidents] == ["resolved"]


async def test_an_ack_while_the_trigger_is_retried_acknowledges_once_it_is_out(
    world: World, pd: PagerDutyStubThread
) -> None:
    """PagerDuty throttles the trigger; someone acknowledges the alert in Slack meanwhile: the acknowledge
    follows the trigger, so the on-call is not paged for an alert a person already took."""
    _escalate(world, pd)
    pd.call(pd.server.throttle, 1)
    world.execute("prod-reboot", "FAIL")
    await world.cycle()
    assert pd.server.incidents == [], "the trigger is being retried"
    assert await _ack(world)
    world.advance(timedelta(minutes=15))
    await world.flush()

    assert [(i.status, i.actions) for i in pd.server.incidents] == [
        ("acknowledged", ["trigger", "acknowledge"])
    ]


async def test_an_ack_of_an_escalated_alert_that_was_never_paged_sends_nothing(
    world: World, pd: PagerDutyStubThread
) -> None:
    """A rule that pages, but its alert was silenced when new: no incident, so no acknowledge is sent."""
    _escalate(world, pd)
    world.store.add_silence(
        StoredSilence(
            id="s-1",
            matcher=compile_match({"task_name": "prod-*"}, where="test"),
            until=world.now[0] + timedelta(hours=1),
            comment="maintenance",
            created_by="alice",
            created_at=world.now[0],
        )
    )
    world.execute("prod-reboot", "FAIL")
    await world.cycle()
    assert await _ack(world)
    await world.flush()
    assert pd.server.requests == 0
