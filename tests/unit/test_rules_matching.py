"""Matching tasks against rules: what each match key means, first-match-wins with `continue`, and that the
indexed `match` always agrees with checking every rule in order."""

from __future__ import annotations

import re
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.rules.index import NameScreen, RuleSet, match
from monitor.rules.load import compile_match
from monitor.rules.matcher import MATCH_KEYS, NAME, Indexed, KeyKind, MatchKey, TaskMatcher
from monitor.rules.model import Location, MatchedRoute, Rule
from monitor.rules.patterns import NamePattern, RegexScreen
from monitor.workspace.models import ScheduledTask

PROJECT = "p-1"


def task(**fields: Any) -> ScheduledTask:
    values: dict[str, Any] = {
        "id": "t-1",
        "task_name": "prod-reboot-01",
        "task_type": "REBOOT",
        "scheduled_type": "DAY",
        "last_status": "FAIL",
        "enable": True,
        "priority": 3,
    }
    values.update(fields)
    return ScheduledTask(**values)


def rule(name: str, spec: dict[str, Any] | None = None, **options: Any) -> Rule:
    return Rule(name, compile_match(spec or {}, where=name), Location("test"), **options)


def names(routes: list[MatchedRoute]) -> list[str]:
    return [route.rule.name for route in routes]


@pytest.mark.parametrize(
    ("spec", "fields", "matches"),
    [
        pytest.param({}, {}, True, id="no keys: every failing task"),
        pytest.param({"last_status": "FAIL"}, {}, True, id="last_status"),
        pytest.param({"last_status": "SKIP"}, {}, False, id="last_status differs"),
        pytest.param({"task_type": ["STOP", "REBOOT"]}, {}, True, id="a list is any of"),
        pytest.param({"task_type": ["STOP", "START"]}, {}, False, id="none of the list"),
        pytest.param({"task_type": "REBOOT"}, {"task_type": None}, False, id="task without the field"),
        pytest.param({"scheduled_type": "DAY"}, {}, True, id="scheduled_type"),
        pytest.param(
            {"scheduled_type": "LIFE_CYCLE", "life_cycle_type": "POST_DESKTOP_DISCONNECTED"},
            {"scheduled_type": "LIFE_CYCLE", "life_cycle_type": "POST_DESKTOP_DISCONNECTED"},
            True,
            id="life_cycle_type",
        ),
        pytest.param({"task_name": "prod-*"}, {}, True, id="glob"),
        pytest.param({"task_name": "PROD-*"}, {}, False, id="globs are case-sensitive"),
        pytest.param({"task_name": "prod-reboot-0?"}, {}, True, id="glob with ?"),
        pytest.param({"task_name": "prod-reboot-01"}, {}, True, id="exact name"),
        pytest.param({"task_name": "prod-reboot"}, {}, False, id="exact name is whole"),
        pytest.param({"task_name": "prod-*"}, {"task_name": None}, False, id="task without a name"),
        pytest.param({"task_name": "re:prod-reboot-\\d+"}, {}, True, id="regex"),
        pytest.param({"task_name": "re:reboot"}, {}, False, id="regexes match the whole name"),
        pytest.param({"task_name": "re:(?i)PROD-.*"}, {}, True, id="regex flags"),
        pytest.param({"task_name": ["lab-*", "prod-*"]}, {}, True, id="any of several patterns"),
        pytest.param({"id": ["t-0", "t-1"]}, {}, True, id="id"),
        pytest.param({"id": "t-2"}, {}, False, id="other id"),
        pytest.param({"enable": True}, {}, True, id="enabled"),
        pytest.param({"enable": True}, {"enable": False}, False, id="disabled task"),
        pytest.param({"enable": True}, {"enable": None}, True, id="enable absent counts as enabled"),
        pytest.param({"priority": {"min": 1, "max": 5}}, {}, True, id="priority in range"),
        pytest.param({"priority": {"min": 4}}, {}, False, id="priority below range"),
        pytest.param({"priority": {"max": 3}}, {}, True, id="range ends are inclusive"),
        pytest.param({"priority": [1, 3]}, {}, True, id="priority in list"),
        pytest.param({"priority": 1}, {"priority": None}, False, id="task without a priority"),
        pytest.param({"project": PROJECT}, {}, True, id="project"),
        pytest.param({"project": "p-2"}, {}, False, id="other project"),
        pytest.param({"task_type": "REBOOT", "task_name": "lab-*"}, {}, False, id="every key must hold"),
    ],
)
def test_match_keys(spec: dict[str, Any], fields: dict[str, Any], matches: bool) -> None:
    ruleset = RuleSet((rule("r", spec),))
    assert bool(match(ruleset, task(**fields), PROJECT)) is matches


