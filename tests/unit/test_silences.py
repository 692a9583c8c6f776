"""Silences mute alerts of matching tasks until they expire, whether they come from the rule file or were
added at runtime: one pure function, `is_muted`, applies both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.rules.load import compile_match, load_rules_text
from monitor.silences import Silence, SilenceOrigin, is_muted
from monitor.workspace.models import ScheduledTask

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LAB = ScheduledTask(id="t-lab", task_name="lab-rebuild-7", task_type="REBUILD", last_status="FAIL")
PROD = ScheduledTask(id="t-prod", task_name="prod-reboot-1", task_type="REBOOT", last_status="FAIL")


def silence(spec: dict[str, Any], *, until: datetime = NOW + timedelta(hours=2), **fields: Any) -> Silence:
    values: dict[str, Any] = {"comment": "maintenance", "created_by": "U123", "created_at": NOW}
    values.update(fields)
    return Silence(
        id=values.pop("id", "s-1"), matcher=compile_match(spec, where="test"), until=until, **values
    )


def test_a_matching_task_is_muted() -> None:
    lab = silence({"task_name": "lab-*"})
    assert is_muted([lab], LAB, "any-rule", NOW, project="p") is lab


def test_other_tasks_are_not() -> None:
    assert is_muted([silence({"task_name": "lab-*"})], PROD, "any-rule", NOW, project="p") is None


def test_a_runtime_silence_of_one_task() -> None:
    one = silence({"id": "t-prod"})
    assert is_muted([one], PROD, "r", NOW, project="p") is one
    assert is_muted([one], LAB, "r", NOW, project="p") is None


@pytest.mark.parametrize(
    ("moment", "muted"),
    [
        pytest.param(NOW, True, id="before until"),
        pytest.param(NOW + timedelta(hours=2) - timedelta(microseconds=1), True, id="just before until"),
        pytest.param(NOW + timedelta(hours=2), False, id="at until"),
        pytest.param(NOW + timedelta(days=1), False, id="long after"),
    ],
)
def test_a_silence_expires_by_itself(moment: datetime, muted: bool) -> None:
    assert (is_muted([silence({"task_name": "lab-*"})], LAB, "r", moment, project="p") is not None) is muted


def test_until_in_another_zone_is_the_same_instant() -> None:
    shanghai = silence({"task_name": "lab-*"}, until=datetime.fromisoformat("2026-03-01T20:00:00+08:00"))
    assert is_muted([shanghai], LAB, "r", NOW, project="p") is None, "20:00+08:00 is 12:00 UTC"
    assert is_muted([shanghai], LAB, "r", NOW - timedelta(minutes=1), project="p") is shanghai


def test_a_silence_limited_to_some_rules() -> None:
    scoped = silence({"task_name": "lab-*"}, rules=frozenset({"rebuilds"}))
    assert is_muted([scoped], LAB, "rebuilds", NOW, project="p") is scoped
    assert is_muted([scoped], LAB, "audit", NOW, project="p") is None


def test_a_silence_limited_to_a_project() -> None:
    scoped = silence({"project": "p-2"})
    assert is_muted([scoped], LAB, "r", NOW, project="p-2") is scoped
    assert is_muted([scoped], LAB, "r", NOW, project="p-1") is None


def test_the_longest_lasting_silence_is_named() -> None:
    short = silence({"task_name": "lab-*"}, id="short", until=NOW + timedelta(hours=1))
    long = silence({"task_type": "REBUILD"}, id="long", until=NOW + timedelta(days=1))
    assert is_muted([short, long], LAB, "r", NOW, project="p") is long


def test_rule_file_and_runtime_silences_apply_the_same_way() -> None:
    ruleset = load_rules_text(
        "rules:\n  - name: r\nsilences:\n"
        "  - match: {task_name: 'lab-*'}\n    until: 2026-03-01T14:00:00Z\n    comment: by hand\n"
    )
    (from_file,) = ruleset.silences
    assert from_file.origin is SilenceOrigin.RULE_FILE
    runtime = silence(from_file.matcher.to_spec(), until=from_file.until)
    for moment in (NOW, NOW + timedelta(hours=2)):
        for checked in (LAB, PROD):
            assert (is_muted([from_file], checked, "r", moment, project="p") is None) == (
                is_muted([runtime], checked, "r", moment, project="p") is None
            )


def test_until_must_have_a_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        silence({"task_name": "lab-*"}, until=datetime(2026, 3, 1, 14, 0))
