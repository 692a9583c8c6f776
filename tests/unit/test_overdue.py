"""Missed runs (monitor.overdue): the pure overdue decision as tables, across zones, DST and clock skew; the
OVERDUE alert's lifecycle through `decide`; routing and `evaluate_overdue` over a listing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.decide import (
    OVERDUE_STATUS,
    AlertState,
    AlertStatus,
    DecisionKind,
    Observation,
    alert_fingerprint,
    decide,
    overdue_fingerprint,
)
from monitor.overdue import CLOCK_SKEW, OverdueRoutes, due_instant, evaluate_overdue, missed_run
from monitor.rules.index import RuleSet
from monitor.rules.load import compile_match, load_rules_text
from monitor.rules.model import Location, Rule
from monitor.silences import Silence
from monitor.workspace.models import ScheduledTask

PROJECT = "p-1"
HALF_HOUR = timedelta(minutes=30)


def task(**fields: Any) -> ScheduledTask:
    values: dict[str, Any] = {
        "id": "t-1",
        "task_name": "nightly-reboot",
        "task_type": "REBOOT",
        "scheduled_type": "DAY",
        "last_status": "SUCCESS",
        "enable": True,
        "time_zone": "UTC",
        "next_execution_time": "2026-03-01 08:00:00",
    }
    values.update(fields)
    return ScheduledTask.model_validate(values)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def at(wall: str, zone: str | None = "UTC", **more: Any) -> dict[str, Any]:
    """A task's fields: next run at `wall` in `zone`."""
    return {"next_execution_time": wall, "time_zone": zone, **more}


