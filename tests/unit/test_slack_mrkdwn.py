"""User data in Slack mrkdwn shows literally: formatting marks that Slack could read become look-alikes it
does not read, and invisible or direction-changing characters are deleted (issue 20, item 18)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.slack.mrkdwn import inert_marks, user_text

INVISIBLE = re.compile(
    "[\u00ad\u061c\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\u3164\ufeff\U000e0000-\U000e007f]"
)
#: A mark Slack could read: at an end, or next to something that is not a letter or digit.
READABLE_MARK = re.compile(r"(?<![^\W_])[*_~]|[*_~](?![^\W_])|`")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("*bold*", "⁎bold⁎"),
        ("_it_", "ˍitˍ"),
        ("~s~", "˜s˜"),
        ("`code`", "ˋcodeˋ"),
        ("```block```", "ˋˋˋblockˋˋˋ"),
        ("a *b* c", "a ⁎b⁎ c"),
        ("(_x_)", "(ˍxˍ)"),
        ("__init__", "ˍˍinitˍˍ"),
        # Inside a word Slack formats nothing: names keep their underscores and stars.
        ("prod_reboot_daily", "prod_reboot_daily"),
        ("x*y*z", "x*y*z"),
        ("a~b", "a~b"),
        ("", ""),
        ("plain", "plain"),
    ],
)
def test_formatting_marks_that_slack_could_read_become_look_alikes(raw: str, shown: str) -> None:
    assert inert_marks(raw) == shown


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\u061cb", "ab"),  # Arabic letter mark
        ("a\u2060b", "ab"),  # word joiner
        ("\ufeffname", "name"),  # byte order mark
        ("na\u00adme", "name"),  # soft hyphen
        ("\u3164", ""),  # Hangul filler: a name that looks empty
        ("a\u115f\u1160\uffa0b", "ab"),  # the other Hangul fillers
        ("flag\U000e0067\U000e0062\U000e007f", "flag"),  # tag characters
        ("\u202egnp.exe", "gnp.exe"),  # right-to-left override
        ("a\u202a\u202b\u202c\u202db", "ab"),  # embeddings and overrides
        ("a\u2066\u2067\u2068\u2069b", "ab"),  # isolates
        ("a\u200e\u200fb", "ab"),  # LRM, RLM
        ("a\u200b\u200cb", "ab"),  # zero-width space, non-joiner
        ("a\u180eb", "ab"),  # Mongolian vowel separator
        ("👩\u200d💻", "👩\u200d💻"),  # the zero-width joiner stays: emoji need it
        ("a\u2028b", "a b"),  # a line separator still breaks nothing: a space
    ],
)
def test_invisible_and_direction_changing_characters_are_deleted(raw: str, shown: str) -> None:
    assert user_text(raw, 100) == shown


def test_marks_and_entities_together() -> None:
    assert user_text("*<!channel>* & _you_", 100) == "⁎&lt;!channel&gt;⁎ &amp; ˍyouˍ"


def test_in_code_only_backticks_are_replaced() -> None:
    """Slack formats nothing inside a code span; a backtick would end it."""
    assert user_text("prod-* `x` _y_", 100, code=True) == "prod-* ˋxˋ _y_"


def test_look_alikes_cost_no_length() -> None:
    assert len(user_text("*a* _b_ ~c~ `d`", 100)) == len("*a* _b_ ~c~ `d`")


def test_our_own_sentence_keeps_its_code_spans() -> None:
    """An error reply is our sentence (with `code` spans) around the user's quoted words."""
    assert user_text("write `show <task_id>`", 100, keep_marks=True) == "write `show &lt;task_id&gt;`"


TRICKY = st.text(
    alphabet=st.sampled_from([*"ab *_~`<>&\n", "\u202e", "\u200b", "\u3164", "\ufeff", "\U000e0041", "é"]),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(TRICKY)
def test_no_readable_mark_and_no_invisible_character_survives(raw: str) -> None:
    shown = user_text(raw, 200)
    assert not READABLE_MARK.search(shown)
    assert not INVISIBLE.search(shown)
