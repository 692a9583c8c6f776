"""Fuzzing rule files and configs written to hurt (issue 20, items 2, 8, 14 and 15).

What it proves (hypothesis, no deadlines: the work of each example is bounded by its size instead):
- regex rules: any `re:` pattern built from pieces that backtrack badly in Python (`(a+)+`, `(.*)*`,
  alternatives of overlapping branches, counted repetitions, backreferences, lookaround, deep nesting) is
  either refused with a message or compiled by RE2, never by a backtracking engine; on short ASCII names RE2
  agrees with Python's `re` wherever both accept the pattern, and on names of up to 4,000 characters built to
  make a backtracking engine explode (the "time budget": linear, so each match is a few microseconds) the
  match ends;
- alias-heavy YAML: chains of anchors, each naming the previous one up to nine times, as sequences or
  mappings, with or without a cycle: the file is refused with the alias message exactly when its aliases add
  more than ALIAS_EXPANSION_LIMIT nodes (counted here independently), with the cycle message when it has a
  cycle, and otherwise loads or lists at most MAX_PROBLEMS + 1 problems - for rule files and configs alike;
- config duplicate keys: a valid config with one key or section written again anywhere is refused with
  `config.yaml:LINE: duplicate key 'k' (first on line M)` at the repeated key's line.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import strategies as st

from monitor.config import ConfigError, load_settings
from monitor.rules.index import RuleSet
from monitor.rules.load import MAX_PROBLEMS, RuleFileError, load_rules_text
from monitor.rules.patterns import LinearRegex, NamePattern
from monitor.workspace.models import ScheduledTask
from monitor.yamlfile import ALIAS_EXPANSION_LIMIT
from tests.fuzz import examples

# -- regex rules --------------------------------------------------------------------------------------------

REGEX_PIECES = [
    "a", "b", "ab", ".", "a+", "a*", "(a+)+", "(a*)*", "(.*)*", "(a|a)*", "(a|ab)*", "(a|aa)+", "(.*a){3}",
    "[ab]", "[^b]", "\\w", "x?", "a{2,5}", "a{1000}", "a{1001}", "a{4294967296}", "(", ")", "|", "(?:", "$",
    "^", "\\1", "(?=a)", "(?!b)", "(?<=a)", "(?i)", "\\b", "\\Z", "\\z",
    # Literal text, which a name must contain to be worth a call into RE2, and escapes that are not literal.
    "-x-", "ab?c", "c", "-", "\\.", "\\pL", "\\x61", "\\141", "{2}", "b{0,2}", "[-a]", "\\Qa.\\E",
]  # fmt: skip
patterns = st.one_of(
    st.lists(st.sampled_from(REGEX_PIECES), min_size=1, max_size=10).map("".join),
    st.integers(1, 3000).map(lambda depth: "(" * depth + "a" + ")" * depth),
)
short_names = st.text(alphabet="ab!xc-.", max_size=10)
hostile_names = st.builds(
    lambda run, tail, size: run * size + tail,
    st.sampled_from(["a", "ab", "x"]),
    st.sampled_from(["", "!", "b", "\n"]),
    st.integers(1, 4000),
)


def compiled(source: str) -> NamePattern | str:
    """The compiled `re:` pattern, or why it was refused."""
    try:
        return NamePattern.compile("re:" + source)
    except ValueError as exc:
        return str(exc)


def loaded(text: str) -> RuleSet | list[str]:
    try:
        return load_rules_text(text, "r.yaml")
    except RuleFileError as exc:
        return exc.problems


def python_fullmatch(source: str, name: str) -> bool | None:
    """Python's answer, or None when Python cannot compile the pattern the same way."""
    try:
        return re.fullmatch(source, name) is not None
    except (re.error, RecursionError, OverflowError):
        return None


@examples(ci_cap=1500)
@given(source=patterns, short=st.lists(short_names, max_size=5), long=st.lists(hostile_names, max_size=3))
def test_regex_rules_run_on_re2_or_are_refused(source: str, short: list[str], long: list[str]) -> None:
    pattern = compiled(source)
    if isinstance(pattern, str):
        assert pattern.startswith("bad regular expression")
        return
    assert isinstance(pattern.regex, LinearRegex)
    for name in short:
        # `$` and `\Z` differ before a final newline, which short names never have.
        expected = python_fullmatch(source, name)
        if expected is not None:
            assert pattern.matches(name) is expected, (source, name)
    for name in long:
        pattern.matches(name)  # linear in the name: ends, whatever the pattern


@examples(ci_cap=300)
@given(source=patterns, names=st.lists(hostile_names, min_size=1, max_size=3))
def test_a_rule_file_of_hostile_regexes_loads_or_is_located(source: str, names: list[str]) -> None:
    text = f"rules:\n  - name: r\n    match:\n      task_name: {'re:' + source!r}\n    channel: '#ops'\n"
    ruleset = loaded(text)
    if isinstance(ruleset, list):
        assert [problem for problem in ruleset if not problem.startswith("r.yaml:4: ")] == []
        return
    for name in names:
        ruleset.rules[0].matcher.matches_details(
            ScheduledTask(id="t", task_name=name, last_status="FAIL"), "p"
        )