@pytest.mark.parametrize("status", ["SUCCESS", "RUNNING", None])
def test_only_failing_and_skipped_tasks_match(status: str | None) -> None:
    assert match(RuleSet((rule("all"),)), task(last_status=status), PROJECT) == []


def test_first_match_wins() -> None:
    ruleset = RuleSet(
        (rule("stop", {"task_type": "STOP"}), rule("reboot", {"task_type": "REBOOT"}), rule("all"))
    )
    assert names(match(ruleset, task(), PROJECT)) == ["reboot"]


def test_continue_lets_later_rules_match_too() -> None:
    ruleset = RuleSet(
        (
            rule("audit", continue_matching=True),
            rule("prod", {"task_name": "prod-*"}, continue_matching=True),
            rule("reboot", {"task_type": "REBOOT"}),
            rule("all"),
        )
    )
    assert names(match(ruleset, task(), PROJECT)) == ["audit", "prod", "reboot"]


def test_a_rule_that_does_not_match_does_not_stop_the_search() -> None:
    ruleset = RuleSet((rule("lab", {"task_name": "lab-*"}), rule("all")))
    assert names(match(ruleset, task(), PROJECT)) == ["all"]


def test_group_key_holds_the_group_by_fields_in_order() -> None:
    ruleset = RuleSet((rule("r", group_by=("task_type", "project", "priority", "life_cycle_type")),))
    (route,) = match(ruleset, task(), PROJECT)
    assert route.group_key == (
        ("task_type", "REBOOT"),
        ("project", PROJECT),
        ("priority", "3"),
        ("life_cycle_type", ""),
    )


def test_rule_lookup_by_name() -> None:
    ruleset = RuleSet((rule("a"),))
    assert ruleset.rule("a") is ruleset.rules[0]
    assert ruleset.rule("gone") is None


# The index must never change the answer: compare with checking every rule in order. Rules and tasks are drawn
# key by key from the match key table, so a key added to it is drawn too (and must have values here).

NAMES = [
    # Globs and expressions with and without a literal prefix, nested prefixes, an exact name, a `prefix*`
    # glob that settles a rule by itself and one that does not (`prod-re*-0?`), alternatives: the index
    # narrows by prefixes and skips the check of settled rules, and must agree with checking them all.
    "prod-*",
    "lab-*",
    "re:.*-01",
    "prod-reboot-01",
    "p*",
    "prod-re*-0?",
    "*-02",
    "re:prod-.*",
    "re:prod|lab-.*",
    "re:(prod|lab)-stop-0[0-9]",
    "re:prod-reboot-0?1",
    "re:(?i)LAB-.*",
    "lab-stop-02",
    # Globs that the index tests several at a time (NameRun), one with several stars.
    "*-re*-0?",
    "prod-*-0[12]",
    "lab-*-0?",
]
PROJECTS = ["p-1", "p-2"]
IDS = ["t-1", "t-2", "t-3"]


def any_of(*choices: Any) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.sampled_from(choices), min_size=1, max_size=2, unique=True)


#: What a rule's `match:` may say, for every key of the table.
SPEC_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "last_status": any_of("FAIL", "SKIP"),
    "task_type": any_of("START", "STOP", "REBOOT"),
    "scheduled_type": any_of("DAY", "LIFE_CYCLE"),
    "life_cycle_type": any_of("POST_DESKTOP_DISCONNECTED", "POST_CREATE_DESKTOP_SUCCESS"),
    "task_name": any_of(*NAMES),
    "id": any_of(*IDS),
    "enable": st.just(True),
    "priority": st.builds(lambda low, high: {"min": low, "max": high}, st.integers(0, 3), st.integers(3, 6)),
    "project": any_of(*PROJECTS),
}
#: The values a task may have, for the field of every key of the table (the project is drawn apart).
TASK_VALUES: dict[str, list[Any]] = {
    "last_status": ["FAIL", "SKIP", "SUCCESS"],
    "task_type": ["START", "STOP", "REBOOT", "HIBERNATE", None],
    "scheduled_type": ["DAY", "LIFE_CYCLE"],
    "life_cycle_type": ["POST_DESKTOP_DISCONNECTED", "POST_REBUILD_DESKTOP_SUCCESS", None],
    "task_name": [
        "prod-reboot-01", "lab-stop-02", "other", None, "", "p", "prod", "prod-", "prod-reboot-1", "lab",
        "LAB-x",
    ],
    "id": IDS,
    "enable": [True, False, None],
    "priority": [0, 3, 7, None],
}  # fmt: skip


