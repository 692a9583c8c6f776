"""A runtime silence may be limited to time intervals (`/tasks silence prod-* patch-night`): the store keeps
their names (migration 6), in SQLite and PostgreSQL alike, and a state made before keeps its silences."""

from __future__ import annotations

from dataclasses import replace

import pytest

from monitor.store.base import Store
from tests.support.stores import Backend, backend, silence, store

__all__ = ["backend", "store"]  # the fixtures, used by name


def test_a_silence_s_time_intervals_round_trip(store: Store) -> None:
    windowed = replace(silence("s-w"), time_intervals=("patch-night", "weekend"))
    store.add_silence(windowed)
    store.add_silence(silence("s-plain"))
    assert store.silences() == [silence("s-plain"), windowed]  # by creation time, then id


def test_silences_stored_before_the_column_keep_muting_throughout(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrations = backend.store_class.MIGRATIONS
    with monkeypatch.context() as before:
        before.setattr(backend.store_class, "MIGRATIONS", migrations[:5])
        old = backend.open()
        old.close()
    backend.execute(
        "INSERT INTO silences (id, match_spec, rule_names, until, comment, created_by, created_at) VALUES "
        "('s-old', '{\"id\": [\"t-1\"]}', '[]', '2026-03-01T10:00:00.000000Z', 'old', 'U42', NULL)"
    )
    upgraded = backend.open()
    try:
        [kept] = upgraded.silences()
        assert (kept.id, kept.time_intervals) == ("s-old", ())
    finally:
        upgraded.close()
