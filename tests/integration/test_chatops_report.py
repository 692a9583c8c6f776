"""`/tasks report [Nd]`: parsed as a table, answered ephemerally through the real app with the run history's
numbers (per task type and rule, the top failing tasks) and the chart's numbers as a table."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.chatops.access import Access
from monitor.chatops.commands import CommandError, Report, parse_command
from monitor.chatops.handlers import Deps, RuntimeStatus
from monitor.chatops.runner import ChatopsService, SlackTokens
from monitor.config import SlackSettings
from tests.integration.test_chatops_app import ADMIN, RULES, SECRET, App, signed
from tests.support.simapi import http_client
from tests.support.slack import blocks_text
from tests.support.world import open_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[App]:
    """test_chatops_app's world, with the rules handed to the handlers as the runtime does."""
    daily = {"last_status": "SUCCESS", "enable": True, "scheduled_type": "DAY", "task_type": "REBOOT"}
    tasks = [{"task_name": name, **daily} for name in ("prod-reboot", "prod-stop", "lab-start")]
    async with (
        open_world(tmp_path, RULES, tasks=tasks, default_channel="#desktop-ops") as opened,
        http_client() as http,
    ):
        status = RuntimeStatus()
        deps = Deps(tasks=opened.client, store=opened.store, clock=lambda: opened.now[0],
                    access=Access.of([ADMIN], []), status=lambda: status,
                    ruleset=opened.runtime.loaded.ruleset)  # fmt: skip
        settings = SlackSettings.model_construct(
            mode="http", listen="127.0.0.1:0", api_url=opened.stub.api_url
        )
        service = ChatopsService(settings, SlackTokens(bot=opened.stub.token, signing_secret=SECRET), deps)
        await service.start()
        try:
            yield App(opened, service, http, status)
        finally:
            await service.stop()


@pytest.mark.parametrize(
    ("text", "command"),
    [("report", Report(7)), ("report 7d", Report(7)), ("REPORT 30D", Report(30)), ("report 1", Report(1))],
)
def test_report_reads_its_period(text: str, command: Report) -> None:
    assert parse_command(text) == command


@pytest.mark.parametrize("text", ["report 0d", "report 91d", "report week", "report 7d 30d", "report -7d"])
def test_a_period_it_cannot_read_says_what_to_write(text: str) -> None:
    with pytest.raises(CommandError, match=r"write `report`, `report 7d` or `report 30d` \(1 to 90 days"):
        parse_command(text)


async def test_report_answers_with_the_run_historys_numbers(world: App) -> None:
    world.fail("prod-reboot")
    world.fail("prod-stop")
    await world.cycle()  # the records of the two failing tasks fill the run history
    rows = world.world.store.task_days("2000-01-01", "2100-01-01")
    recent = {row.day for row in rows}
    text = blocks_text(await world.command("report 30d"))
    runs = sum(row.runs for row in rows if row.day >= min(recent))
    assert "Report last 30 days: 30 days" in text
    assert f"*{runs}* runs" in text
    assert "`REBOOT`" in text
    assert "`prod`" in text, "per rule"
    assert "*Top failing tasks*" in text
    assert "prod-reboot: 1 of" in text
    assert "day         runs  success" in text, "the chart's numbers as a table"


async def test_a_crowd_asking_for_a_report_costs_one_build(
    world: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 90-day report over a big history is seconds of CPU: twenty people asking at once (and asking again
    within a minute) cost one build, shared; another period, or a minute later, is built anew."""
    from monitor.chatops import handlers

    built: list[int] = []
    real = handlers.report_payload

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(kwargs["days"])
        return real(*args, **kwargs)

    monkeypatch.setattr(handlers, "report_payload", counting)
    users = [f"U0CROWD{index:03d}" for index in range(20)]
    bodies = [world.command_body("report 90d", f"crowd-{user}", user=user) for user in users]
    acked = await asyncio.gather(*(world.post(body, signed(body)) for body in bodies))
    assert {answer.status_code for answer in acked} == {200}
    for user in users:
        assert "Report last 90 days" in blocks_text(await world.answer(f"crowd-{user}"))
    assert built == [90]
    await world.command("report 90d", user="U0LATER")
    assert built == [90], "shared within a minute"
    await world.command("report 7d")
    assert built == [90, 7], "another period is its own build"
    world.now[0] += timedelta(minutes=2)
    await world.command("report 90d", user="U0LATER")
    assert built == [90, 7, 90]