# -- alias-heavy YAML ---------------------------------------------------------------------------------------


def alias_chain(fan_outs: list[int], mappings: list[bool], cycle: bool) -> tuple[str, int]:
    """A document of anchors a0..aN, each naming the one before `fan_outs[i]` times (as a sequence, or as a
    mapping's values), then `x: *aN`; and how many nodes its aliases add (expanded minus distinct)."""
    lines = ["a0: &a0 [lol]"]
    size = [2]  # a0: a sequence and its scalar
    distinct = 1 + 1 + 2  # the root, a0's key, a0's nodes
    for level, (fan_out, mapping) in enumerate(zip(fan_outs, mappings, strict=True), start=1):
        previous = f"*a{level - 1}"
        if mapping:
            body = "{" + ", ".join(f"k{i}: {previous}" for i in range(fan_out)) + "}"
            size.append(1 + fan_out * (1 + size[-1]))
            distinct += 1 + fan_out  # the mapping, its keys
        else:
            body = "[" + ", ".join([previous] * fan_out) + "]"
            size.append(1 + fan_out * size[-1])
            distinct += 1
        if cycle and level == len(fan_outs):
            body = body[:-1] + f", *a{level}" + body[-1]  # names itself: the cycle
        lines.append(f"a{level}: &a{level} {body}")
        distinct += 1  # its key
    lines.append(f"x: *a{len(fan_outs)}")
    distinct += 1  # the key x
    expanded = 1 + sum(1 + each for each in size) + 1 + size[-1]
    return "\n".join(lines) + "\n", expanded - distinct


chains = st.integers(1, 12).flatmap(
    lambda levels: st.tuples(
        st.lists(st.integers(1, 9), min_size=levels, max_size=levels),
        st.lists(st.booleans(), min_size=levels, max_size=levels),
        st.booleans(),
    )
)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def refusal(added: int, cycle: bool) -> str | None:
    if cycle:
        return "an alias refers to a node that contains it"
    if added > ALIAS_EXPANSION_LIMIT:
        return f"aliases expand this document by more than {ALIAS_EXPANSION_LIMIT:,} nodes"
    return None


@examples(ci_cap=1000)
@given(chain=chains)
def test_alias_heavy_rule_files_are_refused_exactly_past_the_limit(
    chain: tuple[list[int], list[bool], bool],
) -> None:
    text, added = alias_chain(*chain)
    expected = refusal(added, chain[2])
    problems = loaded(text + "rules: [{name: r, channel: '#ops'}]\n")
    assert isinstance(problems, list), "unknown keys a0.. must be refused"
    assert len(problems) <= MAX_PROBLEMS + 1
    if expected is not None:
        assert len(problems) == 1
        assert expected in problems[0]
    else:
        assert not any("alias" in problem for problem in problems), problems


@examples(ci_cap=500, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chain=chains)
def test_alias_heavy_configs_are_refused_exactly_past_the_limit(
    folder: Path, chain: tuple[list[int], list[bool], bool]
) -> None:
    text, added = alias_chain(*chain)
    expected = refusal(added, chain[2])
    path = folder / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})  # a0.. are unknown settings
    problems = caught.value.problems
    if expected is not None:
        assert len(problems) == 1
        assert expected in problems[0]
    else:
        assert not any("alias" in problem for problem in problems), problems


# -- duplicate keys in the config ---------------------------------------------------------------------------

CONFIG_LINES = [
    "workspace:",
    "  region: cn-north-4",
    "  project_id: p-1",
    "  poll_interval: 60s",
    "  concurrency: 4",
    "state:",
    "  url: sqlite:///tmp/never-opened.db",
    "  lease: 10s",
    "slack:",
    "  mode: none",
    "  default_channel: '#ops'",
    "  admins: [U0ADMIN1]",
    "metrics:",
    "  listen: 9464",
    "rules: rules.yaml",
]


@examples(ci_cap=500, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_config_key_written_twice_is_refused_at_its_line(folder: Path, data: st.DataObject) -> None:
    repeated = data.draw(st.integers(0, len(CONFIG_LINES) - 1))
    line = CONFIG_LINES[repeated]
    nested = line.startswith("  ")
    # Where the copy may go: later in the same section for a nested key, anywhere at the top level else.
    section_end = next(
        (i for i in range(repeated + 1, len(CONFIG_LINES)) if not CONFIG_LINES[i].startswith("  ")),
        len(CONFIG_LINES),
    )
    places = range(repeated + 1, section_end + 1) if nested else [section_end, len(CONFIG_LINES)]
    place = data.draw(st.sampled_from(list(places)))
    # A section written again is written empty: still a duplicate.
    copy = line + " {}" if line.endswith(":") else line
    lines = [*CONFIG_LINES[:place], copy, *CONFIG_LINES[place:]]
    assume(lines != CONFIG_LINES)
    path = folder / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    key = line.strip().split(":")[0]
    assert (
        f"{path}:{place + 1}: duplicate key '{key}' (first on line {repeated + 1})" in caught.value.problems
    )
