"""A mass failure reaches Slack as a handful of digests per channel, intact through rate limiting: 1,000 tasks
failing at once in 5 channels, with Slack answering 429 to every fifth call - every alert is delivered, in
exactly one message, and no message is posted twice."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from monitor.engine import Engine
from monitor.notify.dispatch import Dispatcher
from monitor.notify.slack import SlackNotifier
from monitor.rules import load_rules_text
from monitor.sim import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_PROJECT_ID,
    DEFAULT_SECRET_KEY,
    SimOptions,
    start_simulator,
)
from monitor.slackstub import start_slack_stub
from monitor.store import SQLiteStore
from monitor.workspace.auth import AkSkAuth
from monitor.workspace.client import RetryPolicy, WorkspaceClient

TEAMS = ("alpha", "bravo", "charlie", "delta", "echo")
PER_TEAM = 200
NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
RULES = "rules:\n" + "".join(
    f'  - name: {team}\n    match:\n      task_name: "{team}-*"\n    channel: "#desktop-{team}"\n'
    for team in TEAMS
)


async def test_a_thousand_failures_in_five_channels_survive_rate_limits(tmp_path: Path) -> None:
    async with (
        start_simulator(SimOptions(tasks=0, seed=8, clock=lambda: NOW)) as sim,
        start_slack_stub() as stub,
    ):
        names = [f"{team}-reboot-{n:03d}" for team in TEAMS for n in range(PER_TEAM)]
        for name in names:
            sim.state.create_task(
                {"task_name": name, "last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY"}
            )
        for name in names:
            sim.state.add_execution(sim.state.task(name).id, "FAIL")
        stub.state.faults.rate_limit(count=None, every=5, retry_after=0)
        auth = AkSkAuth(
            DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, project_id=DEFAULT_PROJECT_ID, clock=lambda: NOW
        )
        retry = RetryPolicy(attempts=2, wait_initial=0, wait_max=0, wait_jitter=0)
        client = WorkspaceClient(endpoint=sim.base_url, project_id=DEFAULT_PROJECT_ID, auth=auth, retry=retry)
        with SQLiteStore.open(tmp_path / "state.db") as store:
            engine = Engine(
                client=client, store=store, ruleset=load_rules_text(RULES, "rules.yaml"),
                project=DEFAULT_PROJECT_ID, default_channel=None, clock=lambda: NOW,
            )  # fmt: skip
            # Pacing off: what is measured here is grouping and retrying, not waiting (bench/delivery.py).
            dispatcher = Dispatcher(store, SlackNotifier(stub.client(), per_channel_interval=0),
                                    claimer="test", clock=lambda: NOW)  # fmt: skip
            async with client:
                report = await engine.run_cycle()
            assert len(report.outbox) == len(names)
            for _ in range(50):  # each flush sends what is due; a 429'd message is due again at once
                await dispatcher.flush()
                if not store.pending_outbox(now=NOW, limit=1):
                    break
            assert not store.pending_outbox(now=NOW, limit=1), "nothing left waiting"
            refs = {str(entry.payload["task"]["name"]): store.message_ref(entry.fingerprint)
                    for entry in report.outbox}  # fmt: skip

        limited = sum(1 for call in stub.state.calls if call.error == "rate_limit")
        posts = Counter(call.params.get("channel") for call in stub.state.calls
                        if call.method == "chat.postMessage" and call.status == 200)  # fmt: skip
        per_channel = {team: stub.state.messages(f"desktop-{team}") for team in TEAMS}

    assert limited > 0, "the stand-in answered 429 along the way"
    assert all(ref is not None for ref in refs.values()), "every alert was delivered"
    for team, messages in per_channel.items():
        assert 1 <= len(messages) <= 10, f"#{team}: a handful of digests, not {len(messages)}"
        assert all(message.thread_ts is None for message in messages)
        delivered = {ref.ts for name, ref in refs.items() if name.startswith(team) and ref is not None}
        assert delivered == {message.ts for message in messages}, "each digest holds alerts; none is extra"
    assert sum(posts.values()) == sum(len(m) for m in per_channel.values()), "no message posted twice"
