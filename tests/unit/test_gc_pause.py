"""The collector pause around a cycle: off inside, back on after, even on error; nesting leaves it alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from monitor.gc_pause import collector_paused, collector_running


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_the_collector_is_off_inside_and_on_again_after() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_comes_back_when_the_body_raises() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("cycle failed")
    assert gc.isenabled()


def test_an_inner_pause_does_not_end_the_outer_one() -> None:
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_turned_off_by_someone_else_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_the_collector_runs_for_io_inside_a_pause_and_is_paused_again_after() -> None:
    """Network I/O inside a cycle leaves cyclic garbage: the collector runs for it, then the pause goes on."""
    with collector_paused():
        with collector_running():
            assert gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_running_outside_a_pause_changes_nothing() -> None:
    with collector_running():
        assert gc.isenabled()
    assert gc.isenabled()


def test_running_does_not_turn_on_a_collector_someone_else_turned_off() -> None:
    gc.disable()
    with collector_running():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_running_does_not_pause_again_once_the_pause_ended_meanwhile() -> None:
    """Cycles of several projects run side by side and share the one switch: an I/O body that outlives the
    pause it started in leaves the collector on."""
    pause = collector_paused()
    pause.__enter__()
    running = collector_running()
    running.__enter__()
    pause.__exit__(None, None, None)
    running.__exit__(None, None, None)
    assert gc.isenabled()
