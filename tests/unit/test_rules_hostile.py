"""Rule files written to hurt: whatever they hold, loading ends soon with a short list of `file:line`s.

Alias bombs (a 1 KB "billion laughs"), aliases that contain themselves, nesting deeper than the parser's
recursion, and files with thousands of mistakes (issue 20, item 8); regular expressions that backtrack for
ever, overflow or recurse (items 2 and 14): `re:` patterns run on RE2, in time linear in the name.
"""

from __future__ import annotations

import pytest

from monitor.rules import MAX_PROBLEMS, LinearRegex, NamePattern, RuleFileError, load_rules_text, match
from monitor.workspace.models import ScheduledTask
from monitor.yamlfile import ALIAS_EXPANSION_LIMIT

RULE = "rules: [{name: r, match: {task_name: x}}]\n"


def problems_of(text: str, filename: str = "r.yaml") -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        load_rules_text(text, filename)
    return caught.value.problems


def laughs(levels: int, first: str = "[lol]") -> str:
    """`levels` anchors, each a list of nine aliases of the one before: 9**(levels-1) copies of `first`."""
    lines = [f"a0: &a0 {first}"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nsilences: *a{levels - 1}\n" + RULE


def test_a_billion_laughs_is_refused_before_anything_walks_it() -> None:
    """Ten levels of nine aliases: 387 million nodes in under 600 bytes."""
    text = laughs(10)
    assert len(text) < 600
    assert problems_of(text) == [
        f"r.yaml:1: aliases expand this document by more than {ALIAS_EXPANSION_LIMIT:,} nodes: "
        "write the values out, or share less"
    ]


def test_a_duplicate_key_in_a_mapping_named_by_many_aliases_is_reported_once() -> None:
    """The mapping is reached 6,561 times through aliases; it was reported (and walked) each time."""
    problems = problems_of(laughs(5, first="{x: 1, x: 2}"))
    assert problems.count("r.yaml:1: duplicate key 'x' (first on line 1)") == 1


def test_an_alias_inside_the_node_it_names_is_refused() -> None:
    """A cycle: the duplicate-key walk never ended."""
    assert problems_of("a: &a [1, *a]\n" + RULE) == ["r.yaml:1: an alias refers to a node that contains it"]


def test_nesting_deeper_than_the_parser_allows_is_a_located_problem() -> None:
    assert problems_of("rules: " + "[" * 2000 + "]" * 2000) == ["r.yaml:1: invalid YAML: nested too deeply"]


def test_shared_match_blocks_still_load() -> None:
    ruleset = load_rules_text(
        """\
rules:
  - name: prod-reboots
    match: &prod {task_name: "prod-*", last_status: FAIL}
    channel: "#ops"
    continue: true
  - name: prod-page
    match: *prod
    channel: "#page"
""",
        "r.yaml",
    )
    assert ruleset.rules[0].matcher == ruleset.rules[1].matcher


def test_past_a_hundred_problems_the_rest_are_counted() -> None:
    text = "rules:\n" + "".join(f"  - {{name: r{i}, match: {{task_name: x}}, bad: 1}}\n" for i in range(300))
    problems = problems_of(text)
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-2] == "r.yaml:101: rule 'r99': unknown key 'bad'"
    assert problems[-1] == "r.yaml:102: and 200 more problems (fix the ones above first)"


def test_a_catastrophic_regex_runs_on_re2_and_ends() -> None:
    """`(a+)+$` against "aaa...a!" backtracks 2**40 steps in Python's engine: the daemon froze (only SIGKILL
    stopped it). On RE2 the match is linear in the name."""
    ruleset = load_rules_text(
        'rules: [{name: r, match: {task_name: "re:(a+)+$"}, channel: "#ops"}]', "r.yaml"
    )
    (pattern,) = ruleset.rules[0].matcher.task_name or ()
    assert isinstance(pattern.regex, LinearRegex)
    hostile = ScheduledTask(id="t-1", task_name="a" * 40 + "!", last_status="FAIL")
    assert match(ruleset, hostile, "p") == []
    assert [
        route.rule.name for route in match(ruleset, hostile.model_copy(update={"task_name": "aaaa"}), "p")
    ] == ["r"]


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        pytest.param(
            "(a)\\1",
            "bad regular expression '(a)\\\\1': invalid escape sequence: \\1 (task_name regexes use RE2 "
            "syntax: no backreferences, lookahead or lookbehind; \\z ends the text)",
            id="backreference",
        ),
        pytest.param(
            "prod-(?!lab)",
            "bad regular expression 'prod-(?!lab)': invalid perl operator: (?!",
            id="lookahead",
        ),
        pytest.param(
            "a{4294967296}",
            "bad regular expression 'a{4294967296}': repetition {4294967296} is too large (at most {1000})",
            id="repetition that overflowed Python's re",
        ),
        pytest.param(
            "(\\w{1000}){1000}",
            "bad regular expression '(\\\\w{1000}){1000}': invalid repetition size",
            id="too big",
        ),
    ],
)
def test_what_re2_cannot_run_is_refused_at_its_line(source: str, problem: str) -> None:
    text = f"rules:\n  - name: r\n    match:\n      task_name: 're:{source}'\n"
    (found,) = problems_of(text)
    assert found.startswith(f"r.yaml:4: rule 'r': match.task_name: {problem}"), found


def test_two_thousand_nested_groups_are_an_expression_not_a_recursion_error() -> None:
    """Python's parser raised RecursionError (a traceback from `check`, an exception in SIGHUP's callback)."""
    pattern = NamePattern.compile("re:" + "(" * 2000 + "a" + ")" * 2000)
    assert pattern.matches("a")
