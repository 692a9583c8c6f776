"""The alert lifecycle (DESIGN.md section 6) as a case table: previous state x observation -> decision.

Each case names the previous alert state, what this cycle observed, the rule and silence in force, and what
`decide` must answer: the kind, the flags for the dispatcher, and what is stored (`WRITE_NOTHING` when the
state must not be written at all, so that a steady failure costs nothing per cycle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.decide import (
    AlertState,
    AlertStatus,
    DecisionKind,
    Observation,
    Occurrence,
    TaskCondition,
    alert_fingerprint,
    consecutive_failures,
    decide,
    unseen_alerts,
)
from monitor.rules.load import compile_match
from monitor.rules.model import Location, Rule
from monitor.silences import Silence
from monitor.workspace.models import ExecutionRecord, ScheduledTask

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
RUN_1, RUN_2 = "2026-03-02 08:00:00", "2026-03-03 08:00:00"
PROJECT = "p-1"
FINGERPRINT = alert_fingerprint("reboots", PROJECT, "t-1")


def rule(**options: Any) -> Rule:
    values: dict[str, Any] = {"repeat_interval": timedelta(hours=4)}
    values.update(options)
    return Rule("reboots", compile_match({}, where="test"), Location("test"), **values)


def silence(silence_id: str = "s-1") -> Silence:
    return Silence(
        silence_id, compile_match({"id": "t-1"}, where="test"), T0 + timedelta(days=1), "upgrade", "U1"
    )


def firing(**changes: Any) -> AlertState:
    """An open alert, posted at T0 about execution r-1 (FAIL), next run RUN_1."""
    state = AlertState(
        fingerprint=FINGERPRINT,
        rule_name="reboots",
        project=PROJECT,
        task_id="t-1",
        task_name="prod-reboot",
        status=AlertStatus.FIRING,
        episode=1,
        last_status="FAIL",
        record_id="r-1",
        next_execution_time=RUN_1,
        occurrences=1,
        consecutive_failures=1,
        opened_at=T0,
        updated_at=T0,
        notified_at=T0,
        notified_occurrence=1,
        notified_status="FAIL",
        reason="new failure",
    )
    return state._replace(**changes)


def pending(**changes: Any) -> AlertState:
    return firing(
        status=AlertStatus.PENDING, notified_at=None, notified_occurrence=0, notified_status=None
    )._replace(**changes)


def muted(**changes: Any) -> AlertState:
    """Firing, but held back by silence s-1 before anything was posted."""
    return firing(notified_at=None, notified_occurrence=0, notified_status=None, silenced_by="s-1")._replace(
        **changes
    )


def failing(
    status: str = "FAIL", record: str | None = "r-1", next_run: str | None = RUN_1, **extra: Any
) -> Observation:
    """The task as listed: failing with `status`; `record` None when the records API did not answer."""
    occurrence = Occurrence(status, next_run, record)
    return Observation("t-1", PROJECT, TaskCondition.FAILING, "prod-reboot", occurrence, **extra)


def looked_up(**answer: Any) -> Observation:
    return Observation.looked_up("t-1", PROJECT, **answer)


WRITE_NOTHING: dict[str, Any] = {}


@dataclass(frozen=True)
class Case:
    previous: AlertState | None
    observation: Observation
    kind: DecisionKind
    #: Fields the stored state must have; WRITE_NOTHING: no state is written.
    stored: dict[str, Any]
    rule: Rule | None = field(default_factory=rule)
    silence: Silence | None = None
    now: datetime = T0 + timedelta(minutes=5)
    listing_complete: bool = True
    notify: bool = False
    update_message: bool = False
    needs_confirmation: bool = False
    reason: str = ""


LATER = T0 + timedelta(hours=4)

# Case(previous state, observation, expected kind, expected stored fields, ...options and flags)
CASES = [
    # A new failure is posted once; the same execution is not posted again.
    pytest.param(
        Case(
            None,
            failing(),
            DecisionKind.NEW,
            {
                "status": AlertStatus.FIRING,
                "episode": 1,
                "occurrences": 1,
                "notified_occurrence": 1,
                "notified_at": T0 + timedelta(minutes=5),
                "fingerprint": FINGERPRINT,
            },
            notify=True,
            reason="new failure: task prod-reboot last_status FAIL",
        ),
        id="new failing occurrence: NEW",
    ),
    pytest.param(
        Case(firing(), failing(), DecisionKind.NONE, WRITE_NOTHING, reason="next reminder in 3h55m"),
        id="same occurrence again: NONE",
    ),
    # Reminders.
    pytest.param(
        Case(
            firing(),
            failing(),
            DecisionKind.REPEAT,
            {"notified_at": LATER, "occurrences": 1},
            now=LATER,
            notify=True,
            reason="still failing 4h after the last message",
        ),
        id="same occurrence after repeat_interval: REPEAT",
    ),
    pytest.param(
        Case(
            firing(acknowledged_by="U42"),
            failing(),
            DecisionKind.NONE,
            WRITE_NOTHING,
            now=LATER,
            reason="acknowledged by U42",
        ),
        id="acknowledged: no REPEAT",
    ),
    pytest.param(
        Case(
            firing(),
            failing(),
            DecisionKind.NONE,
            WRITE_NOTHING,
            rule=rule(repeat_interval=timedelta(0)),
            now=T0 + timedelta(days=3),
            reason="sends no reminders",
        ),
        id="repeat_interval 0: never a REPEAT",
    ),
    # Later executions.
    pytest.param(
        Case(
            firing(),
            failing(record="r-2", next_run=RUN_2),
            DecisionKind.RECURRED,
            {"occurrences": 2, "notified_occurrence": 2, "record_id": "r-2", "consecutive_failures": 2},
            notify=True,
            update_message=True,
            reason="failed again (occurrence 2)",
        ),
        id="later execution fails again: RECURRED",
    ),
    pytest.param(
        Case(
            firing(acknowledged_by="U42"),
            failing(record="r-2"),
            DecisionKind.RECURRED,
            {"acknowledged_by": None},
            notify=True,
            update_message=True,
        ),
        id="an ack covers one occurrence: RECURRED after it",
    ),
    pytest.param(
        Case(
            firing(),
            failing("SKIP", record="r-2"),
            DecisionKind.CHANGED,
            {"last_status": "SKIP", "notified_status": "SKIP", "occurrences": 2},
            notify=True,
            update_message=True,
            reason="changed FAIL -> SKIP",
        ),
        id="FAIL to SKIP: CHANGED",
    ),
    pytest.param(
        Case(
            firing(last_status="SKIP", notified_status="SKIP"),
            failing("FAIL", record="r-2"),
            DecisionKind.CHANGED,
            {"last_status": "FAIL"},
            notify=True,
            update_message=True,
        ),
        id="SKIP to FAIL: CHANGED",
    ),
    # Recovery must be confirmed before it is announced.
    pytest.param(
        Case(
            firing(),
            Observation.not_listed("t-1", PROJECT),
            DecisionKind.NONE,
            WRITE_NOTHING,
            needs_confirmation=True,
            reason="resolve candidate",
        ),
        id="absent from a complete listing: NONE, needs confirmation",
    ),
    pytest.param(
        Case(
            firing(),
            Observation.from_listing(ScheduledTask(id="t-1", last_status="SUCCESS"), PROJECT),
            DecisionKind.NONE,
            WRITE_NOTHING,
            needs_confirmation=True,
        ),
        id="success seen only in a listing: NONE, needs confirmation",
    ),
    pytest.param(
        Case(
            firing(),
            looked_up(exists=True, last_status="SUCCESS"),
            DecisionKind.RESOLVED,
            {"status": AlertStatus.RESOLVED, "closed_at": T0 + timedelta(minutes=5)},
            notify=True,
            update_message=True,
            reason="recovered",
        ),
        id="confirmed success: RESOLVED, announced",
    ),
    pytest.param(
        Case(
            firing(),
            looked_up(exists=True, last_status="SUCCESS"),
            DecisionKind.RESOLVED,
            {"status": AlertStatus.RESOLVED},
            rule=rule(notify_resolved=False),
            update_message=True,
            reason="does not announce recoveries",
        ),
        id="confirmed success, notify_resolved false: RESOLVED quietly, state closes",
    ),
    pytest.param(
        Case(
            firing(),
            looked_up(exists=True, last_status="FAIL"),
            DecisionKind.NONE,
            WRITE_NOTHING,
            reason="has not recovered",
        ),
        id="looked up and still failing: NONE",
    ),
    # An incomplete listing resolves and closes nothing.
    pytest.param(
        Case(
            firing(),
            Observation.not_listed("t-1", PROJECT),
            DecisionKind.NONE,
            WRITE_NOTHING,
            listing_complete=False,
            reason="listing was incomplete",
        ),
        id="absent from an incomplete listing: NONE, no confirmation",
    ),
    pytest.param(
        Case(
            firing(),
            looked_up(exists=True, last_status="SUCCESS"),
            DecisionKind.NONE,
            WRITE_NOTHING,
            listing_complete=False,
            reason="incomplete cycle resolves and closes nothing",
        ),
        id="confirmed success in an incomplete cycle: NONE",
    ),
    pytest.param(
        Case(
            firing(),
            failing(record="r-2"),
            DecisionKind.RECURRED,
            {"occurrences": 2},
            listing_complete=False,
            notify=True,
            update_message=True,
        ),
        id="an incomplete cycle still raises alerts",
    ),
    # Deleted, disabled, no longer matched, rule removed: CLOSED quietly.
    pytest.param(
        Case(
            firing(),
            looked_up(exists=False),
            DecisionKind.CLOSED,
            {"status": AlertStatus.CLOSED},
            update_message=True,
            reason="the task was deleted",
        ),
        id="task deleted: CLOSED",
    ),
    pytest.param(
        Case(
            firing(),
            Observation.from_listing(ScheduledTask(id="t-1", last_status="FAIL", enable=False), PROJECT),
            DecisionKind.CLOSED,
            {"status": AlertStatus.CLOSED},
            update_message=True,
            reason="the task was disabled",
        ),
        id="task disabled: CLOSED",
    ),
    pytest.param(
        Case(
            None,
            Observation.from_listing(ScheduledTask(id="t-1", last_status="FAIL", enable=False), PROJECT),
            DecisionKind.NONE,
            WRITE_NOTHING,
        ),
        id="a disabled task never opens an alert",
    ),
    pytest.param(
        Case(
            firing(),
            Observation.unmatched(ScheduledTask(id="t-1", last_status="FAIL"), PROJECT),
            DecisionKind.CLOSED,
            {"status": AlertStatus.CLOSED},
            update_message=True,
            reason="no longer matches",
        ),
        id="rule no longer matches: CLOSED",
    ),
    pytest.param(
        Case(
            firing(),
            failing(),
            DecisionKind.CLOSED,
            {"status": AlertStatus.CLOSED},
            rule=None,
            update_message=True,
            reason="rule 'reboots' was removed",
        ),
        id="rule removed: CLOSED",
    ),
    pytest.param(
        Case(pending(), looked_up(exists=False), DecisionKind.CLOSED, {"status": AlertStatus.CLOSED}),
        id="a never-posted alert closes without touching a message",
    ),
    # Silences: recorded, not sent; sent when the silence ends and the task still fails.
    pytest.param(
        Case(
            None,
            failing(),
            DecisionKind.MUTED,
            {"status": AlertStatus.FIRING, "notified_occurrence": 0, "silenced_by": "s-1"},
            silence=silence(),
            reason="held back: silenced by s-1",
        ),
        id="silenced new failure: MUTED",
    ),
    pytest.param(
        Case(
            muted(), failing(), DecisionKind.NONE, WRITE_NOTHING, silence=silence(), reason="still silenced"
        ),
        id="still silenced, nothing new: NONE",
    ),
    pytest.param(
        Case(
            muted(),
            failing(),
            DecisionKind.NEW,
            {"notified_occurrence": 1, "silenced_by": None},
            notify=True,
            reason="silence s-1 has ended",
        ),
        id="silence ended, still failing: NEW",
    ),
    pytest.param(
        Case(
            firing(),
            failing(record="r-2"),
            DecisionKind.MUTED,
            {"occurrences": 2, "notified_occurrence": 1, "silenced_by": "s-1"},
            silence=silence(),
        ),
        id="silenced, fails again: MUTED, counted",
    ),
    pytest.param(
        Case(
            firing(occurrences=2, record_id="r-2", silenced_by="s-1"),
            failing(record="r-2"),
            DecisionKind.RECURRED,
            {"notified_occurrence": 2},
            notify=True,
            update_message=True,
        ),
        id="silence ended after a recurrence: RECURRED",
    ),
    pytest.param(
        Case(
            firing(),
            failing(),
            DecisionKind.MUTED,
            {"notified_at": T0, "silenced_by": "s-1"},
            now=LATER,
            silence=silence(),
        ),
        id="silenced reminder: MUTED",
    ),
    pytest.param(
        Case(
            firing(),
            looked_up(exists=True, last_status="SUCCESS"),
            DecisionKind.RESOLVED,
            {"status": AlertStatus.RESOLVED},
            silence=silence(),
            update_message=True,
            reason="not announced: silenced",
        ),
        id="recovers while silenced: RESOLVED, not announced",
    ),
    # min_failures: pending until enough consecutive failing executions.
    pytest.param(
        Case(
            None,
            failing(),
            DecisionKind.NONE,
            {"status": AlertStatus.PENDING, "consecutive_failures": 1},
            rule=rule(min_failures=3),
            reason="pending: 1 consecutive failing execution(s)",
        ),
        id="min_failures 3, first failure: pending",
    ),
    pytest.param(
        Case(pending(), failing(), DecisionKind.NONE, WRITE_NOTHING, rule=rule(min_failures=3)),
        id="pending, same execution: NONE",
    ),
    pytest.param(
        Case(
            pending(),
            failing(record="r-2"),
            DecisionKind.NONE,
            {"status": AlertStatus.PENDING, "consecutive_failures": 2},
            rule=rule(min_failures=3),
        ),
        id="pending, second failing execution: still pending",
    ),
    pytest.param(
        Case(
            pending(consecutive_failures=2, occurrences=2),
            failing(record="r-3"),
            DecisionKind.NEW,
            {"status": AlertStatus.FIRING, "consecutive_failures": 3, "notified_occurrence": 3},
            rule=rule(min_failures=3),
            notify=True,
            reason="new failure after 3 consecutive failures",
        ),
        id="pending, third failing execution: NEW",
    ),
    pytest.param(
        Case(
            None,
            failing(consecutive_failures=3),
            DecisionKind.NEW,
            {"consecutive_failures": 3},
            rule=rule(min_failures=3),
            notify=True,
        ),
        id="records already show enough failures: NEW at once",
    ),
    pytest.param(
        Case(
            pending(),
            looked_up(exists=True, last_status="SUCCESS"),
            DecisionKind.RESOLVED,
            {"status": AlertStatus.RESOLVED},
            rule=rule(min_failures=3),
            reason="before anything was posted",
        ),
        id="pending recovers: RESOLVED, nothing to announce",
    ),
    # Occurrence identity without the records API: (last_status, next_execution_time).
    pytest.param(
        Case(firing(), failing(record=None), DecisionKind.NONE, WRITE_NOTHING),
        id="records API down, same status and next run: same occurrence",
    ),
    pytest.param(
        Case(
            firing(),
            failing(record=None, next_run=RUN_2),
            DecisionKind.RECURRED,
            {"occurrences": 2, "record_id": None, "next_execution_time": RUN_2},
            notify=True,
            update_message=True,
        ),
        id="records API down, next run moved on: RECURRED",
    ),
    pytest.param(
        Case(
            firing(record_id=None),
            failing(record="r-1"),
            DecisionKind.NONE,
            {"record_id": "r-1", "occurrences": 1},
        ),
        id="records API back: the record id is learned, same occurrence",
    ),
    pytest.param(
        Case(
            firing(),
            failing(next_run=RUN_2),
            DecisionKind.NONE,
            {"next_execution_time": RUN_2, "occurrences": 1},
        ),
        id="same record, schedule edited: same occurrence, state updated",
    ),
    # After an alert closed.
    pytest.param(
        Case(
            firing(status=AlertStatus.RESOLVED, closed_at=T0),
            failing(record="r-2", next_run=RUN_2),
            DecisionKind.NEW,
            {"episode": 2, "occurrences": 1, "opened_at": T0 + timedelta(minutes=5)},
            notify=True,
        ),
        id="fails again after it resolved: NEW, next episode",
    ),
    pytest.param(
        Case(
            firing(status=AlertStatus.RESOLVED, closed_at=T0),
            failing(),
            DecisionKind.NONE,
            WRITE_NOTHING,
            reason="handled already",
        ),
        id="the execution it resolved on shows up again: NONE",
    ),
    pytest.param(
        Case(
            firing(status=AlertStatus.RESOLVED, closed_at=T0, record_id=None),
            failing(record=None),
            DecisionKind.NEW,
            {"episode": 2},
            notify=True,
        ),
        id="without records, a failure after a recovery is a new execution: NEW",
    ),
    pytest.param(
        Case(
            firing(status=AlertStatus.CLOSED),
            Observation.not_listed("t-1", PROJECT),
            DecisionKind.NONE,
            WRITE_NOTHING,
            reason="no open alert",
        ),
        id="closed alert, task gone: NONE",
    ),
    pytest.param(
        Case(
            firing(),
            Observation(
                "t-1", PROJECT, TaskCondition.FAILING, "prod-reboot-renamed", Occurrence("FAIL", RUN_1, "r-1")
            ),
            DecisionKind.NONE,
            {"task_name": "prod-reboot-renamed"},
        ),
        id="task renamed: NONE, name stored",
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_decide(case: Case) -> None:
    decision = decide(
        case.previous,
        case.observation,
        case.rule,
        silence=case.silence,
        now=case.now,
        listing_complete=case.listing_complete,
    )
    assert decision.kind is case.kind, decision.reason
    assert (decision.notify, decision.update_message, decision.needs_confirmation) == (
        case.notify,
        case.update_message,
        case.needs_confirmation,
    )
    assert case.reason in decision.reason
    if case.stored is WRITE_NOTHING:
        assert decision.new_state is None, decision.new_state
    else:
        assert decision.new_state is not None
        assert {name: getattr(decision.new_state, name) for name in case.stored} == case.stored
        assert decision.new_state.reason == decision.reason
        assert decision.new_state.updated_at == case.now


@pytest.mark.parametrize("case", CASES)
def test_every_decision_says_why(case: Case) -> None:
    decision = decide(
        case.previous,
        case.observation,
        case.rule,
        silence=case.silence,
        now=case.now,
        listing_complete=case.listing_complete,
    )
    assert len(decision.reason) > 10


def test_decide_refuses_an_observation_of_another_task() -> None:
    other = Observation("t-2", PROJECT, TaskCondition.FAILING, None, Occurrence("FAIL"))
    with pytest.raises(ValueError, match="about task t-1, not t-2"):
        decide(firing(), other, rule(), silence=None, now=T0, listing_complete=True)


class TestObservationFromListing:
    def test_failing_with_a_record(self) -> None:
        task = ScheduledTask(id="t-1", task_name="n", last_status="SKIP", next_execution_time=RUN_1)
        record = ExecutionRecord(id="r-9", status="SKIP")
        observation = Observation.from_listing(task, PROJECT, latest_record=record, consecutive_failures=2)
        assert observation.condition is TaskCondition.FAILING
        assert observation.occurrence == Occurrence("SKIP", RUN_1, "r-9")
        assert observation.occurrence.identified_by == "record"
        assert observation.consecutive_failures == 2

    def test_failing_without_records_falls_back_to_the_listing(self) -> None:
        observation = Observation.from_listing(
            ScheduledTask(id="t-1", last_status="FAIL", next_execution_time=RUN_1), PROJECT
        )
        assert observation.occurrence == Occurrence("FAIL", RUN_1, None)
        assert observation.occurrence.identified_by == "listing"

    @pytest.mark.parametrize(
        ("fields", "condition"),
        [
            ({"last_status": "FAIL", "enable": False}, TaskCondition.DISABLED),
            ({"last_status": "SUCCESS"}, TaskCondition.SUCCEEDED),
            ({"last_status": "RUNNING"}, TaskCondition.UNRESOLVED),
        ],
    )
    def test_other_conditions(self, fields: dict[str, Any], condition: TaskCondition) -> None:
        observation = Observation.from_listing(ScheduledTask(id="t-1", **fields), PROJECT)
        assert observation.condition is condition
        assert observation.occurrence is None
        assert observation.confirmed is False


@pytest.mark.parametrize(
    ("answer", "condition"),
    [
        ({"exists": False}, TaskCondition.DELETED),
        ({"exists": True, "enabled": False, "last_status": "FAIL"}, TaskCondition.DISABLED),
        ({"exists": True, "last_status": "SUCCESS"}, TaskCondition.SUCCEEDED),
        ({"exists": True, "last_status": "FAIL"}, TaskCondition.UNRESOLVED),
        ({"exists": True, "last_status": None}, TaskCondition.UNRESOLVED),
    ],
)
def test_a_lookup_is_a_confirmed_observation(answer: dict[str, Any], condition: TaskCondition) -> None:
    observation = looked_up(**answer)
    assert (observation.condition, observation.confirmed) == (condition, True)


def test_fingerprint_is_stable_and_tells_alerts_apart() -> None:
    assert alert_fingerprint("r", "p", "t") == alert_fingerprint("r", "p", "t")
    assert len(alert_fingerprint("r", "p", "t")) == 16
    parts = [
        ("r", "p", "t"),
        ("r2", "p", "t"),
        ("r", "p2", "t"),
        ("r", "p", "t2"),
        ("r", "pt", ""),
        ("rp", "", "t"),
    ]
    others = {alert_fingerprint(*three) for three in parts}
    assert len(others) == 6


@pytest.mark.parametrize(
    ("statuses", "count"),
    [
        pytest.param([], 0, id="no records"),
        pytest.param(["FAIL", "FAIL", "SUCCESS", "FAIL"], 2, id="two since the last success"),
        pytest.param(["SKIP", "FAIL"], 2, id="skips count as failing"),
        pytest.param(["SUCCESS", "FAIL"], 0, id="latest succeeded"),
    ],
)
def test_consecutive_failures_counts_from_the_latest_record(statuses: list[str], count: int) -> None:
    # Given newest first, but the records arrive shuffled: the count goes by start_time.
    records = [
        ExecutionRecord(id=f"r-{i}", status=status, start_time=f"2026-03-{20 - i:02d} 08:00:00")
        for i, status in enumerate(statuses)
    ]
    assert consecutive_failures(reversed(records)) == count


@pytest.mark.parametrize(
    ("records", "count"),
    [
        pytest.param([("FAIL", 20), ("FAIL", 19), ("SUCCESS", 18)], 2, id="newest first, as the API lists"),
        pytest.param([("SUCCESS", 20), ("FAIL", 20), ("FAIL", 19)], 0, id="equal start times keep the order"),
        pytest.param([("FAIL", None), ("SUCCESS", 19), ("FAIL", 18)], 0, id="no start time sorts last"),
        pytest.param([("FAIL", 18), ("SKIP", 20), ("FAIL", 19)], 3, id="out of order: sorted by start time"),
    ],
)
def test_consecutive_failures_orders_records_by_start_time(
    records: list[tuple[str, int | None]], count: int
) -> None:
    """(status, day of March it started on); records arrive as a tuple, or as any iterable."""
    given = tuple(
        ExecutionRecord(id=f"r-{i}", status=status, start_time=f"2026-03-{day:02d} 08:00:00" if day else None)
        for i, (status, day) in enumerate(records)
    )
    assert consecutive_failures(given) == count
    assert consecutive_failures(iter(given)) == count


def test_a_posted_state_differs_from_the_decided_one_only_in_what_posting_changes() -> None:
    """decide builds the posted state by position (a mass failure posts thousands): the same as _replace."""
    previous = firing(occurrences=2, notified_occurrence=1, acknowledged_by="alice", closed_at=T0)
    later = T0 + timedelta(minutes=5)
    decision = decide(previous, failing(record="r-2"), rule(), silence=None, now=later, listing_complete=True)
    assert decision.kind is DecisionKind.RECURRED
    expected = previous._replace(
        record_id="r-2",
        occurrences=3,
        consecutive_failures=2,
        acknowledged_by=None,
        updated_at=later,
        notified_at=later,
        notified_occurrence=3,
        notified_status="FAIL",
        silenced_by=None,
        reason=decision.reason,
    )
    assert decision.new_state == expected


def test_unseen_alerts() -> None:
    seen = firing()
    listed = firing(fingerprint="f-listed", task_id="t-listed")
    gone = firing(fingerprint="f-gone", task_id="t-gone")
    closed = firing(fingerprint="f-closed", task_id="t-closed", status=AlertStatus.RESOLVED)
    unseen = unseen_alerts([seen, listed, gone, closed], {FINGERPRINT}, {"t-1", "t-listed"})
    assert unseen.still_listed == [listed]
    assert unseen.resolve_candidates == [gone]
