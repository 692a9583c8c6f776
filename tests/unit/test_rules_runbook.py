"""`runbook_url` and `notify_resolved: broadcast` in rule files: templates checked at load (file:line),
rendered with every value URL-escaped so a task's name can neither choose the host nor add a path, query
parameter or fragment."""

from __future__ import annotations

import re
from unittest.mock import patch
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from monitor.rules.load import RuleFileError, load_rules_text
from monitor.rules.runbook import MAX_URL, check_runbook_template, render_runbook

FIELDS = {
    "task_id": "t-1",
    "task_name": "prod-reboot",
    "task_type": "REBOOT",
    "scheduled_type": "DAY",
    "life_cycle_type": None,
    "project": "p-1",
    "rule": "prod",
    "alert_id": "0123456789abcdef",
}


@pytest.mark.parametrize(
    ("template", "name", "url"),
    [
        pytest.param(
            "https://wiki.example.com/rb/{task_type}?task={task_id}",
            "prod-reboot",
            "https://wiki.example.com/rb/REBOOT?task=t-1",
            id="fields in path and query",
        ),
        pytest.param(
            "https://wiki.example.com/rb?name={task_name}",
            "a/b c&d=e#f?g",
            "https://wiki.example.com/rb?name=a%2Fb%20c%26d%3De%23f%3Fg",
            id="reserved characters escaped: no new path, parameter or fragment",
        ),
        pytest.param(
            "https://wiki.example.com/rb/{task_name}",
            "../../admin",
            "https://wiki.example.com/rb/..%2F..%2Fadmin",
            id="a dot-dot name stays one segment",
        ),
        pytest.param(
            "https://wiki.example.com/rb/{task_name}",
            "<!channel> *bold* <https://evil.example|x>",
            "https://wiki.example.com/rb/%3C%21channel%3E%20%2Abold%2A%20%3Chttps%3A%2F%2Fevil.example%7Cx%3E",
            id="mrkdwn and angle brackets escaped",
        ),
        pytest.param(
            "https://wiki.example.com/rb/{task_name}",
            "重启\x00\u202e",
            "https://wiki.example.com/rb/%E9%87%8D%E5%90%AF%00%E2%80%AE",
            id="unicode and control characters percent-encoded",
        ),
        pytest.param(
            "https://wiki.example.com/rb/{task_name}",
            "\ud800x",
            "https://wiki.example.com/rb/%3Fx",
            id="a lone surrogate is replaced, not an error",
        ),
        pytest.param(
            "https://wiki.example.com/rb/{life_cycle_type}/x",
            "n",
            "https://wiki.example.com/rb//x",
            id="a field without a value is empty",
        ),
        pytest.param(
            "https://wiki.example.com/static", "n", "https://wiki.example.com/static", id="no fields"
        ),
    ],
)
def test_render_escapes_each_value(template: str, name: str, url: str) -> None:
    assert render_runbook(check_runbook_template(template), {**FIELDS, "task_name": name}) == url


def test_a_hostile_name_never_changes_the_host_or_the_parameters() -> None:
    url = render_runbook(
        "https://wiki.example.com/rb?name={task_name}&id={task_id}",
        {**FIELDS, "task_name": "x&id=evil@other.example/#frag"},
    )
    assert url is not None
    parts = urlsplit(url)
    assert parts.hostname == "wiki.example.com"
    assert parts.fragment == ""
    assert parse_qs(parts.query) == {"name": ["x&id=evil@other.example/#frag"], "id": ["t-1"]}


def test_rendering_stops_at_the_first_field_past_the_links_limit() -> None:
    """Whatever the template and the values, no more is escaped than a link may hold: a 1,000-character name
    (the client's cut) in a template of 270 fields is given up after the third escape, not after 270."""
    template = "https://wiki.example.com/" + "{task_name}" * 270
    assert len(template) <= MAX_URL
    escaped: list[str] = []

    def counting(value: str, **options: object) -> str:
        escaped.append(value)
        return quote(value, **options)  # type: ignore[arg-type]

    with patch("monitor.rules.runbook.quote", counting):
        assert render_runbook(check_runbook_template(template), {"task_name": "n" * 1000}) is None
        assert render_runbook(template, {"task_name": "x" * 100_000}) is None
    assert len(escaped) == 3


