"""Script output in alerts, end to end: a real cycle against the simulator's EXECUTE_SCRIPT tasks posts,
through the Slack stand-in, each failed desktop's script reason and the tail of its output, escaped, with a
"Full output" button; the lookups stay within the cycle's budget however many script tasks fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor import engine as engine_module
from monitor.slack.actions import SCRIPT_OUTPUT_ACTION_ID
from monitor.slack.message import SlackMessage
from tests.support.slack import assert_valid
from tests.support.world import open_world

RULES = 'rules:\n  - name: scripts\n    channel: "#ops"\n'
SCRIPT = {"last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY", "task_type": "EXECUTE_SCRIPT"}


def posted(world: object, channel: str = "ops") -> list[SlackMessage]:
    messages = world.stub.state.messages(channel)  # type: ignore[attr-defined]
    return [SlackMessage(m.text, m.blocks or [], None) for m in messages]


def script_requests(world: object) -> dict[str, int]:
    stats = world.sim.state.stats_snapshot()["requests"]  # type: ignore[attr-defined]
    return {
        name: sum(stats.get(name, {}).values()) for name in ("details", "script_records", "script_record")
    }


async def test_a_failed_script_shows_its_reason_and_the_tail_of_hostile_huge_output(tmp_path: Path) -> None:
    async with open_world(tmp_path, RULES, tasks=[{"task_name": "patch-tuesday", **SCRIPT}]) as world:
        huge = (
            "HEAD-NEVER-SHOWN\n"
            + ("<!channel> ```x``` \x1b[31m&amp;\n" * 20_000)
            + "exit 1: <@U0BOSS> denied"
        )
        world.sim.state.jobs.failed_outputs["desk-01"] = huge
        world.execute("patch-tuesday", "FAIL", failed_desktops=["desk-01", "desk-02"],
                      fail_reason="Script exited with code 1: <!here>")  # fmt: skip
        await world.engine.run_cycle()
        await world.dispatcher.flush()
        [message] = posted(world)
    assert_valid(message)
    sections = [
        b for b in message.blocks if b.get("accessory", {}).get("action_id") == SCRIPT_OUTPUT_ACTION_ID
    ]
    assert len(sections) == 2
    first = sections[0]["text"]["text"]
    assert first.startswith("📜 *desk-01* (exit 1): Script exited with code 1: &lt;!here&gt;")
    assert first.endswith("exit 1: &lt;@U0BOSS&gt; denied```")
    assert "HEAD-NEVER-SHOWN" not in first
    assert "<!channel>" not in first
    assert "\x1b" not in first
    assert "step 2/2 failed" in sections[1]["text"]["text"], "the simulator's own output for desk-02"
    record_ids = [s["accessory"]["value"] for s in sections]
    assert all(record_ids)


async def test_power_tasks_make_no_script_lookups(tmp_path: Path) -> None:
    async with open_world(tmp_path, RULES, tasks=["prod-reboot"]) as world:
        world.execute("prod-reboot", "FAIL", failed_desktops=["desk-01"])
        world.sim.state.reset_stats()
        await world.engine.run_cycle()
        assert script_requests(world) == {"details": 1, "script_records": 0, "script_record": 0}


async def test_a_mass_script_failure_stays_within_the_cycles_lookup_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Budget 7 for 4 script tasks failing on 3 desktops each, in the order decided: the first two get their
    desktops, script list and one output (3 each), the third its desktops (1), the fourth nothing: 7
    requests, and every task still gets its alert."""
    monkeypatch.setattr(engine_module, "MAX_DETAIL_LOOKUPS", 7)
    names = [f"patch-{n}" for n in range(4)]
    async with open_world(tmp_path, RULES, tasks=[{"task_name": name, **SCRIPT} for name in names]) as world:
        for name in names:
            world.execute(
                name, "FAIL", failed_desktops=["desk-01", "desk-02", "desk-03"], fail_reason="denied"
            )
        world.sim.state.reset_stats()
        report = await world.engine.run_cycle()
        assert script_requests(world) == {"details": 3, "script_records": 2, "script_record": 2}
    payloads = [entry.payload for entry in report.outbox]
    assert len(payloads) == 4
    with_output = [p["script_outputs"] for p in payloads if "script_outputs" in p]
    assert [[item["output_tail"] is not None for item in outputs] for outputs in with_output] == [
        [True, False, False],
        [True, False, False],
    ], "one output each; the other desktops show their reason"
    assert sum("failed_desktops" in p for p in payloads) == 3
