"""Fuzzing what the alert controls read back from Slack (issue 18 item 5): the Silence menu's option value,
the custom silence form's submitted values and its private_metadata.

What it proves (hypothesis; examples per target from the profile, see tests/fuzz/__init__.py):
- any option value (`<duration>|<fingerprint>` with any key, separator count, fingerprint shape, 1 MB of
  text) is one of the menu's own choices for an id-shaped fingerprint, or None; never an exception;
- any `view` (missing or mistyped state, values, blocks and actions; durations that overflow; reasons of any
  length with NUL, lone surrogates, mentions, control characters) reads as a form within bounds (a duration
  above 0 and at most MAX_SILENCE, a reason of 1 to MAX_REASON characters a store can keep) or as errors for
  the form's own blocks only, each short enough for Slack to show under its field;
- any private_metadata (JSON of any shape, not JSON, huge, ids with `/`, `..`, mentions) is read as a target
  whose ids are id-shaped, or as None; a target's own metadata reads back as itself.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from monitor.chatops.commands import MAX_REASON, MAX_SILENCE
from monitor.chatops.modals import DURATION_BLOCK, REASON_BLOCK, SilenceForm, SilenceTarget, read_silence_form
from monitor.slack.controls import CUSTOM, SILENCE_CHOICES, parse_silence_choice
from tests.fuzz import examples

ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
METADATA_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MENU = {key: duration for key, _, duration in SILENCE_CHOICES}

hostile = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["", "..", ".", "a/b", "<!channel>", "\x00", "\ud800", "x" * 129, "ab" * 64, "0123456789abcdef"]
    ),
    st.text(max_size=3).map(lambda piece: piece * 100_000),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), hostile),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(hostile, inner, max_size=4)),
    max_leaves=12,
)


@examples(1000)
@given(
    key=st.one_of(st.sampled_from([*MENU, CUSTOM, "1000d", "0h", "", "CUSTOM"]), hostile),
    fingerprint=hostile,
    extra=st.sampled_from(["", "|", "|x", "||"]),
)
def test_a_menu_value_is_one_of_the_menus_choices_or_none(key: str, fingerprint: str, extra: str) -> None:
    choice = parse_silence_choice(f"{key}|{fingerprint}{extra}")
    if choice is None:
        return
    alert, duration = choice
    assert ID.fullmatch(alert)
    assert duration is None or duration in MENU.values()
    assert (duration is None) == (key == CUSTOM)


durations = st.one_of(
    st.sampled_from(
        ["30m", "2h", "90d", "91d", "0", "-1h", "99999999999999999999d", "1h30m", " 3d ", "soon"]
    ),
    st.builds(
        lambda n, u: f"{n}{u}", st.integers(-5, 10**25), st.sampled_from(["w", "d", "h", "m", "s", ""])
    ),
    hostile,
)
reasons = st.one_of(
    hostile,
    st.text(max_size=MAX_REASON + 5),
    st.sampled_from(["   ", "\n\t", "ok", "a" * MAX_REASON, "a" * (MAX_REASON + 1), "why\ud800\x00"]),
)


def field(value: Any) -> Any:
    return {"value": {"value": value}}


views = st.one_of(
    json_values,
    st.builds(
        lambda duration, reason: {
            "state": {"values": {DURATION_BLOCK: field(duration), REASON_BLOCK: field(reason)}}
        },
        st.one_of(durations, json_values),
        st.one_of(reasons, json_values),
    ),
)


@examples(1000)
@given(views)
def test_any_submitted_form_reads_as_a_bounded_silence_or_its_errors(view: Any) -> None:
    form = read_silence_form(view if isinstance(view, dict) else {"state": view})
    if isinstance(form, SilenceForm):
        assert timedelta(0) < form.duration <= MAX_SILENCE
        assert 1 <= len(form.reason) <= MAX_REASON
        assert form.reason == form.reason.strip()
        assert not UNSTORABLE.search(form.reason)
        return
    assert form, "neither a form nor an error"
    assert set(form) <= {DURATION_BLOCK, REASON_BLOCK}
    for problem in form.values():
        assert 0 < len(problem) <= 150
        assert not UNSTORABLE.search(problem)


metadata = st.one_of(
    json_values.map(json.dumps),
    st.fixed_dictionaries({"alert": hostile, "channel": hostile, "ts": hostile}).map(json.dumps),
    st.fixed_dictionaries({"alert": json_values, "channel": json_values, "ts": json_values}).map(json.dumps),
    hostile,
    json_values,
)


@examples(1000)
@given(metadata)
def test_any_private_metadata_is_a_well_formed_target_or_none(text: Any) -> None:
    target = SilenceTarget.from_metadata(text)
    if target is None:
        return
    assert ID.fullmatch(target.fingerprint) or METADATA_ID.fullmatch(target.fingerprint)
    for part in (target.channel, target.ts):
        assert part == "" or METADATA_ID.fullmatch(part)
    assert SilenceTarget.from_metadata(target.metadata()) == target