BERLIN = "Europe/Berlin"
SHANGHAI = "Asia/Shanghai"
LIFE_CYCLE = {"scheduled_type": "LIFE_CYCLE", "life_cycle_type": "POST_CREATE_DESKTOP_SUCCESS"}
# (case, task fields, now in UTC, latest execution start in UTC, overdue_after, missed run in UTC or None)
MISSED_RUNS: list[tuple[str, dict[str, Any], str, str | None, timedelta, str | None]] = [
    ("due 31 min ago, no run: overdue", {}, "2026-03-01 08:31:00", None, HALF_HOUR, "2026-03-01 08:00:00"),
    ("due exactly overdue_after ago: not yet", {}, "2026-03-01 08:30:00", None, HALF_HOUR, None),
    ("due in the future", {}, "2026-03-01 07:00:00", None, HALF_HOUR, None),
    ("disabled: never", {"enable": False}, "2026-03-02 08:00:00", None, HALF_HOUR, None),
    ("enable unknown: watched", {"enable": None}, "2026-03-01 09:00:00", None, HALF_HOUR,
     "2026-03-01 08:00:00"),
    ("LIFE_CYCLE: never", LIFE_CYCLE, "2026-03-02 08:00:00", None, HALF_HOUR, None),
    ("no next run (a one-off that ran)", {"next_execution_time": None}, "2026-03-02 08:00:00", None,
     HALF_HOUR, None),
    ("unreadable time", {"next_execution_time": "soon"}, "2026-03-02 08:00:00", None, HALF_HOUR, None),
    ("no offset, a zone we do not know: cannot tell", {"time_zone": "Mars/Olympus"}, "2026-03-02 08:00:00",
     None, HALF_HOUR, None),
    ("expired before its due time", {"expire_time": "2026-03-01 07:00:00"}, "2026-03-02 08:00:00", None,
     HALF_HOUR, None),
    ("expires after its due time: overdue", {"expire_time": "2026-12-31 00:00:00"},
     "2026-03-01 09:00:00", None, HALF_HOUR, "2026-03-01 08:00:00"),
    # The task's zone places the wall time.
    ("Shanghai 16:00 is 08:00Z", at("2026-03-01 16:00:00", SHANGHAI), "2026-03-01 08:31:00", None,
     HALF_HOUR, "2026-03-01 08:00:00"),
    ("Shanghai: not yet at 08:29Z", at("2026-03-01 16:00:00", SHANGHAI), "2026-03-01 08:29:00", None,
     HALF_HOUR, None),
    ("New York 03:00 EST is 08:00Z", at("2026-03-01 03:00:00", "America/New_York"), "2026-03-01 08:31:00",
     None, HALF_HOUR, "2026-03-01 08:00:00"),
    ("an offset zone, UTC+08:00", at("2026-03-01 16:00:00", "UTC+08:00"), "2026-03-01 08:31:00", None,
     HALF_HOUR, "2026-03-01 08:00:00"),
    ("RFC 3339 with Z keeps its offset", at("2026-03-01T08:00:00Z", SHANGHAI), "2026-03-01 08:31:00", None,
     HALF_HOUR, "2026-03-01 08:00:00"),
    ("RFC 3339 with an offset, zone unknown", at("2026-03-01T16:00:00+08:00", None), "2026-03-01 08:31:00",
     None, HALF_HOUR, "2026-03-01 08:00:00"),
    # DST in Europe/Berlin: forward 2026-03-29 02:00 -> 03:00 (CET -> CEST), back 2026-10-25 03:00 -> 02:00.
    ("Berlin before spring DST: 01:30 CET is 00:30Z", at("2026-03-29 01:30:00", BERLIN),
     "2026-03-29 01:01:00", None, HALF_HOUR, "2026-03-29 00:30:00"),
    ("Berlin after spring DST: 03:30 CEST is 01:30Z", at("2026-03-29 03:30:00", BERLIN),
     "2026-03-29 02:01:00", None, HALF_HOUR, "2026-03-29 01:30:00"),
    ("Berlin after spring DST: not yet at 01:59Z (CET would say overdue)", at("2026-03-29 03:30:00", BERLIN),
     "2026-03-29 01:59:00", None, HALF_HOUR, None),
    ("Berlin skipped 02:30 reads as its later instant, 01:30Z", at("2026-03-29 02:30:00", BERLIN),
     "2026-03-29 02:01:00", None, HALF_HOUR, "2026-03-29 01:30:00"),
    ("Berlin skipped 02:30: not yet at 01:59Z", at("2026-03-29 02:30:00", BERLIN), "2026-03-29 01:59:00",
     None, HALF_HOUR, None),
    ("Berlin ambiguous 02:30 (autumn) reads as its later instant, 01:30Z", at("2026-10-25 02:30:00", BERLIN),
     "2026-10-25 02:01:00", None, HALF_HOUR, "2026-10-25 01:30:00"),
    ("Berlin ambiguous 02:30: not overdue an hour early, at 01:01Z", at("2026-10-25 02:30:00", BERLIN),
     "2026-10-25 01:01:00", None, HALF_HOUR, None),
    ("Berlin after autumn DST: 03:30 CET is 02:30Z", at("2026-10-25 03:30:00", BERLIN),
     "2026-10-25 03:01:00", None, HALF_HOUR, "2026-10-25 02:30:00"),
    # Clock skew: records are stamped by another clock than the schedule's, and ours differs from both.
    ("a run stamped 1 min before its due time is that run", {}, "2026-03-01 09:00:00", "2026-03-01 07:59:00",
     HALF_HOUR, None),
    ("a run stamped CLOCK_SKEW before its due time is that run", {}, "2026-03-01 09:00:00",
     "2026-03-01 07:58:00", HALF_HOUR, None),
    ("a run stamped long before its due time is the previous one", {}, "2026-03-01 09:00:00",
     "2026-02-28 08:00:00", HALF_HOUR, "2026-03-01 08:00:00"),
    ("a run started after its due time: not overdue", {}, "2026-03-01 09:00:00", "2026-03-01 08:10:00",
     HALF_HOUR, None),
    ("our clock 29 min ahead: overdue_after absorbs it", {}, "2026-03-01 08:29:59", None, HALF_HOUR, None),
    ("a run in Shanghai counts the same", at("2026-03-01 16:00:00", SHANGHAI), "2026-03-01 09:00:00",
     "2026-03-01 08:00:30", HALF_HOUR, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "now", "started", "overdue_after", "expected"),
    [case[1:] for case in MISSED_RUNS],
    ids=[case[0] for case in MISSED_RUNS],
)
def test_missed_run(
    fields: dict[str, Any], now: str, started: str | None, overdue_after: timedelta, expected: str | None
) -> None:
    found = missed_run(
        task(**fields),
        overdue_after=overdue_after,
        now=utc(now),
        latest_start=utc(started) if started else None,
    )
    assert found == (utc(expected) if expected else None)


