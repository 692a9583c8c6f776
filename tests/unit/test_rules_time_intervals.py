"""`time_intervals:` in the rule file (Alertmanager's format), the rules and silences that name them, and
every mistake in them refused at load with `file:line`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.rules.load import RuleFileError, load_rules, load_rules_text
from monitor.rules.schema import rule_file_json_schema
from monitor.timeintervals import DayRange, TimeInterval, TimeRange

REPO = Path(__file__).parents[2]

PATCH_NIGHT = """\
time_intervals:
  - name: patch-night
    time_intervals:
      - times:
          - start_time: 22:00
            end_time: 24:00
        weekdays: [saturday]
        days_of_month: [1:7, -1]
        months: [1:3, december]
        years: [2026:2027]
        location: Europe/Berlin
      - weekdays: [sunday]
rules:
  - name: prod
    mute_time_intervals: [patch-night]
    continue: true
  - name: office
    active_time_intervals: patch-night
silences:
  - match: {task_name: "lab-*"}
    until: 2030-01-01T00:00:00Z
    comment: lab patching
    time_intervals: [patch-night]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as raised:
        load_rules_text(text, "r.yaml")
    return raised.value.problems


def test_a_named_interval_is_compiled_as_alertmanager_reads_it() -> None:
    """Unquoted `22:00` and `1:7` are text, as in Alertmanager, not YAML 1.1's base-60 numbers."""
    ruleset = load_rules_text(PATCH_NIGHT, "r.yaml")
    (patch,) = ruleset.time_intervals
    assert patch.name == "patch-night"
    assert patch.intervals == (
        TimeInterval(
            times=(TimeRange(22 * 60, 24 * 60),),
            weekdays=(DayRange(6, 6),),
            days_of_month=(DayRange(1, 7), DayRange(-1, -1)),
            months=(DayRange(1, 3), DayRange(12, 12)),
            years=(DayRange(2026, 2027),),
            location=ZoneInfo("Europe/Berlin"),
        ),
        TimeInterval(weekdays=(DayRange(0, 0),)),
    )
    assert ruleset.time_interval("patch-night") is patch
    assert ruleset.time_interval("other") is None


def test_rules_and_silences_name_intervals() -> None:
    ruleset = load_rules_text(PATCH_NIGHT, "r.yaml")
    prod, office = ruleset.rules
    assert (prod.mute_time_intervals, prod.active_time_intervals) == (("patch-night",), ())
    assert (office.mute_time_intervals, office.active_time_intervals) == ((), ("patch-night",))
    assert ruleset.silences[0].time_intervals == ("patch-night",)


def test_a_location_is_utc_when_absent() -> None:
    ruleset = load_rules_text(
        "time_intervals:\n  - name: w\n    time_intervals:\n      - weekdays: [monday]\n"
        "rules:\n  - name: r\n",
        "r.yaml",
    )
    assert ruleset.time_intervals[0].intervals[0].location == ZoneInfo("UTC")
    assert ruleset.time_intervals[0].contains(datetime(2026, 3, 2, 0, 0, tzinfo=UTC))


def test_intervals_in_one_file_serve_rules_in_another(tmp_path: Path) -> None:
    (tmp_path / "a-windows.yaml").write_text(
        "time_intervals:\n  - name: w\n    time_intervals:\n      - weekdays: [monday]\n"
    )
    (tmp_path / "b-rules.yaml").write_text("rules:\n  - name: r\n    mute_time_intervals: [w]\n")
    assert load_rules(tmp_path).rules[0].mute_time_intervals == ("w",)


def test_an_interval_name_used_twice_across_files(tmp_path: Path) -> None:
    window = "time_intervals:\n  - name: w\n    time_intervals:\n      - weekdays: [monday]\n"
    (tmp_path / "a.yaml").write_text(window + "rules:\n  - name: r\n")
    (tmp_path / "b.yaml").write_text(window)
    with pytest.raises(RuleFileError) as raised:
        load_rules(tmp_path)
    assert raised.value.problems == [
        f"{tmp_path / 'b.yaml'}:2: time interval name 'w' is already used at {tmp_path / 'a.yaml'}:2"
    ]