def test_a_url_too_long_for_a_button_is_no_url() -> None:
    """A 3,000-character name would make a link Slack refuses (and the whole message with it)."""
    assert render_runbook("https://wiki.example.com/{task_name}", {"task_name": "x" * MAX_URL}) is None


@pytest.mark.parametrize(
    ("template", "says"),
    [
        pytest.param("http://wiki.example.com/rb", "must be an https:// link", id="http"),
        pytest.param("javascript:alert(1)", "must be an https:// link", id="javascript"),
        pytest.param("wiki.example.com/rb", "must be an https:// link", id="no scheme"),
        pytest.param(
            "https://{project}.example.com/", "must name its host before any {field}", id="host field"
        ),
        pytest.param(
            "https://wiki.example.com{task_id}", "must name its host before any {field}", id="host tail"
        ),
        pytest.param("https:///rb/{task_id}", "must name its host", id="no host"),
        pytest.param(
            "https://wiki.example.com/{taskname}", "unknown field {taskname}: use {task_id}", id="typo"
        ),
        pytest.param("https://wiki.example.com/{task_id", "an unmatched brace", id="brace"),
        pytest.param("https://wiki.example.com/a b", "' ' in a link", id="space"),
        pytest.param('https://wiki.example.com/a"b', "'\"' in a link", id="quote"),
        pytest.param("https://wiki.example.com/<x>", "'<' in a link", id="angle"),
        pytest.param("https://wiki.example.com/" + "a" * MAX_URL, "longer than a Slack button", id="long"),
        pytest.param(
            "https://wiki.example.com/" + "{task_name}" * 100_000,
            "longer than a Slack button",
            id="100,000 fields (each alert escaped the name 100,000 times)",
        ),
    ],
)
def test_a_bad_template_is_refused_saying_why(template: str, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        check_runbook_template(template)


def test_a_rule_with_a_runbook_and_broadcast_recoveries_loads() -> None:
    text = """\
rules:
  - name: prod
    notify_resolved: broadcast
    runbook_url: "https://wiki.example.com/rb/{task_type}?id={task_id}"
"""
    (rule,) = load_rules_text(text, "r.yaml").rules
    assert rule.notify_resolved == "broadcast"
    assert rule.runbook_url == "https://wiki.example.com/rb/{task_type}?id={task_id}"


def test_a_bad_runbook_url_is_refused_at_its_line() -> None:
    text = """\
rules:
  - name: prod
    severity: critical
    runbook_url: "http://wiki.example.com/rb/{task_id}"
  - name: other
    runbook_url: "https://wiki.example.com/{task}"
"""
    with pytest.raises(RuleFileError) as refused:
        load_rules_text(text, "r.yaml")
    assert refused.value.problems == [
        "r.yaml:4: rule 'prod': runbook_url: must be an https:// link, not "
        "'http://wiki.example.com/rb/{task_id}'",
        "r.yaml:6: rule 'other': runbook_url: unknown field {task}: use {task_id}, {task_name}, {task_type}, "
        "{scheduled_type}, {life_cycle_type}, {project}, {rule}, {alert_id}",
    ]


@pytest.mark.parametrize("value", ["sometimes", "1", "BROADCAST", "[true]"])
def test_notify_resolved_is_true_false_or_broadcast(value: str) -> None:
    with pytest.raises(RuleFileError) as refused:
        load_rules_text(f"rules:\n  - name: a\n    notify_resolved: {value}\n", "r.yaml")
    (problem,) = refused.value.problems
    assert problem.startswith("r.yaml:3: rule 'a': notify_resolved: expected true, false or broadcast, got")
