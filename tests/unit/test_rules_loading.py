"""Rule files load strictly: every problem is reported at once, each as `file:line: problem`.

The texts are YAML string literals (as Alertmanager's config tests do); line numbers in expectations count
from the first line of the literal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.rules.load import RuleFileError, compile_match, load_rules, load_rules_text
from monitor.rules.matcher import MATCH_KEYS, MatchKey
from monitor.rules.schema import rule_file_json_schema
from monitor.silences import SilenceOrigin

REPO = Path(__file__).resolve().parents[2]


def problems_of(text: str, filename: str = "r.yaml") -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        load_rules_text(text, filename)
    return caught.value.problems


def test_a_rule_with_every_key() -> None:
    ruleset = load_rules_text(
        """\
rules:
  - name: prod-reboots
    match:
      last_status: [FAIL, SKIP]
      task_type: REBOOT
      scheduled_type: [DAY, WEEK]
      task_name: "prod-*"
      id: [t-1, t-2]
      enable: true
      priority: {min: 1, max: 5}
      project: p-1
    channel: "#desktop-ops"
    severity: critical
    repeat_interval: 1h30m
    notify_resolved: false
    continue: true
    group_by: [task_type, project]
    mention: "<!subteam^S0123|@oncall> @lead"
    min_failures: 2
""",
        "r.yaml",
    )
    (rule,) = ruleset.rules
    assert rule.name == "prod-reboots"
    assert str(rule.location) == "r.yaml:2"
    assert rule.channel == "#desktop-ops"
    assert rule.severity == "critical"
    assert rule.repeat_interval == timedelta(hours=1, minutes=30)
    assert rule.notify_resolved is False
    assert rule.continue_matching is True
    assert rule.group_by == ("task_type", "project")
    assert rule.mention == "<!subteam^S0123|@oncall> @lead"
    assert rule.min_failures == 2
    assert rule.matcher.to_spec() == {
        "last_status": ["FAIL", "SKIP"],
        "task_type": ["REBOOT"],
        "scheduled_type": ["DAY", "WEEK"],
        "task_name": ["prod-*"],
        "id": ["t-1", "t-2"],
        "enable": True,
        "priority": [{"min": 1, "max": 5}],
        "project": ["p-1"],
    }


def test_defaults() -> None:
    (rule,) = load_rules_text("rules:\n  - name: everything\n").rules
    assert rule.matcher.to_spec() == {}, "no match: every failing task"
    assert rule.channel is None, "the configured default channel"
    assert rule.severity == "warning"
    assert rule.repeat_interval == timedelta(hours=4)
    assert rule.notify_resolved is True
    assert rule.continue_matching is False
    assert rule.group_by == ()
    assert rule.mention is None
    assert rule.min_failures == 1


@pytest.mark.parametrize(
    ("priority", "spec"),
    [
        pytest.param("3", [{"min": 3, "max": 3}], id="one number"),
        pytest.param("[1, 4]", [{"min": 1, "max": 1}, {"min": 4, "max": 4}], id="list of numbers"),
        pytest.param("{min: 2}", [{"min": 2}], id="open range"),
        pytest.param("[{max: 2}, 9]", [{"max": 2}, {"min": 9, "max": 9}], id="ranges and numbers"),
    ],
)
def test_priority_forms(priority: str, spec: list[dict[str, int]]) -> None:
    (rule,) = load_rules_text(f"rules:\n  - name: p\n    match:\n      priority: {priority}\n").rules
    assert rule.matcher.to_spec() == {"priority": spec}


def test_silences_in_the_rule_file() -> None:
    ruleset = load_rules_text(
        """\
rules:
  - name: a
silences:
  - match: {task_name: "lab-*"}
    rule: a
    until: 2026-12-31T00:00:00Z
    comment: lab desktops are rebuilt by hand
