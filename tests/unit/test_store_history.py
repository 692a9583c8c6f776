"""The run history in the store, on each backend (`stores.backend`): record_runs counts each run once into the
daily summary, across calls and reopenings; task_days reads a span of days; prune_history forgets old days."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from monitor.history import Sighting, TaskDay
from monitor.store import Store, sql
from tests.support.stores import T0, Backend, backend, store

__all__ = ["backend", "store"]  # the fixtures, used by name

DAY = timedelta(days=1)


def sighting(task_id: str, next_at_days: int, status: str = "SUCCESS", **fields: object) -> Sighting:
    values: dict[str, object] = {
        "task_id": task_id, "task_name": f"name-{task_id}", "task_type": "REBOOT",
        "next_at": T0 + next_at_days * DAY, "last_status": status, "zone": UTC, "records": None,
    }  # fmt: skip
    values.update(fields)
    return Sighting(**values)  # type: ignore[arg-type]


def test_a_moved_next_time_counts_one_run_on_its_day(store: Store) -> None:
    assert store.record_runs("p", [sighting("a", 0), sighting("b", 0)], T0 - DAY) == 0
    counted = store.record_runs("p", [sighting("a", 1, "FAIL"), sighting("b", 1, "SKIP")], T0 + DAY / 2)
    assert counted == 2
    assert store.task_days("2026-03-01", "2026-03-02") == [
        TaskDay("p", "a", "2026-03-01", "REBOOT", "name-a", 1, 1, 0),
        TaskDay("p", "b", "2026-03-01", "REBOOT", "name-b", 1, 0, 1),
    ]


def test_the_same_listing_twice_counts_once(store: Store) -> None:
    store.record_runs("p", [sighting("a", 0)], T0 - DAY)
    store.record_runs("p", [sighting("a", 1, "FAIL")], T0 + DAY / 2)
    assert store.record_runs("p", [sighting("a", 1, "FAIL")], T0 + DAY / 2 + timedelta(minutes=1)) == 0
    [row] = store.task_days("2026-03-01", "2026-03-02")
    assert (row.runs, row.fails) == (1, 1)


def test_a_restart_counts_nothing_again(backend: Backend) -> None:
    first = backend.open()
    first.record_runs("p", [sighting("a", 0)], T0 - DAY)
    first.record_runs("p", [sighting("a", 1, "FAIL")], T0 + DAY / 2)
    first.close()
    again = backend.open()
    try:
        assert again.record_runs("p", [sighting("a", 1, "FAIL")], T0 + DAY) == 0
        assert again.record_runs("p", [sighting("a", 2)], T0 + 2 * DAY) == 1
        assert [(row.day, row.runs, row.fails) for row in again.task_days("2026-03-01", "2026-03-09")] == [
            ("2026-03-01", 1, 1),
            ("2026-03-02", 1, 0),
        ]
    finally:
        again.close()


def test_runs_of_one_day_add_up(store: Store) -> None:
    records = ((T0 + timedelta(hours=1), "FAIL"), (T0 + timedelta(hours=2), "SUCCESS"))
    store.record_runs("p", [sighting("a", 1, records=records[:1])], T0 + timedelta(hours=1))
    store.record_runs("p", [sighting("a", 1, records=records)], T0 + timedelta(hours=3))
    [row] = store.task_days("2026-03-01", "2026-03-02")
    assert (row.runs, row.fails, row.skips) == (2, 1, 0)


def test_projects_keep_their_own_marks(store: Store) -> None:
    store.record_runs("p", [sighting("a", 0)], T0 - DAY)
    assert store.record_runs("q", [sighting("a", 1)], T0 + DAY / 2) == 0, "first sight in q"
    assert store.record_runs("p", [sighting("a", 1)], T0 + DAY / 2) == 1


def test_days_before_the_retention_are_pruned(store: Store) -> None:
    store.record_runs("p", [sighting("a", -5)], T0 - 6 * DAY)
    store.record_runs("p", [sighting("a", -3)], T0 - 4 * DAY)
    store.record_runs("p", [sighting("a", 1)], T0 + DAY / 2)
    assert [row.day for row in store.task_days("2026-01-01", "2026-04-01")] == ["2026-02-24", "2026-02-26"]
    assert store.prune_history(before=T0 - 4 * DAY) == 1
    assert [row.day for row in store.task_days("2026-01-01", "2026-04-01")] == ["2026-02-26"]


@pytest.mark.parametrize("chunk", [sql.MARKS_CHUNK, 1], ids=["one chunk", "chunks of one"])
def test_a_task_sighted_twice_in_one_call_counts_once(
    store: Store, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failing listing and the listing of every task may both hold a task, in the same chunk of sightings
    or in different ones (a chunk's marks are read after the chunks before it were written)."""
    monkeypatch.setattr(sql, "MARKS_CHUNK", chunk)
    store.record_runs("p", [sighting("a", 0), sighting("b", 0)], T0 - DAY)
    sightings = [sighting("a", 1, "FAIL"), sighting("b", 1), sighting("a", 1, "FAIL")]
    assert store.record_runs("p", sightings, T0 + DAY / 2) == 2
    assert [(day.task_id, day.runs, day.fails) for day in store.task_days("2026-03-01", "2026-03-02")] == [
        ("a", 1, 1),
        ("b", 1, 0),
    ]


