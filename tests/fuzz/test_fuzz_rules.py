"""Fuzzing the rule loader: whatever a rule file holds, `load_rules_text` answers with rules or `file:line`s.

What it proves (hypothesis; examples per target from the profile, ~2,000 each with HYPOTHESIS_PROFILE=ci):
- random text (YAML punctuation, tabs, unicode, control characters) never raises anything but RuleFileError;
- random YAML documents (nested mappings, lists, scalars of every YAML type, rule-ish keys) never do either;
- near-valid files, mutations of the shipped rules/example.yaml (a value of the wrong type, an unknown key,
  a bad regex, a bad duration, a duplicate rule name, a key removed, a rule duplicated, a line cut short,
  deleted or indented with a tab): every failure is a RuleFileError whose problems are all
  `r.yaml:LINE: problem` with LINE inside the file, never a traceback;
- a mutation that must be refused (bad regex, bad duration, duplicate name, unknown key, wrong type) is
  refused, at the line of the mutated rule or below it.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from monitor.rules.index import RuleSet
from monitor.rules.load import RuleFileError, load_rules_text
from tests.fuzz import examples

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_TEXT = (REPO / "rules" / "example.yaml").read_text(encoding="utf-8")
EXAMPLE = yaml.safe_load(EXAMPLE_TEXT)
FILENAME = "r.yaml"
YAML_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
PROBLEM = re.compile(r"^r\.yaml:(\d+): \S.*", re.DOTALL)

RULE_KEYS = [
    "name", "match", "channel", "severity", "repeat_interval", "notify_resolved", "continue", "group_by",
    "mention", "min_failures", "runbook_url",
]  # fmt: skip
MATCH_KEYS = [
    "last_status", "task_type", "scheduled_type", "life_cycle_type", "task_name", "id", "enable", "priority",
    "project",
]  # fmt: skip


def load(text: str) -> RuleSet | list[str]:
    """The rule set, or the problems; any other exception fails the test with its traceback."""
    try:
        return load_rules_text(text, FILENAME)
    except RuleFileError as exc:
        return exc.problems


def assert_located(problems: list[str], text: str) -> None:
    assert problems, "a RuleFileError without problems"
    # YAML breaks lines at \r, NEL and the Unicode separators too, and may point just past the end.
    last_line = len(YAML_LINE_BREAK.split(text)) + 1
    for problem in problems:
        found = PROBLEM.match(problem)
        assert found, f"not `file:line: problem`: {problem!r}"
        assert 1 <= int(found.group(1)) <= last_line, problem
        assert "Traceback" not in problem


def check(text: str) -> RuleSet | list[str]:
    result = load(text)
    if isinstance(result, list):
        assert_located(result, text)
    return result


# -- random text and random YAML ---------------------------------------------------------------------------

yaml_punctuation = st.text(alphabet=":-[]{}#&*!|>'\"%@`,?\t\n re^$()\\", max_size=60)
yaml_text = st.lists(
    st.one_of(yaml_punctuation, st.text(max_size=30), st.sampled_from([*RULE_KEYS, *MATCH_KEYS, "rules"])),
    max_size=12,
).map("".join)


@given(yaml_text)
def test_random_text_is_rules_or_located_problems(text: str) -> None:
    check(text)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["re:(", "re:[a-", "4x", "-1h", "0", "1h30m", "FAIL", "REBOOT", "<!channel>", "#c", "*"]),
    st.dates(),
    st.datetimes(),
    st.binary(max_size=8),
)
keys = st.one_of(
    st.sampled_from(["rules", "silences", *RULE_KEYS, *MATCH_KEYS, "min", "max"]), st.text(max_size=8)
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)
rule_file_like = st.fixed_dictionaries(
    {}, optional={"rules": st.one_of(st.lists(documents, max_size=4), documents), "silences": documents}
)


@examples(ci_cap=800)
@given(st.one_of(documents, rule_file_like))
def test_random_yaml_is_rules_or_located_problems(data: Any) -> None:
    check(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


# -- near-valid files: mutations of rules/example.yaml ------------------------------------------------------

wrong_values = st.one_of(
    st.sampled_from([None, True, 12, -3, 1.5, [], {}, [1, [2]], {"x": 1}, "", "re:(", "4x", "-1h"]),
    st.text(max_size=12),
)


@st.composite
def mutated_example(draw: st.DrawFn) -> tuple[str, bool, int]:
    """(text, must be refused, index of the mutated rule or -1)."""
    data = copy.deepcopy(EXAMPLE)
    # A run of 2-4 consecutive rules of the example (loading all of them makes each example 3x slower).
    start = draw(st.integers(0, len(data["rules"]) - 2))
    data["rules"] = data["rules"][start : start + draw(st.integers(2, 4))]
    rules: list[dict[str, Any]] = data["rules"]
    index = draw(st.integers(0, len(rules) - 1))
    rule = rules[index]
    kind = draw(
        st.sampled_from(
            ["bad_regex", "bad_duration", "duplicate_name", "unknown_key", "wrong_type", "wrong_match_value",
             "drop_key", "duplicate_rule", "silence_value"]
        )
    )  # fmt: skip
    refused = True
    if kind == "bad_regex":
        bad = draw(st.sampled_from(["(", "[a-", "*x", "a{2,1}", "(?P<"]))
        rule.setdefault("match", {})["task_name"] = "re:" + bad
    elif kind == "bad_duration":
        rule["repeat_interval"] = draw(st.sampled_from(["4x", "-1h", "1.5.h", "h", "99999999999999999999d"]))
    elif kind == "duplicate_name":
        other = draw(st.integers(0, len(rules) - 1).filter(lambda i: i != index))
        rule["name"] = rules[other]["name"]
    elif kind == "unknown_key":
        target = rule if draw(st.booleans()) else rule.setdefault("match", {})
        target[draw(st.sampled_from(["chanel", "severty", "tasktype", "x", "notify"]))] = draw(wrong_values)
    elif kind == "wrong_type":
        key = draw(
            st.sampled_from(["name", "severity", "notify_resolved", "continue", "min_failures", "match"])
        )
        rule[key] = draw(st.sampled_from([[1, 2], {"a": 1}, 1.5, None]))
    elif kind == "wrong_match_value":
        match = rule.setdefault("match", {})
        match[draw(st.sampled_from(MATCH_KEYS))] = draw(wrong_values)
        refused = False  # some wrong-looking values are fine (a task_name of "0" is just a name)
    elif kind == "drop_key":
        rule.pop(draw(st.sampled_from(sorted(rule))), None)
        refused = False
    elif kind == "duplicate_rule":
        rules.insert(index, copy.deepcopy(rule))
        index += 1
    else:
        silence = draw(st.sampled_from(data["silences"]))
        silence[draw(st.sampled_from(["until", "match", "rule", "comment"]))] = draw(wrong_values)
        refused = False
        index = -1
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True), refused, index


def rule_line(text: str, index: int) -> int:
    """The line of the index-th `- name:` item under `rules:` in a safe_dump'ed file."""
    starts = [number for number, line in enumerate(text.splitlines(), 1) if line.startswith("- ")]
    return starts[index]


