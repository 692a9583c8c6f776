"""What each Slack answer means for an outbox row, as a table: wait (rate limited), fall back (this message
only), fail for good with a meta-alert (the channel or the token), retry after looking (Slack may have done
it), or plain retry."""

from __future__ import annotations

import pytest

from monitor.slack.notifier import FIXES, MAYBE_DONE, MESSAGE, RATE_LIMITED, REFUSED, RETRY, _fix, error_scope


@pytest.mark.parametrize(
    ("error", "status", "scope"),
    [
        ("ratelimited", 429, RATE_LIMITED),
        ("unknown_error", 429, RATE_LIMITED),
        ("msg_too_long", 200, MESSAGE),
        ("msg_blocks_too_long", 200, MESSAGE),
        ("invalid_blocks", 200, MESSAGE),
        ("message_not_found", 200, MESSAGE),
        ("cant_update_message", 200, MESSAGE),
        ("edit_window_closed", 200, MESSAGE),
        ("thread_not_found", 200, MESSAGE),
        ("channel_not_found", 200, REFUSED),
        ("not_in_channel", 200, REFUSED),
        ("is_archived", 200, REFUSED),
        ("invalid_auth", 200, REFUSED),
        ("token_revoked", 200, REFUSED),
        ("account_inactive", 200, REFUSED),
        ("missing_scope", 200, REFUSED),
        ("internal_error", 200, MAYBE_DONE),
        ("fatal_error", 200, MAYBE_DONE),
        ("internal_error", 500, MAYBE_DONE),
        ("unreadable_response", 502, MAYBE_DONE),
        ("service_unavailable", 503, MAYBE_DONE),
        ("something_new", 200, RETRY),
    ],
)
def test_each_answer_has_its_scope(error: str, status: int, scope: str) -> None:
    assert error_scope(error, status) == scope


def test_every_refusal_names_its_fix() -> None:
    assert all(FIXES[error] for error in FIXES)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"needed": "chat:write", "provided": "commands"}, "lacks the scope chat:write (it has commands)"),
        ({"needed": "groups:read"}, "lacks the scope groups:read:"),
        ({}, "the token lacks a scope"),
        ("not even an object", "the token lacks a scope"),
    ],
)
def test_missing_scope_names_what_slack_says_is_needed(body: object, says: str) -> None:
    assert says in _fix("missing_scope", body)