def test_task_totals_sum_a_span_per_task(store: Store) -> None:
    """What a report reads of the period before its own: each task's totals, dated the span's first day."""
    store.record_runs("p", [sighting("a", -3), sighting("b", -3)], T0 - 4 * DAY)
    store.record_runs("p", [sighting("a", -2, "FAIL"), sighting("b", -2)], T0 - 2.5 * DAY)
    store.record_runs("p", [sighting("a", -1, "SKIP")], T0 - 1.5 * DAY)
    assert store.task_totals("2026-02-20", "2026-03-01") == [
        TaskDay("p", "a", "2026-02-20", "REBOOT", "name-a", 2, 1, 1),
        TaskDay("p", "b", "2026-02-20", "REBOOT", "name-b", 1, 0, 0),
    ]


def test_a_report_firing_is_queued_once(backend: Backend) -> None:
    """Two replicas (or a restart) queueing the same firing: one outbox row."""
    from monitor.decide import DecisionKind
    from monitor.store import OutboxEntry

    entry = OutboxEntry("report:w@1", 0, DecisionKind.REPORT, "report:#ops", {"report": "w"}, T0)
    first, second = backend.open(), backend.open()
    try:
        assert (first.report_queued("w@1"), first.queue_report("w@1", entry)) == (False, True)
        assert (second.report_queued("w@1"), second.queue_report("w@1", entry)) == (True, False)
        [row] = second.pending_outbox(now=T0)
        assert (row.entry.kind, row.entry.channel, row.entry.payload) == (DecisionKind.REPORT, "report:#ops",
                                                                          {"report": "w"})  # fmt: skip
    finally:
        first.close()
        second.close()


def test_a_replica_that_no_longer_leads_queues_no_report(backend: Backend) -> None:
    """PostgreSQL: after another replica began a term, an old leader queueing a report writes nothing."""
    if backend.name != "postgres":
        pytest.skip("terms are PostgreSQL's (SQLite state has one replica)")
    from monitor.decide import DecisionKind
    from monitor.store import OutboxEntry
    from monitor.store.errors import StaleLeaderError
    from monitor.store.postgres import PostgresStore

    entry = OutboxEntry("report:w@1", 0, DecisionKind.REPORT, "report:#ops", {"report": "w"}, T0)
    old, new = backend.open(), backend.open()
    try:
        assert isinstance(old, PostgresStore)
        assert isinstance(new, PostgresStore)
        old.begin_term()
        new.begin_term()
        with pytest.raises(StaleLeaderError):
            old.queue_report("w@1", entry)
        assert not new.report_queued("w@1")
        assert new.pending_outbox(now=T0) == []
    finally:
        old.close()
        new.close()
