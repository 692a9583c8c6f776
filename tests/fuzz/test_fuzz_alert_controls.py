"""Fuzzing what alert controls render from user data (issue 18, items 3 and 5).

What it proves (hypothesis; examples per target from the profile, see tests/fuzz/__init__.py):
- any script output, reason, exit code and desktop name (control characters, fences, entities, mentions,
  astral characters, lone surrogates, up to 100,000 characters) renders as a valid alert message within every
  Block Kit limit, escaped (no `<`, `>` or raw `&` of user data reach mrkdwn), with exactly one code block per
  output shown and its last characters kept;
- any output fits the Full output window: at most 100 blocks, each code block closed, no entity cut;
- any task value in any known runbook field renders to a URL whose scheme, host and query keys are the
  template's own;
- any template text (URL punctuation, braces, unknown fields, 100,000 fields) is refused with ValueError or
  renders to None or an https link of at most MAX_URL on the template's host, escaping at most one value per
  field and stopping once the link is too long.
"""

from __future__ import annotations

from typing import Any
from unittest.mock import patch
from urllib.parse import parse_qs, quote, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from monitor.chatops.modals import output_modal
from monitor.rules.runbook import MAX_URL, RUNBOOK_FIELDS, check_runbook_template, render_runbook
from monitor.slack.alert import render_alert
from monitor.workspace.actions import ScriptRecord
from tests.fuzz import examples
from tests.support.slack import MENTION, assert_valid, payload, texts

hostile_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.sampled_from(list("<>&`*_~|!@#\n\r\t\x00\x1b\u202e\u2028\ufeff😀a ")), max_size=2000),
    st.builds(
        lambda piece, n: piece * n,
        st.sampled_from(["<!channel>", "```", "&amp;", "\n", "😀", "\ud800"]),
        st.integers(0, 20_000),
    ),
)


@examples(150)
@given(outputs=st.lists(st.tuples(hostile_text, hostile_text, hostile_text, hostile_text), max_size=4))
def test_any_script_output_renders_valid_and_escaped(outputs: list[tuple[str, str, str, str]]) -> None:
    script = [
        {
            "record_id": f"rec-{i}",
            "desktop_name": name,
            "result_code": code,
            "reason": reason,
            "output_tail": tail,
        }
        for i, (name, code, reason, tail) in enumerate(outputs)
    ]
    message = render_alert(payload(task={"type": "EXECUTE_SCRIPT"}, script_outputs=script))
    assert_valid(message, allowed={MENTION})
    sections = [b for b in message.blocks if b.get("accessory", {}).get("value", "").startswith("rec-")]
    assert len(sections) <= min(len(outputs), 3)  # all of them unless emoji make them too heavy
    for block in sections:
        assert block["text"]["text"].count("```") in (0, 2)


@examples(100)
@given(output=hostile_text, reason=hostile_text)
def test_any_output_fits_the_full_output_window(output: str, reason: str) -> None:
    view = output_modal(
        ScriptRecord(id="rec-1", resource_name="desk", status="FAIL", reason=reason, output=output)
    )
    assert len(view["blocks"]) <= 100
    for kind, text in texts(view["blocks"]):
        if kind != "mrkdwn":
            continue
        assert len(text) <= 3000
        assert text.count("```") in (0, 2)
        rest = text.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
        assert "<" not in rest
        assert ">" not in rest
        assert "&" not in rest


@examples(500)
@given(value=st.text(max_size=200), field=st.sampled_from(["task_name", "task_id", "project", "rule"]))
def test_a_task_value_never_changes_where_the_runbook_link_goes(value: str, field: str) -> None:
    template = f"https://wiki.example.com/rb/{{{field}}}?v={{{field}}}&fixed=1#top"
    url = render_runbook(template, {field: value})
    assert url is not None
    parts = urlsplit(url)
    assert (parts.scheme, parts.hostname, parts.fragment) == ("https", "wiki.example.com", "top")
    assert parse_qs(parts.query, keep_blank_values=True) == {"v": [value] if value else [""], "fixed": ["1"]}


template_pieces = st.one_of(
    st.sampled_from(["https://", "http://", "wiki.example.com", "/", "?", "&", "=", "#", "{", "}", "@", ":",
                     "%", "[", "]", " ", '"', "<", "javascript:", "..", "x" * 3000]),
    st.sampled_from([f"{{{name}}}" for name in RUNBOOK_FIELDS] + ["{taskname}", "{}", "{{task_id}}"]),
    st.text(max_size=8),
)  # fmt: skip
templates = st.one_of(
    st.lists(template_pieces, max_size=12).map("".join),
    st.builds(
        lambda tail, n: "https://wiki.example.com/" + tail * n,
        st.sampled_from(["{task_name}", "{task_id}/", "a"]),
        st.integers(0, 100_000),
    ),
)


@examples(500)
@given(template=templates, value=hostile_text)
def test_any_template_is_refused_or_renders_a_bounded_link_to_its_own_host(template: str, value: str) -> None:
    """`check_runbook_template` accepts or raises ValueError, nothing else; an accepted one renders to None
    or an https link of at most MAX_URL on the template's host, escaping no more than a link's worth."""
    try:
        check_runbook_template(template)
    except ValueError:
        return
    assert len(template) <= MAX_URL
    escaped: list[str] = []

    def counting(text: str, **options: Any) -> str:
        escaped.append(text)
        return quote(text, **options)

    with patch("monitor.rules.runbook.quote", counting):
        url = render_runbook(template, dict.fromkeys(RUNBOOK_FIELDS, value))
    assert len(escaped) <= template.count("{")
    if url is not None:
        assert len(url) <= MAX_URL
        assert urlsplit(url).scheme == "https"
        assert urlsplit(url).hostname == urlsplit(template.split("{")[0]).hostname
