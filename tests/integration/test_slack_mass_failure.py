"""A mass failure reaches Slack as a handful of digests per channel, intact through rate limiting: 1,000 tasks
failing at once in 5 channels, with Slack answering 429 to every fifth call - every alert is delivered, in
exactly one message, and no message is posted twice."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.support.world import open_world

TEAMS = ("alpha", "bravo", "charlie", "delta", "echo")
PER_TEAM = 200
RULES = "rules:\n" + "".join(
    f'  - name: {team}\n    match:\n      task_name: "{team}-*"\n    channel: "#desktop-{team}"\n'
    for team in TEAMS
)


async def test_a_thousand_failures_in_five_channels_survive_rate_limits(tmp_path: Path) -> None:
    names = [f"{team}-reboot-{n:03d}" for team in TEAMS for n in range(PER_TEAM)]
    # Pacing off (open_world): what is measured here is grouping and retrying, not waiting.
    async with open_world(tmp_path, RULES, tasks=tuple(names)) as world:
        for name in names:
            world.execute(name, "FAIL")
        world.stub.state.faults.rate_limit(count=None, every=5, retry_after=0)
        report = await world.engine.run_cycle()
        assert len(report.outbox) == len(names)
        now = world.now[0]
        for _ in range(50):  # each flush sends what is due; a 429'd message is due again at once
            await world.dispatcher.flush()
            if not world.store.pending_outbox(now=now, limit=1):
                break
        assert not world.store.pending_outbox(now=now, limit=1), "nothing left waiting"
        refs = {str(entry.payload["task"]["name"]): world.store.message_ref(entry.fingerprint)
                for entry in report.outbox}  # fmt: skip
        calls = world.stub.state.calls
        limited = sum(1 for call in calls if call.error == "rate_limit")
        posts = Counter(call.params.get("channel") for call in calls
                        if call.method == "chat.postMessage" and call.status == 200)  # fmt: skip
        per_channel = {team: world.stub.state.messages(f"desktop-{team}") for team in TEAMS}

    assert limited > 0, "the stand-in answered 429 along the way"
    assert all(ref is not None for ref in refs.values()), "every alert was delivered"
    for team, messages in per_channel.items():
        assert 1 <= len(messages) <= 10, f"#{team}: a handful of digests, not {len(messages)}"
        assert all(message.thread_ts is None for message in messages)
        delivered = {ref.ts for name, ref in refs.items() if name.startswith(team) and ref is not None}
        assert delivered == {message.ts for message in messages}, "each digest holds alerts; none is extra"
    assert sum(posts.values()) == sum(len(m) for m in per_channel.values()), "no message posted twice"