""",
        "r.yaml",
    )
    (silence,) = ruleset.silences
    assert silence.id == "r.yaml:4"
    assert silence.until == datetime(2026, 12, 31, tzinfo=UTC)
    assert silence.rules == frozenset({"a"})
    assert silence.comment == "lab desktops are rebuilt by hand"
    assert silence.origin is SilenceOrigin.RULE_FILE


# One problem per case: the rule file text, and the line and message expected for it.
RULE_PROBLEMS = [
    pytest.param(
        "rules:\n  - name: a\n    chanel: '#x'\n",
        "r.yaml:3: rule 'a': unknown key 'chanel' (did you mean channel?)",
        id="unknown rule key",
    ),
    pytest.param(
        "rules:\n  - name: a\n    match:\n      task-type: STOP\n",
        "r.yaml:4: rule 'a': match: unknown key 'task-type' (did you mean task_type?)",
        id="unknown match key",
    ),
    pytest.param(
        "rule:\n  - name: a\n",
        "r.yaml:1: unknown key 'rule' (did you mean rules?)",
        id="unknown top-level key",
    ),
    pytest.param(
        "rules:\n  - name: a\n    match:\n      task_type: [REBOOT, REBOT]\n",
        "r.yaml:4: rule 'a': match.task_type: 'REBOT' is not one of START, STOP, REBOOT, HIBERNATE, REBUILD, "
        "EXECUTE_SCRIPT, CREATE_SNAPSHOT, DELETE_BLACK_ECS (did you mean REBOOT?)",
        id="unknown enum value",
    ),
    pytest.param(
        "rules:\n  - name: a\n    match:\n      last_status: SUCCESS\n",
        "r.yaml:4: rule 'a': match.last_status: SUCCESS never alerts",
        id="last_status SUCCESS never matches",
    ),
    pytest.param(
        "rules:\n  - name: a\n    match:\n      task_type: []\n",
        "r.yaml:4: rule 'a': match.task_type: an empty list matches nothing",
        id="empty list",
    ),
    pytest.param(
        "rules:\n  - name: a\n    match:\n      task_type:\n",
        "r.yaml:4: rule 'a': match.task_type: no value: give one, or remove the key",
        id="key without a value",
    ),
    pytest.param(
        "rules:\n  - name: a\n    match:\n      priority: {min: 5, max: 1}\n",
        "r.yaml:4: rule 'a': match.priority: min 5 is greater than max 1: nothing can match",
        id="min above max",
    ),
    pytest.param(
        "rules:\n  - name: a\n    match:\n      priority: {}\n",
        "r.yaml:4: rule 'a': match.priority: a priority range needs min, max or both",
        id="empty range",
    ),
    pytest.param(
        "rules:\n  - name: a\n    match:\n      priority: '1..5'\n",
        "r.yaml:4: rule 'a': match.priority: priority is a number, {min: N, max: M}, or a list of those",
        id="priority as text",
    ),
    pytest.param(
        "rules:\n  - name: a\n    match:\n      enable: false\n",
        "r.yaml:4: rule 'a': match.enable: disabled tasks never alert",
        id="enable false never matches",
    ),
    pytest.param(
        "rules:\n  - name: a\n    match:\n"
        "      scheduled_type: DAY\n      life_cycle_type: POST_DESKTOP_DISCONNECTED\n",
        "r.yaml:5: rule 'a': match.life_cycle_type: only LIFE_CYCLE tasks have a life_cycle_type",
        id="life_cycle_type without LIFE_CYCLE",
    ),
    pytest.param(
        "rules:\n  - name: a\n    match:\n      task_name: 're:prod-('\n",
        "r.yaml:4: rule 'a': match.task_name: bad regular expression 'prod-(': missing )",
        id="bad regex",
    ),
    pytest.param(
        "rules:\n  - name: a\n    match:\n      task_name: ''\n",
        "r.yaml:4: rule 'a': match.task_name: an empty task_name matches nothing",
        id="empty name pattern",
    ),
    pytest.param(
        "rules:\n  - name: a\n    match:\n      task_name: 12\n",
        "r.yaml:4: rule 'a': match.task_name: expected text, got the number 12 (quote it)",
        id="number where text is due",
    ),
    pytest.param(
        "rules:\n  - name: a\n    repeat_interval: 30\n",
        "r.yaml:3: rule 'a': repeat_interval: 30 has no unit: write 30s, 30m, 30h or 30d",
        id="duration without unit",
    ),
    pytest.param(
        "rules:\n  - name: a\n    repeat_interval: often\n",
        "r.yaml:3: rule 'a': repeat_interval: 'often' is not a duration",
        id="bad duration",
    ),
    pytest.param(
        "rules:\n  - name: a\n    severity: urgent\n",
        "r.yaml:3: rule 'a': severity: 'urgent' is not one of critical, warning, info",
        id="bad severity",
    ),
    pytest.param(
        "rules:\n  - name: a\n    continue: 1\n",
        "r.yaml:3: rule 'a': continue: expected true or false, got the number 1",
        id="number where a boolean is due",
    ),
    pytest.param(
        "rules:\n  - name: a\n    min_failures: 0\n",
        "r.yaml:3: rule 'a': min_failures: Input should be greater than or equal to 1",
        id="min_failures below one",
    ),
    pytest.param(
        "rules:\n  - name: a\n    channel: '#Desktop Ops'\n",
        "r.yaml:3: rule 'a': channel: '#Desktop Ops' is not a Slack channel",
        id="bad channel",
    ),
    pytest.param(
        "rules:\n  - name: a\n    mention: 'oncall'\n",
        "r.yaml:3: rule 'a': mention: 'oncall' is not a Slack mention",
        id="bad mention",
    ),
    pytest.param(
        "rules:\n  - name: a\n    group_by: [task_type, colour]\n",
        "r.yaml:3: rule 'a': group_by: 'colour' is not one of",
        id="unknown group_by field",
    ),
    pytest.param(
        "rules:\n  - name: 'prod reboots'\n",
        "r.yaml:2: rule 'prod reboots': name: 'prod reboots' is not a rule name",
        id="bad rule name",
    ),
    pytest.param(
        "rules:\n  - channel: '#x'\n",
        "r.yaml:2: rules[0]: name: missing (required)",
        id="rule without a name",
    ),
    pytest.param(
        "rules:\n  - name: a\n    match: {task_type: STOP}\n  - name: a\n",
        "r.yaml:4: rule name 'a' is already used at r.yaml:2",
        id="duplicate rule name",
    ),
    pytest.param(
        "rules:\n  - name: a\n    channel: '#x'\n    channel: '#y'\n",
        "r.yaml:4: duplicate key 'channel' (first on line 3)",
        id="duplicate key",
    ),
    pytest.param(
        "rules:\n  - name: all\n  - name: reboots\n    match: {task_type: REBOOT}\n",
        "r.yaml:3: rule 'reboots' can never match: rule 'all' (r.yaml:2) comes first",
        id="shadowed by a catch-all",
    ),
    pytest.param(
        "rules:\n  - name: fail\n    match: {last_status: FAIL}\n"
        "  - name: fail-stop\n    match: {last_status: FAIL, task_type: STOP}\n",
        "r.yaml:4: rule 'fail-stop' can never match: rule 'fail' (r.yaml:2) comes first",
        id="shadowed by a wider rule",
    ),
    pytest.param(
        "rules:\n  - name: a\n    match: [REBOOT]\n",
        "r.yaml:3: rule 'a': match: expected a mapping (key: value), got a list",
        id="match is not a mapping",
    ),
    pytest.param(
        "rules:\n  name: a\n",
        "r.yaml:1: rules: expected a list, got a mapping",
        id="rules is not a list",
    ),
]


@pytest.mark.parametrize(("text", "problem"), RULE_PROBLEMS)
def test_each_problem_is_reported_at_its_line(text: str, problem: str) -> None:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    assert problems[0].startswith(problem), problems[0]


SILENCE_PROBLEMS = [
    pytest.param(
        "  - match: {}\n    until: 2026-12-31T00:00:00Z\n    comment: x\n",
        "r.yaml:4: silences[0]: match: a silence needs at least one match key",
        id="empty match",
    ),
    pytest.param(
        "  - match: {task_name: 'lab-*'}\n    until: 2026-12-31T00:00:00\n    comment: x\n",
        "r.yaml:5: silences[0]: until: expected a date and time with a zone, like 2026-12-31T00:00:00Z",
        id="until without a zone",
    ),
    pytest.param(
        "  - match: {task_name: 'lab-*'}\n    until: 2026-12-31\n    comment: x\n",
        "r.yaml:5: silences[0]: until: expected a date and time with a zone",
        id="until is a date",
    ),
    pytest.param(
        "  - match: {task_name: 'lab-*'}\n    until: 2026-12-31T00:00:00Z\n",
        "r.yaml:4: silences[0]: comment: missing (required)",
        id="no comment",
    ),
    pytest.param(
        "  - match: {task_name: 'lab-*'}\n    rule: b\n    until: 2026-12-31T00:00:00Z\n    comment: x\n",
        "r.yaml:5: silence names rule 'b', which does not exist",
        id="unknown rule",
    ),
    pytest.param(
        "  - match: {task_type: REBOT}\n    until: 2026-12-31T00:00:00Z\n    comment: x\n",
        "r.yaml:4: silences[0]: match.task_type: 'REBOT' is not one of",
        id="unknown enum value",
    ),
]


@pytest.mark.parametrize(("silence", "problem"), SILENCE_PROBLEMS)
def test_each_silence_problem_is_reported_at_its_line(silence: str, problem: str) -> None:
    problems = problems_of("rules:\n  - name: a\nsilences:\n" + silence)
    assert len(problems) == 1, problems
    assert problems[0].startswith(problem), problems[0]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("", "r.yaml:1: empty rule file", id="empty"),
        pytest.param("# only a comment\n", "r.yaml:1: empty rule file", id="only comments"),
        pytest.param("rules:\n\t- name: a\n", "r.yaml:2: invalid YAML: a tab character", id="tab indented"),
        pytest.param("rules: [\n  - name: a\n", "r.yaml:2: invalid YAML:", id="not YAML"),
        pytest.param("- name: a\n", "r.yaml:1: a rule file is a mapping", id="a list"),
        pytest.param("just words\n", "r.yaml:1: a rule file is a mapping", id="plain text"),
        pytest.param("rules: []\n", "r.yaml:1: no rules: nothing would ever alert", id="no rules"),
        pytest.param("a: 1\n---\nb: 2\n", "r.yaml:2: invalid YAML:", id="two documents"),
    ],
)
def test_unusable_files_give_a_line_not_a_traceback(text: str, problem: str) -> None:
    assert problems_of(text)[0].startswith(problem)


def test_every_problem_at_once_in_line_order() -> None:
    text = """\