def test_clock_skew_allowance_is_small() -> None:
    """A run stamped more than CLOCK_SKEW before the due time is an earlier run, whatever the clocks."""
    earlier = utc("2026-03-01 08:00:00") - CLOCK_SKEW - timedelta(seconds=1)
    assert missed_run(task(), overdue_after=HALF_HOUR, now=utc("2026-03-01 09:00:00"), latest_start=earlier)


def test_due_instant_is_in_utc() -> None:
    assert due_instant(task(time_zone="Asia/Tokyo", next_execution_time="2026-03-01 17:00:00")) == utc(
        "2026-03-01 08:00:00"
    )


# ---- the OVERDUE alert's lifecycle (decide) ---------------------------------------------------------

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def rule(**options: Any) -> Rule:
    values: dict[str, Any] = {"repeat_interval": timedelta(hours=4), "overdue_after": HALF_HOUR}
    values.update(options)
    return Rule("reboots", compile_match({}, where="test"), Location("test"), **values)


def opened(**options: Any) -> AlertState:
    decision = decide(None, Observation.overdue(task(), PROJECT), rule(**options), silence=None, now=T0,
                      listing_complete=True)  # fmt: skip
    assert decision.new_state is not None
    return decision.new_state


def test_a_missed_run_alerts_at_once_whatever_min_failures() -> None:
    decision = decide(None, Observation.overdue(task(), PROJECT), rule(min_failures=3), silence=None, now=T0,
                      listing_complete=True)  # fmt: skip
    assert decision.kind is DecisionKind.NEW
    assert decision.notify
    state = decision.new_state
    assert state is not None
    assert state.status is AlertStatus.FIRING
    assert state.overdue
    assert state.last_status == OVERDUE_STATUS
    assert state.next_execution_time == "2026-03-01 08:00:00"
    assert state.fingerprint == overdue_fingerprint("reboots", PROJECT, "t-1")
    assert "missed its run due 2026-03-01 08:00:00" in decision.reason


def test_the_missed_run_alert_is_apart_from_the_failure_alert() -> None:
    assert overdue_fingerprint("reboots", PROJECT, "t-1") != alert_fingerprint("reboots", PROJECT, "t-1")


def test_still_overdue_is_quiet_until_the_reminder() -> None:
    state = opened()
    quiet = decide(state, Observation.overdue(task(), PROJECT), rule(), silence=None,
                   now=T0 + timedelta(hours=1), listing_complete=True)  # fmt: skip
    assert quiet.kind is DecisionKind.NONE
    assert quiet.new_state is None
    reminder = decide(state, Observation.overdue(task(), PROJECT), rule(), silence=None,
                      now=T0 + timedelta(hours=4), listing_complete=True)  # fmt: skip
    assert reminder.kind is DecisionKind.REPEAT
    assert reminder.notify
    assert reminder.reason.startswith("still overdue 4h")


def test_an_acknowledged_missed_run_sends_no_reminders() -> None:
    state = opened()._replace(acknowledged_by="U1")
    decision = decide(state, Observation.overdue(task(), PROJECT), rule(), silence=None,
                      now=T0 + timedelta(hours=5), listing_complete=True)  # fmt: skip
    assert decision.kind is DecisionKind.NONE
    assert "acknowledged by U1" in decision.reason