def test_the_property_tests_draw_every_key_of_the_table() -> None:
    assert set(SPEC_VALUES) == {key.name for key in MATCH_KEYS}
    assert set(TASK_VALUES) == {key.field for key in MATCH_KEYS if key.field is not None}


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    spec = {key.name: draw(SPEC_VALUES[key.name]) for key in MATCH_KEYS if draw(st.booleans())}
    scheduled = spec.get("scheduled_type")
    if "life_cycle_type" in spec and scheduled is not None and "LIFE_CYCLE" not in scheduled:
        scheduled.append("LIFE_CYCLE")  # refused otherwise: only LIFE_CYCLE tasks have a life_cycle_type
    return spec


tasks = st.fixed_dictionaries({field: st.sampled_from(values) for field, values in TASK_VALUES.items()}).map(
    lambda fields: ScheduledTask(**fields)
)


def every_rule_in_order(ruleset: RuleSet, checked: ScheduledTask, project: str) -> list[str]:
    if checked.last_status not in ("FAIL", "SKIP"):
        return []
    matched = []
    for candidate in ruleset.rules:
        if candidate.matcher.matches(checked, project):
            matched.append(candidate.name)
            if not candidate.continue_matching:
                break
    return matched


@settings(max_examples=300, deadline=None)
@given(
    rule_specs=st.lists(st.tuples(specs(), st.booleans()), min_size=1, max_size=8),
    checked=st.lists(tasks, min_size=1, max_size=10),
    project=st.sampled_from(PROJECTS),
)
def test_indexed_match_agrees_with_checking_every_rule(
    rule_specs: list[tuple[dict[str, Any], bool]], checked: list[ScheduledTask], project: str
) -> None:
    ruleset = RuleSet(
        tuple(rule(f"r{i}", spec, continue_matching=cont) for i, (spec, cont) in enumerate(rule_specs))
    )
    for one in checked:  # several tasks per ruleset, so the signature cache is exercised too
        assert names(match(ruleset, one, project)) == every_rule_in_order(ruleset, one, project)


@settings(max_examples=150, deadline=None)
@given(
    rule_specs=st.lists(st.tuples(specs(), st.booleans()), min_size=1, max_size=8),
    checked=st.lists(tasks, min_size=1, max_size=10),
    project=st.sampled_from(PROJECTS),
)
def test_screened_match_agrees_with_checking_every_rule(
    rule_specs: list[tuple[dict[str, Any], bool]], checked: list[ScheduledTask], project: str
) -> None:
    """The same, with every `re:` name test screened by an RE2 set (normally from eight of them on)."""
    ruleset = RuleSet(
        tuple(rule(f"r{i}", spec, continue_matching=cont) for i, (spec, cont) in enumerate(rule_specs))
    )
    with patch.object(NameScreen, "SCREEN_MIN", 1):
        for one in checked:
            assert names(match(ruleset, one, project)) == every_rule_in_order(ruleset, one, project)


def test_a_rule_with_another_detail_is_not_settled_by_its_name_prefix() -> None:
    """`{task_name: "prod-*", description: "x*"}` once counted as settled by its prefix and matched every
    prod-* task: a key added to the table (here one a task has) is a detail the index still tests."""
    description = MatchKey("description", KeyKind.GLOB, "description", Indexed.NO, "the task's description")
    matcher = TaskMatcher.of(
        {NAME: (NamePattern.compile("prod-*"),), description: (NamePattern.compile("x*"),)}
    )
    ruleset = RuleSet((Rule("r", matcher, Location("test")),))
    assert match(ruleset, task(description="y"), PROJECT) == []
    assert names(match(ruleset, task(description="x1"), PROJECT)) == ["r"]


