"""`evaluate`, the pure part of a cycle: its shortcuts (silences looked up by task signature) give the same
decisions as asking `is_muted` of every silence for every (rule, task)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.decide import Observation, decide
from monitor.engine import evaluate
from monitor.rules.index import RuleSet, match
from monitor.rules.load import compile_match
from monitor.silences import Silence, SilenceOrigin, is_muted
from monitor.workspace.models import ScheduledTask

from .test_rules_matching import PROJECTS, rule, specs, tasks

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def silence(index: int, spec: dict[str, Any], rules: frozenset[str], active: bool) -> Silence:
    return Silence(
        id=f"s{index}",
        matcher=compile_match(spec, where=f"silence {index}"),
        until=NOW + timedelta(hours=1 if active else -1),
        comment="test",
        created_by="test",
        rules=rules,
        origin=SilenceOrigin.RUNTIME,
    )


@settings(max_examples=200, deadline=None)
@given(
    rule_specs=st.lists(st.tuples(specs(), st.booleans()), min_size=1, max_size=5),
    silence_specs=st.lists(
        st.tuples(specs(), st.frozensets(st.sampled_from(["r0", "r1", "r2"])), st.booleans()), max_size=4
    ),
    listed=st.lists(tasks, min_size=1, max_size=8, unique_by=lambda task: task.id),
    project=st.sampled_from(PROJECTS),
)
def test_evaluate_mutes_exactly_what_is_muted_says(
    rule_specs: list[tuple[dict[str, Any], bool]],
    silence_specs: list[tuple[dict[str, Any], frozenset[str], bool]],
    listed: list[ScheduledTask],
    project: str,
) -> None:
    ruleset = RuleSet(
        tuple(rule(f"r{i}", spec, continue_matching=cont) for i, (spec, cont) in enumerate(rule_specs))
    )
    silences = [silence(i, spec, names, active) for i, (spec, names, active) in enumerate(silence_specs)]
    result = evaluate(
        listed, ruleset=ruleset, project=project, states={}, open_alerts=[], silences=silences, records={},
        complete=True, now=NOW,
    )  # fmt: skip
    expected = []
    for task in listed:
        observation = Observation.from_listing(task, project)
        for route in match(ruleset, task, project):
            muted_by = is_muted(silences, task, route.rule.name, NOW, project=project)
            decision = decide(None, observation, route.rule, silence=muted_by, now=NOW, listing_complete=True)
            if decision.new_state is not None:
                expected.append((task.id, route.rule.name, decision.kind, decision.new_state.silenced_by))
    got = [(d.task.id if d.task else None, d.rule.name if d.rule else None, d.decision.kind,
            d.state.silenced_by) for d in result.decided]  # fmt: skip
    assert got == expected