def test_a_silenced_missed_run_is_muted() -> None:
    hush = Silence(
        "s-1", compile_match({"id": "t-1"}, where="test"), T0 + timedelta(days=1), "patching", "U1"
    )
    decision = decide(None, Observation.overdue(task(), PROJECT), rule(), silence=hush, now=T0,
                      listing_complete=True)  # fmt: skip
    assert decision.kind is DecisionKind.MUTED
    assert not decision.notify


def test_a_run_resolves_it() -> None:
    ran = task(next_execution_time="2026-03-02 08:00:00")
    decision = decide(opened(), Observation.on_schedule(ran, PROJECT), rule(), silence=None,
                      now=T0 + timedelta(hours=1), listing_complete=True)  # fmt: skip
    assert decision.kind is DecisionKind.RESOLVED
    assert decision.notify
    assert decision.reason.startswith("on schedule again")


def test_a_later_missed_run_is_recurred() -> None:
    later = task(next_execution_time="2026-03-02 08:00:00")
    decision = decide(opened(), Observation.overdue(later, PROJECT), rule(), silence=None,
                      now=T0 + timedelta(days=1, hours=1), listing_complete=True)  # fmt: skip
    assert decision.kind is DecisionKind.RECURRED
    assert decision.new_state is not None
    assert decision.new_state.occurrences == 2


def test_disabling_the_task_closes_it() -> None:
    decision = decide(opened(), Observation.on_schedule(task(enable=False), PROJECT), rule(), silence=None,
                      now=T0, listing_complete=True)  # fmt: skip
    assert decision.kind is DecisionKind.CLOSED


def test_a_rule_without_overdue_after_any_more_closes_it() -> None:
    decision = decide(opened(), Observation.on_schedule(task(), PROJECT), rule(overdue_after=None),
                      silence=None, now=T0, listing_complete=True)  # fmt: skip
    assert decision.kind is DecisionKind.CLOSED
    assert "no longer watches for missed runs" in decision.reason


def test_on_schedule_says_nothing_about_a_failure_alert() -> None:
    failing = opened()._replace(last_status="FAIL", fingerprint=alert_fingerprint("reboots", PROJECT, "t-1"))
    decision = decide(failing, Observation.on_schedule(task(), PROJECT), rule(), silence=None, now=T0,
                      listing_complete=True)  # fmt: skip
    assert decision.kind is DecisionKind.NONE
    assert decision.new_state is None


# ---- routing and evaluate_overdue ---------------------------------------------------------------------

RULES = """
rules:
  - name: failures-only
    match: {task_name: "keep-*"}
  - name: prod-missed
    match: {task_name: "prod-*", last_status: FAIL}
    overdue_after: 30m
  - name: all-missed
    overdue_after: 2h
"""


def test_routing_ignores_last_status_and_rules_without_overdue_after() -> None:
    routes = OverdueRoutes(load_rules_text(RULES))
    assert [r.rule.name for r in routes.match(task(task_name="prod-1", last_status="SUCCESS"), PROJECT)] == [
        "prod-missed"
    ]
    assert [r.rule.name for r in routes.match(task(task_name="keep-1"), PROJECT)] == ["all-missed"]
    assert routes.shortest == HALF_HOUR


def test_no_rule_with_overdue_after_means_no_routes() -> None:
    assert not OverdueRoutes(RuleSet((rule(overdue_after=None),)))


def evaluate(tasks: list[ScheduledTask], open_alerts: list[AlertState], now: datetime, **options: Any) -> Any:
    values: dict[str, Any] = {
        "routes": OverdueRoutes(load_rules_text(RULES)),
        "project": PROJECT,
        "states": {alert.fingerprint: alert for alert in open_alerts},
        "open_alerts": open_alerts,
        "silences": [],
        "latest_starts": {},
        "complete": True,
        "now": now,
    }
    values.update(options)
    return evaluate_overdue(tasks, **values)


