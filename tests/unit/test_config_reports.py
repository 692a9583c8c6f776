"""`reports:` in the config: each report's name, channel, cron schedule and zone checked at load, problems
reported at their file:line like every other setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, load_settings


def load(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "config.yaml"
    path.write_text("workspace:\n  project_id: abc\nreports:\n" + text)
    try:
        load_settings(path, {})
    except ConfigError as exc:
        return [problem.replace(str(path), "config.yaml") for problem in exc.problems]
    return []


def test_a_report_reads(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "reports:\n  - name: weekly\n    channel: '#desktop-ops'\n    schedule: '0 9 * * mon'\n"
        "    zone: Europe/Berlin\n    days: 7\n    scope: {rules: [prod], tasks: ['prod-*']}\n"
    )
    [report] = load_settings(path, {}).reports
    assert (report.name, report.schedule, report.zone, report.scope.tasks) == (
        "weekly", "0 9 * * mon", "Europe/Berlin", ("prod-*",)
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(
            "  - name: w\n    channel: '#ops'\n    schedule: '0 25 * * *'\n",
            "config.yaml:6: reports.0.schedule: '0 25 * * *' is not a cron schedule",
            id="an hour past 23",
        ),
        pytest.param(
            "  - name: w\n    channel: '#ops'\n    schedule: 'daily'\n",
            "config.yaml:6: reports.0.schedule: 'daily' is not a cron schedule: write five fields",
            id="not five fields",
        ),
        pytest.param(
            "  - name: w\n    channel: '#ops'\n    schedule: '* * * * *'\n",
            "config.yaml:6: reports.0.schedule: '* * * * *' fires more than once an hour (00:00 and 00:01)",
            id="every minute",
        ),
        pytest.param(
            "  - name: w\n    channel: '#ops'\n    schedule: '0,30 9 * * mon'\n",
            "config.yaml:6: reports.0.schedule: '0,30 9 * * mon' fires more than once an hour "
            "(09:00 and 09:30)",
            id="twice in an hour on mondays",
        ),
        pytest.param(
            "  - name: w\n    channel: '#ops'\n    schedule: '*/10 9 15 * *'\n",
            "config.yaml:6: reports.0.schedule: '*/10 9 15 * *' fires more than once an hour",
            id="every ten minutes on one day of the month",
        ),
        pytest.param(
            "  - name: w\n    channel: '#ops'\n    schedule: '0 9 * * *'\n    scope:\n      tasks: ["
            + ", ".join(f"'p{i}-*'" for i in range(101))
            + "]\n",
            "config.yaml:8: reports.0.scope.tasks: Tuple should have at most 100 items",
            id="101 task globs (every task is tried against every glob)",
        ),
        pytest.param(
            "  - name: w\n    channel: '#ops'\n    schedule: '0 9 * * *'\n    scope:\n      tasks: ['"
            + "*" * 201
            + "']\n",
            "config.yaml:8: reports.0.scope.tasks.0: String should have at most 200 characters",
            id="a glob of 201 characters",
        ),
        pytest.param(
            "  - name: w\n    channel: '#ops'\n    schedule: '0 0 31 2 *'\n",
            "config.yaml:6: reports.0.schedule: '0 0 31 2 *' never fires (no such date)",
            id="the 31st of February",
        ),
        pytest.param(
            "  - name: w\n    channel: '#ops'\n    schedule: '0 9 * * *'\n    zone: Mars/Base\n",
            "config.yaml:7: reports.0.zone: 'Mars/Base' is not a time zone",
            id="an unknown zone",
        ),
        pytest.param(
            "  - name: w\n    channel: 'Ops Room'\n    schedule: '0 9 * * *'\n",
            "config.yaml:5: reports.0.channel: 'Ops Room' is not a Slack channel",
            id="not a channel",
        ),
        pytest.param(
            "  - name: w\n    channel: '#a'\n    schedule: '0 9 * * *'\n"
            "  - name: w\n    channel: '#b'\n    schedule: '0 9 * * *'\n",
            "config.yaml:3: reports: report names must differ: w more than once",
            id="two reports of one name",
        ),
    ],
)
def test_a_wrong_report_is_refused_at_its_line(tmp_path: Path, text: str, problem: str) -> None:
    [found] = load(tmp_path, text)
    assert found.startswith(problem), found


def test_a_report_scoped_to_an_unknown_rule_is_refused_at_its_line(tmp_path: Path) -> None:
    """It would count nothing: `check` and `run` refuse it (runtime.load_all), at the name's line."""
    from monitor.runtime import LoadError, load_all

    (tmp_path / "rules.yaml").write_text('rules:\n  - name: prod\n    channel: "#ops"\n')
    path = tmp_path / "config.yaml"
    path.write_text(
        "workspace:\n  project_id: abc\nrules: rules.yaml\nreports:\n  - name: w\n    channel: '#ops'\n"
        "    schedule: '0 9 * * *'\n    scope:\n      rules:\n        - prod\n        - prdo\n"
    )
    with pytest.raises(LoadError) as refused:
        load_all(path)
    assert refused.value.problems == [
        f"{path}:11: reports.0.scope.rules: no rule named 'prdo' (the rules: prod)"
    ]


@pytest.mark.parametrize(
    "schedule", ["0 * * * *", "0 9 * * mon", "0 9,10 * * *", "0 0 29 2 *", "59 23 31 12 *"]
)
def test_an_hourly_or_rarer_schedule_is_a_report(tmp_path: Path, schedule: str) -> None:
    assert load(tmp_path, f"  - name: w\n    channel: '#ops'\n    schedule: '{schedule}'\n") == []
