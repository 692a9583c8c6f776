"""Rule files written to hurt: whatever they hold, loading ends soon with a short list of `file:line`s.

Alias bombs (a 1 KB "billion laughs"), aliases that contain themselves, nesting deeper than the parser's
recursion, and files with thousands of mistakes (issue 20, item 8); rules directories with entries that
are not files or that lead elsewhere (item 17); regular expressions that backtrack for
ever, overflow or recurse (items 2 and 14): `re:` patterns run on RE2, in time linear in the name.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.rules.index import match
from monitor.rules.load import MAX_PROBLEMS, MAX_RULE_FILE_BYTES, RuleFileError, load_rules, load_rules_text
from monitor.rules.patterns import LinearRegex, NamePattern
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
    (pattern,) = ruleset.rules[0].matcher.get("task_name")
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


# A rules directory (item 17): nothing is skipped silently, and nothing outside it is quoted.

GOOD = 'rules:\n  - name: {name}\n    match: {{task_name: "{name}-*"}}\n    channel: "#ops"\n'


def directory_problems(directory: Path) -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        load_rules(directory)
    return caught.value.problems


def test_a_directory_reads_yml_files_too(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD.format(name="a"))
    (tmp_path / "b.yml").write_text(GOOD.format(name="b"))
    assert [rule.name for rule in load_rules(tmp_path).rules] == ["a", "b"]


def test_a_broken_symbolic_link_is_a_problem_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD.format(name="a"))
    (tmp_path / "b.yaml").symlink_to(tmp_path / "gone.yaml")
    assert directory_problems(tmp_path) == [
        f"{tmp_path / 'b.yaml'}: a broken symbolic link: what it points to does not exist"
    ]


def test_a_loop_of_symbolic_links_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    assert directory_problems(tmp_path) == [
        f"{tmp_path / 'a.yaml'}: a loop of symbolic links",
        f"{tmp_path / 'b.yaml'}: a loop of symbolic links",
    ]


def test_a_directory_or_a_fifo_named_like_a_rule_file_is_a_problem_not_a_hang(tmp_path: Path) -> None:
    """A FIFO would block the read for ever (a reload thread, or `check`, stuck)."""
    (tmp_path / "a.yaml").mkdir()
    os.mkfifo(tmp_path / "b.yaml")
    assert directory_problems(tmp_path) == [
        f"{tmp_path / 'a.yaml'}: a directory: a rule file must be a regular file",
        f"{tmp_path / 'b.yaml'}: not a regular file: a rule file must be a regular file",
    ]


def test_a_link_out_of_the_directory_to_a_rule_file_is_followed(tmp_path: Path) -> None:
    shared, rules = tmp_path / "shared.yaml", tmp_path / "rules"
    shared.write_text(GOOD.format(name="shared"))
    rules.mkdir()
    (rules / "shared.yaml").symlink_to(shared)
    assert [rule.name for rule in load_rules(rules).rules] == ["shared"]


def test_a_link_out_of_the_directory_never_has_its_content_quoted(tmp_path: Path) -> None:
    """Problems go to the terminal and, on SIGHUP, to the logs: a link to a secret must not leak it."""
    secret, rules = tmp_path / "secret", tmp_path / "rules"
    secret.write_text("root:$6$hash-of-the-password:19000:0:99999:7:::\nrules: s3cr3t-value\n")
    rules.mkdir()
    (rules / "a.yaml").symlink_to(secret)
    (problem,) = directory_problems(rules)
    assert problem.startswith(f"{rules / 'a.yaml'}:1: not a valid rule file (problems on lines 1")
    for secret_part in ("hash-of-the-password", "s3cr3t", "19000"):
        assert secret_part not in problem


def test_a_link_out_of_the_directory_to_a_device_is_refused_unread(tmp_path: Path) -> None:
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    assert directory_problems(tmp_path) == [
        f"{tmp_path / 'zero.yaml'}: not a regular file: a rule file must be a regular file"
    ]


def test_a_huge_file_is_refused_unread(tmp_path: Path) -> None:
    with (tmp_path / "big.yaml").open("wb") as sparse:
        sparse.truncate(MAX_RULE_FILE_BYTES + 1)
    (problem,) = directory_problems(tmp_path)
    assert problem.startswith(f"{tmp_path / 'big.yaml'}: 16,777,217 bytes: larger than a rule file can be")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_is_a_problem_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD.format(name="a"))
    (tmp_path / "a.yaml").chmod(0)
    assert directory_problems(tmp_path) == [f"{tmp_path / 'a.yaml'}: cannot read: Permission denied"]


def test_a_named_rule_file_that_is_a_device_is_refused_unread(tmp_path: Path) -> None:
    """`rules: /dev/zero` read until the memory ran out."""
    assert directory_problems(Path("/dev/zero")) == [
        "/dev/zero: not a regular file: a rule file must be a regular file"
    ]