def test_evaluate_raises_each_rule_at_its_own_delay() -> None:
    tasks = [
        task(id="a", task_name="prod-a"),  # prod-missed, 30m
        task(id="b", task_name="other-b"),  # all-missed, 2h
        task(id="c", task_name="prod-c", enable=False),
        task(id="d", task_name="prod-d", **LIFE_CYCLE),
    ]  # fmt: skip
    after_an_hour = evaluate(tasks, [], utc("2026-03-01 09:00:00"))
    assert [(d.state.task_id, d.decision.kind) for d in after_an_hour.decided] == [("a", DecisionKind.NEW)]
    after_three = evaluate(tasks, [], utc("2026-03-01 11:00:00"))
    raised = {
        (d.state.task_id, d.state.rule_name)
        for d in after_three.decided
        if d.decision.kind is DecisionKind.NEW
    }
    assert raised == {("a", "prod-missed"), ("b", "all-missed")}


def test_evaluate_a_late_task_whose_run_was_recorded_is_not_raised() -> None:
    found = evaluate([task(id="a", task_name="prod-a")], [], utc("2026-03-01 09:00:00"),
                     latest_starts={"a": utc("2026-03-01 08:01:00")})  # fmt: skip
    assert found.decided == []


def test_evaluate_resolves_closes_and_looks_up() -> None:
    now = utc("2026-03-01 09:00:00")
    first = evaluate([task(id="a", task_name="prod-a"), task(id="b", task_name="prod-b"),
                      task(id="c", task_name="prod-c")], [], now)  # fmt: skip
    alerts = [item.state for item in first.decided]
    assert len(alerts) == 3
    later = now + timedelta(minutes=10)
    tasks = [
        task(id="a", task_name="prod-a", next_execution_time="2026-03-02 08:00:00"),  # ran
        task(id="b", task_name="prod-b", enable=False),  # disabled
    ]  # c is gone from a complete listing
    second = evaluate(tasks, alerts, later)
    assert [(d.state.task_id, d.decision.kind) for d in second.decided] == [
        ("a", DecisionKind.RESOLVED),
        ("b", DecisionKind.CLOSED),
    ]
    assert [alert.task_id for alert in second.to_look_up] == ["c"]
    incomplete = evaluate(tasks, alerts, later, complete=False)
    assert incomplete.to_look_up == []
    assert all(d.decision.kind is DecisionKind.NONE for d in incomplete.decided)


def test_evaluate_closes_an_alert_whose_rule_no_longer_matches() -> None:
    now = utc("2026-03-01 09:00:00")
    alerts = [item.state for item in evaluate([task(id="a", task_name="prod-a")], [], now).decided]
    renamed = task(id="a", task_name="staging-a")  # all-missed would take it, at 2h: not late for that yet
    second = evaluate([renamed], alerts, now + timedelta(minutes=5))
    assert [d.decision.kind for d in second.decided] == [DecisionKind.CLOSED]


# ---- rule files -----------------------------------------------------------------------------------------


def test_a_rule_file_sets_overdue_after() -> None:
    rules = load_rules_text(
        "rules:\n  - name: a\n    match: {task_name: x}\n    overdue_after: 1h30m\n  - name: b\n"
    )
    assert [r.overdue_after for r in rules.rules] == [timedelta(hours=1, minutes=30), None]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("30", "r.yaml:3: rule 'a': overdue_after: 30 has no unit: write 30s, 30m, 30h or 30d"),
        ("0", "r.yaml:3: rule 'a': overdue_after: 0 is too short: at least 1m (leave overdue_after out"),
        ("45s", "r.yaml:3: rule 'a': overdue_after: 45s is too short: at least 1m"),
        ("soon", "r.yaml:3: rule 'a': overdue_after: 'soon' is not a duration"),
    ],
)
def test_a_bad_overdue_after_is_refused_with_file_and_line(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match="overdue_after") as refused:
        load_rules_text(f"rules:\n  - name: a\n    overdue_after: {value}\n", "r.yaml")
    assert str(refused.value).startswith(problem)