rules:
  - name: a
    severity: urgent
    match:
      task_type: REBOT
  - name: a
    repeat_interval: soon
silences:
  - match: {task_name: "lab-*"}
    until: 2026-12-31
    comment: x
"""
    lines = [int(problem.split(":")[1]) for problem in problems_of(text)]
    assert lines == [3, 5, 6, 7, 10]


def test_load_rules_reads_a_directory_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "20-later.yaml").write_text("rules:\n  - name: later\n")
    (tmp_path / "10-first.yaml").write_text("rules:\n  - name: first\n    match: {task_type: STOP}\n")
    (tmp_path / "notes.txt").write_text("not rules")
    (tmp_path / ".#10-first.yaml").write_text("an editor's lock file")
    ruleset = load_rules(tmp_path)
    assert [rule.name for rule in ruleset.rules] == ["first", "later"]
    assert ruleset.files == (str(tmp_path / "10-first.yaml"), str(tmp_path / "20-later.yaml"))


def test_a_file_of_only_silences_is_fine_in_a_directory(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text("rules:\n  - name: a\n")
    (tmp_path / "silences.yaml").write_text(
        "silences:\n  - match: {id: t-1}\n    rule: a\n    until: 2026-01-01T00:00:00Z\n    comment: x\n"
    )
    assert len(load_rules(tmp_path).silences) == 1


def test_duplicate_names_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("rules:\n  - name: same\n    match: {task_type: STOP}\n")
    (tmp_path / "b.yaml").write_text(
        "rules:\n  - name: other\n    match: {task_type: START}\n  - name: same\n"
    )
    with pytest.raises(RuleFileError) as caught:
        load_rules(tmp_path)
    assert caught.value.problems == [
        f"{tmp_path / 'b.yaml'}:4: rule name 'same' is already used at {tmp_path / 'a.yaml'}:2"
    ]


def test_problems_of_several_files_come_together(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("rules:\n  - name: a\n    severity: loud\n")
    (tmp_path / "b.yaml").write_text("rules:\n\t- name: b\n")
    with pytest.raises(RuleFileError) as caught:
        load_rules(tmp_path)
    assert [p.split(": ")[0] for p in caught.value.problems] == [
        f"{tmp_path / 'a.yaml'}:3",
        f"{tmp_path / 'b.yaml'}:2",
    ]


@pytest.mark.parametrize(
    ("setup", "problem"),
    [
        pytest.param(
            lambda d: d / "missing.yaml", "missing.yaml: no such file or directory", id="missing file"
        ),
        pytest.param(lambda d: d, "no *.yaml or *.yml rule files in this directory", id="empty directory"),
    ],
)
def test_unreadable_paths(tmp_path: Path, setup: Callable[[Path], Path], problem: str) -> None:
    with pytest.raises(RuleFileError, match=re.escape(problem)):
        load_rules(setup(tmp_path))


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("rules:\n  - name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(RuleFileError, match=r"latin1\.yaml: not UTF-8 text"):
        load_rules(path)


def test_the_shipped_example_loads_cleanly() -> None:
    ruleset = load_rules(REPO / "rules" / "example.yaml")
    assert len(ruleset.rules) >= 5
    assert ruleset.silences


def test_compile_match_for_runtime_silences() -> None:
    matcher = compile_match({"id": "t-1", "task_type": ["STOP"]}, where="/tasks silence")
    assert matcher.to_spec() == {"id": ["t-1"], "task_type": ["STOP"]}
    assert compile_match(matcher.to_spec(), where="again") == matcher


def test_compile_match_reports_problems_with_its_origin() -> None:
    with pytest.raises(RuleFileError) as caught:
        compile_match({"task_type": "REBOT", "colour": "red"}, where="stored silence s1")
    assert caught.value.problems == [
        "stored silence s1: match.task_type: 'REBOT' is not one of START, STOP, REBOOT, HIBERNATE, REBUILD, "
        "EXECUTE_SCRIPT, CREATE_SNAPSHOT, DELETE_BLACK_ECS (did you mean REBOOT?)",
        "stored silence s1: match.colour: unknown key 'colour'",
    ]


class TestJsonSchema:
    """The schema comes from the models that validate, so it describes exactly what loads."""

    def test_top_level(self) -> None:
        schema = rule_file_json_schema()
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert set(schema["properties"]) == {"rules", "silences", "time_intervals"}
        assert schema["additionalProperties"] is False

    def test_rule_keys_and_defaults(self) -> None:
        rule = rule_file_json_schema()["$defs"]["RuleModel"]
        assert rule["required"] == ["name"]
        assert rule["additionalProperties"] is False
        assert set(rule["properties"]) == {
            "name", "match", "channel", "severity", "repeat_interval", "notify_resolved", "continue",
            "group_by", "mention", "min_failures", "pagerduty", "runbook_url", "overdue_after",
            "mute_time_intervals", "active_time_intervals",
        }  # fmt: skip
        assert rule["properties"]["repeat_interval"]["default"] == "4h"

    def test_a_match_key_takes_a_value_or_a_list(self) -> None:
        task_type = rule_file_json_schema()["$defs"]["MatchModel"]["properties"]["task_type"]
        one, many = task_type["anyOf"]
        assert "REBOOT" in one["enum"]
        assert many["type"] == "array"
        assert many["minItems"] == 1

    def test_the_match_keys_are_the_table_s_with_its_docs(self) -> None:
        keys = rule_file_json_schema()["$defs"]["MatchModel"]["properties"]
        assert list(keys) == [key.name for key in MATCH_KEYS]
        assert [keys[key.name]["description"] for key in MATCH_KEYS] == [key.doc for key in MATCH_KEYS]

    def test_no_key_offers_null(self) -> None:
        assert '"null"' not in str(rule_file_json_schema()).replace("'", '"')

    @pytest.mark.parametrize("duration", ["30s", "15m", "4h", "1d", "1h30m"])
    def test_duration_pattern_accepts_what_the_loader_accepts(self, duration: str) -> None:
        pattern = rule_file_json_schema()["$defs"]["RuleModel"]["properties"]["repeat_interval"]["anyOf"][0]
        assert re.fullmatch(pattern["pattern"], duration)


@pytest.mark.parametrize("key", MATCH_KEYS, ids=lambda key: key.name)
def test_the_docs_name_every_match_key_and_its_values(key: MatchKey) -> None:
    """The README's rule file table and the example file's list of match keys (the JSON Schema is derived from
    the table itself)."""
    root = Path(__file__).parents[2]
    readme_row = next(
        line for line in (root / "README.md").read_text().splitlines() if line.startswith("| `match` |")
    )
    assert f"`{key.name}`" in readme_row
    example = (root / "rules" / "example.yaml").read_text()
    listed = example[example.index("# Match keys") : example.index("\nrules:")]
    assert f"#   {key.name} " in listed
    assert all(value in listed for value in key.values)