@pytest.mark.parametrize(
    ("interval", "problem"),
    [
        pytest.param(
            "      - times: [{start_time: 22:00, end_time: 02:00}]",
            "r.yaml:4: time interval 'w': time_intervals.times: start_time 22:00 is not before end_time "
            "02:00: a range cannot cross midnight, write two (22:00-24:00 and 00:00-02:00)",
            id="a range across midnight",
        ),
        pytest.param(
            "      - times: [{start_time: '2:00', end_time: '03:00'}]",
            "r.yaml:4: time interval 'w': time_intervals.times.start_time: '2:00' is not a time of day: "
            "write HH:MM from 00:00 to 24:00, like 02:00",
            id="a time without two digits",
        ),
        pytest.param(
            "      - times: [{start_time: '02:00'}]",
            "r.yaml:4: time interval 'w': time_intervals.times.end_time: missing (required)",
            id="no end time",
        ),
        pytest.param(
            "      - weekday: [monday]",
            "r.yaml:4: time interval 'w': time_intervals: unknown key 'weekday' (did you mean weekdays?)",
            id="a misspelt key",
        ),
        pytest.param(
            "      - weekdays: [saturday:sunday]",
            "r.yaml:4: time interval 'w': time_intervals.weekdays: 'saturday:sunday': the end weekday comes "
            "before the start (a range cannot wrap: list [saturday, sunday])",
            id="a weekday range that wraps",
        ),
        pytest.param(
            "      - days_of_month: [-1:5]",
            "r.yaml:4: time interval 'w': time_intervals.days_of_month: '-1:5': a range that starts from the "
            "month's end must end there too (-7:-1)",
            id="a negative start and a positive end",
        ),
        pytest.param(
            "      - days_of_month: [32]",
            "r.yaml:4: time interval 'w': time_intervals.days_of_month: '32' is not a day of the month: "
            "use 1 to 31, or -1 (the last day) to -31",
            id="day 32",
        ),
        pytest.param(
            "      - months: [smarch]",
            "r.yaml:4: time interval 'w': time_intervals.months: 'smarch' is not a month: use january ... "
            "december, or 1 to 12",
            id="an unknown month",
        ),
        pytest.param(
            "      - years: [2027:2026]",
            "r.yaml:4: time interval 'w': time_intervals.years: '2027:2026': the end year comes before "
            "the start",
            id="years backwards",
        ),
        pytest.param(
            "      - location: Mars/Olympus",
            "r.yaml:4: time interval 'w': time_intervals.location: 'Mars/Olympus' is not a time zone: use an "
            "IANA name like Europe/Berlin or UTC",
            id="an unknown zone",
        ),
        pytest.param(
            "      - weekdays: []",
            "r.yaml:4: time interval 'w': time_intervals.weekdays: an empty list matches nothing",
            id="an empty list",
        ),
    ],
)
def test_a_bad_interval_is_refused_at_its_line(interval: str, problem: str) -> None:
    text = f"time_intervals:\n  - name: w\n    time_intervals:\n{interval}\nrules:\n  - name: r\n"
    assert problems(text) == [problem]