def test_the_json_schema_describes_overdue_after() -> None:
    from monitor.rules.schema import rule_file_json_schema

    described = rule_file_json_schema()["$defs"]["RuleModel"]["properties"]["overdue_after"]
    assert described["type"] == "string"
    assert "OVERDUE" in described["description"]


# ---- what people read -------------------------------------------------------------------------------------


def overdue_payload(kind: DecisionKind) -> dict[str, Any]:
    from monitor.notify.payload import build_payload

    state = opened()
    decision = decide(state, Observation.overdue(task(), PROJECT), rule(), silence=None,
                      now=T0 + timedelta(hours=5), listing_complete=True)  # fmt: skip
    payload = build_payload(decision, state, rule(), task=task(), now=T0)
    return {**payload, "kind": kind.value}


def test_slack_tells_a_missed_run_in_its_own_words() -> None:
    import json

    from monitor.slack.alert import render_alert, render_thread_reply

    posted = json.dumps(
        render_alert(overdue_payload(DecisionKind.NEW), retry=True).blocks, ensure_ascii=False
    )
    assert "⏰ OVERDUE" in posted
    assert "scheduled task missed its run" in posted
    assert "Retry failed desktops" not in posted, "a missed run has no failed desktops"
    reminder = json.dumps(
        render_thread_reply(overdue_payload(DecisionKind.REPEAT)).blocks, ensure_ascii=False
    )
    assert "still overdue" in reminder
    assert "failing" not in reminder
    resolved = json.dumps(
        render_thread_reply(overdue_payload(DecisionKind.RESOLVED)).blocks, ensure_ascii=False
    )
    assert "on schedule again" in resolved
    assert "succeeded" not in resolved


@pytest.mark.parametrize(("value", "accepted"), [(1, True), (5, True), (1000, True), (0, False), (-1, False)])
def test_workspace_overdue_every_is_a_positive_count(value: int, accepted: bool) -> None:
    from pydantic import ValidationError

    from monitor.config import Settings

    if accepted:
        assert (
            Settings.model_validate({"workspace": {"overdue_every": value}}).workspace.overdue_every == value
        )
    else:
        with pytest.raises(ValidationError, match="overdue_every"):
            Settings.model_validate({"workspace": {"overdue_every": value}})


def test_a_digest_of_missed_runs_says_so() -> None:
    import json

    from monitor.slack.digest import render_digest

    payloads = [{**overdue_payload(DecisionKind.NEW), "fingerprint": f"{n:016x}"} for n in range(3)]
    [message] = render_digest(payloads)
    assert "3 scheduled tasks missed their run" in json.dumps(message.blocks, ensure_ascii=False)


@pytest.mark.parametrize(
    ("due", "zone"),
    [
        ("9999-12-31 23:59:59", "America/New_York"),
        ("9999-12-31T23:00:00-05:00", None),
        ("0001-01-01 00:00:00", "Asia/Shanghai"),
        ("0001-01-01 00:00:00", "UTC+08:00"),
    ],
)
def test_a_due_time_no_utc_instant_can_hold_is_unknown_not_an_overflow(due: str, zone: str | None) -> None:
    task = ScheduledTask.model_validate(
        {"id": "t", "task_name": "n", "enable": True, "scheduled_type": "DAY", "next_execution_time": due,
         "time_zone": zone, "expire_time": due}
    )  # fmt: skip
    assert due_instant(task) is None
    assert task.next_execution_at is None
    assert (
        missed_run(task, overdue_after=timedelta(minutes=30), now=datetime(2026, 12, 6, tzinfo=UTC)) is None
    )