@examples(ci_cap=700)
@given(mutated_example())
def test_mutated_example_is_refused_with_located_problems(case: tuple[str, bool, int]) -> None:
    text, refused, index = case
    result = check(text)
    if refused:
        assert isinstance(result, list), "a broken rule file was accepted"
        lines = [int(PROBLEM.match(problem).group(1)) for problem in result]  # type: ignore[union-attr]
        assert max(lines) >= rule_line(text, index), result


@st.composite
def damaged_example(draw: st.DrawFn) -> str:
    """The example file's text with lines deleted, duplicated, tab-indented or cut short."""
    lines = EXAMPLE_TEXT.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "tab", "cut", "insert"]))
        if action == "delete":
            del lines[at]
        elif action == "duplicate":
            lines.insert(at, lines[at])
        elif action == "tab":
            lines[at] = "\t" + lines[at].lstrip(" ")
        elif action == "cut":
            lines[at] = lines[at][: draw(st.integers(0, len(lines[at])))]
        else:
            lines.insert(at, draw(yaml_text) + "\n")
        if not lines:
            break
    return "".join(lines)


@examples(ci_cap=600)
@given(damaged_example())
def test_damaged_example_text_is_rules_or_located_problems(text: str) -> None:
    check(text)


def test_the_example_itself_loads() -> None:
    """The baseline every mutation starts from is valid, so a refusal is the mutation's doing."""
    assert isinstance(load(EXAMPLE_TEXT), RuleSet)