def test_an_interval_without_time_intervals() -> None:
    assert problems("time_intervals:\n  - name: w\nrules:\n  - name: r\n") == [
        "r.yaml:2: time interval 'w': time_intervals: missing (required)"
    ]


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        pytest.param(
            "rules:\n  - name: r\n    mute_time_intervals: [patch-nite]\n",
            "r.yaml:7: rule 'r' mute_time_intervals: no time interval named 'patch-nite' under "
            "time_intervals: (defined: patch-night) (did you mean patch-night?)",
            id="a rule's mute interval",
        ),
        pytest.param(
            "rules:\n  - name: r\n    active_time_intervals: office-hours\n",
            "r.yaml:7: rule 'r' active_time_intervals: no time interval named 'office-hours' under "
            "time_intervals: (defined: patch-night)",
            id="a rule's active interval",
        ),
        pytest.param(
            "rules:\n  - name: r\nsilences:\n  - match: {task_name: 'lab-*'}\n"
            "    until: 2030-01-01T00:00:00Z\n    comment: c\n    time_intervals: [weekend]\n",
            "r.yaml:11: silence time_intervals: no time interval named 'weekend' under time_intervals: "
            "(defined: patch-night)",
            id="a silence's interval",
        ),
    ],
)
def test_an_unknown_interval_name_is_refused_where_it_is_named(reference: str, problem: str) -> None:
    window = "time_intervals:\n  - name: patch-night\n    time_intervals:\n      - weekdays: [saturday]\n"
    assert problems(window + reference) == [problem]


def test_naming_an_interval_when_none_is_defined() -> None:
    assert problems("rules:\n  - name: r\n    mute_time_intervals: [w]\n") == [
        "r.yaml:3: rule 'r' mute_time_intervals: no time interval named 'w' under time_intervals: "
        "(none is defined)"
    ]


def test_the_shipped_example_has_a_maintenance_window() -> None:
    ruleset = load_rules(REPO / "rules" / "example.yaml")
    assert ruleset.time_intervals
    assert any(rule.mute_time_intervals for rule in ruleset.rules)
    assert any(silence.time_intervals for silence in ruleset.silences)


class TestJsonSchema:
    def test_time_intervals_are_described(self) -> None:
        schema = rule_file_json_schema()
        named = schema["$defs"]["NamedTimeIntervalModel"]
        assert named["required"] == ["name", "time_intervals"]
        interval = schema["$defs"]["TimeIntervalModel"]
        assert set(interval["properties"]) == {
            "times", "weekdays", "days_of_month", "months", "years", "location",
        }  # fmt: skip
        assert interval["additionalProperties"] is False
        times = schema["$defs"]["TimeRangeModel"]
        assert times["required"] == ["start_time", "end_time"]

    def test_rules_and_silences_name_intervals(self) -> None:
        defs = rule_file_json_schema()["$defs"]
        assert {"mute_time_intervals", "active_time_intervals"} <= set(defs["RuleModel"]["properties"])
        assert "time_intervals" in defs["SilenceModel"]["properties"]


def test_the_readme_s_maintenance_window_example_loads() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Maintenance windows") :]
    start = section.index("```yaml\n") + len("```yaml\n")
    example = section[start : section.index("```", start)]
    ruleset = load_rules_text(example, "README.md")
    assert [interval.name for interval in ruleset.time_intervals] == ["patch-night", "office-hours"]
    assert [rule.mute_time_intervals or rule.active_time_intervals for rule in ruleset.rules] == [
        ("patch-night",),
        ("office-hours",),
    ]


@pytest.mark.parametrize(
    ("item", "count", "says"),
    [
        ("      - times: [{start_time: '00:00', end_time: '01:00'}]\n", 101, "at most 100 items"),
        (None, 97, "at most 96 items"),
    ],
)
def test_an_interval_of_more_parts_or_ranges_than_a_window_lookup_takes_is_refused(
    item: str | None, count: int, says: str
) -> None:
    """Every part is looked at by every window lookup (bounded by timeintervals.MAX_WORK): a generated
    interval of thousands of parts or ranges is refused at its line, not walked."""
    if item is not None:
        body = item * count
    else:
        clock = [f"'{m // 60:02d}:{m % 60:02d}'" for m in range(count + 1)]
        ranges = ", ".join(f"{{start_time: {clock[m]}, end_time: {clock[m + 1]}}}" for m in range(count))
        body = f"      - times: [{ranges}]\n"
    text = "time_intervals:\n  - name: many\n    time_intervals:\n" + body
    with pytest.raises(RuleFileError) as refused:
        load_rules_text(text, "r.yaml")
    assert any(says in problem and problem.startswith("r.yaml:") for problem in refused.value.problems), (
        refused.value.problems
    )