@pytest.mark.parametrize(
    "spec",
    [{"task_name": "prod-*", "priority": 9}, {"task_name": "prod-*", "id": "t-9"}],
    ids=["priority", "id"],
)
def test_a_name_prefix_settles_nothing_while_another_detail_is_left(spec: dict[str, Any]) -> None:
    assert match(RuleSet((rule("r", spec),)), task(), PROJECT) == []


def test_five_thousand_regex_rules_leave_only_the_matching_ones_to_check() -> None:
    """5,000 `re:` rules without a literal prefix against 3,000 failing tasks were 15 million regex matches a
    cycle (11 s of a blocked event loop): one RE2 set pass per name leaves the rules whose pattern matched."""
    rules = [rule(f"team{i}", {"task_name": f"re:.*team{i}-[a-z]+-[0-9]+"}) for i in range(5000)]
    ruleset = RuleSet((*rules, rule("rest", {})))
    hit = task(task_name="host-team4321-nightly-7")
    assert [c.rule.name for c in ruleset.candidates_for(hit, "p-1")] == ["team4321", "rest"]
    assert names(match(ruleset, hit, "p-1")) == ["team4321"]
    assert [c.rule.name for c in ruleset.candidates_for(task(task_name="host-nightly"), "p-1")] == ["rest"]


def test_the_regex_sets_are_built_once_per_rule_set_not_per_candidate_list() -> None:
    """Names starting with a thousand different glob prefixes make a thousand candidate lists; compiling
    the 5,000 patterns' sets for each took 94 s of a first cycle."""
    globs = [rule(f"g{i}", {"task_name": f"team{i}-*"}, continue_matching=True) for i in range(20)]
    regexes = [rule(f"r{i}", {"task_name": f"re:.*x{i}-[a-z]+"}) for i in range(10)]
    ruleset = RuleSet((*globs, *regexes))
    with patch("monitor.rules.index.RegexScreen", wraps=RegexScreen) as built:
        routes = [names(match(ruleset, task(task_name=f"team{i}-x3-abc"), "p-1")) for i in range(20)]
    assert built.call_count == 1
    assert routes == [[f"g{i}", "r3"] for i in range(20)]


@pytest.mark.parametrize(
    ("pattern", "prefix"),
    [
        ("prod-*", "prod-"),
        ("prod-reboot-01", "prod-reboot-01"),
        ("*-01", ""),
        ("prod-[ab]*", "prod-"),
        ("re:finance-[a-z]+-(month-end|monthly)-[0-9]+", "finance-"),
        ("re:prod-reboot-0?1", "prod-reboot-"),
        ("re:ab{2}", "a"),
        ("re:ab\\d", "ab"),
        ("re:prod|lab", ""),
        ("re:prod-(a|b)|lab", ""),
        ("re:prod[|]x", "prod"),
        ("re:prod[]|]x", "prod"),
        ("re:prod\\|x", "prod"),
        ("re:(?i)prod-.*", ""),
        ("re:.*-01", ""),
    ],
)
def test_the_literal_prefix_every_matching_name_starts_with(pattern: str, prefix: str) -> None:
    assert NamePattern.compile(pattern).prefix == prefix


# Pieces of regular expressions: literals, sets (with `|` and `]` inside), escapes, groups, quantifiers.
REGEX_PIECES = [
    "a",
    "b",
    "-",
    "ab",
    "|",
    "(",
    ")",
    "(?:",
    "[ab]",
    "[]|]",
    "[|]",
    "\\|",
    "\\d",
    ".",
    "?",
    "*",
    "+",
    "{2}",
]


ASCII = st.characters(codec="ascii")


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.sampled_from(REGEX_PIECES), min_size=1, max_size=8), data=st.data())
def test_a_regex_prefix_is_never_wrong(pieces: list[str], data: st.DataObject) -> None:
    """Whatever the expression, every name it fully matches starts with the prefix found for it."""
    try:
        pattern = NamePattern.compile("re:" + "".join(pieces))
    except ValueError:
        return  # not an expression
    try:
        re.compile(pattern.regex.pattern)
    except re.error:
        return  # RE2 syntax Python's engine cannot draw from, such as the empty flag group "(?)"
    for _ in range(5):
        # Drawn by Python's engine, in ASCII (RE2's \\d is ASCII; Python's takes every Unicode digit).
        name = data.draw(st.from_regex(pattern.regex.pattern, fullmatch=True, alphabet=ASCII))
        assert pattern.matches(name)
        assert name.startswith(pattern.prefix)
