"""Rejected Slack tokens: a bounded backoff, one log line per episode, the app token named first."""

from __future__ import annotations

import structlog

from monitor.chatops.tokens import Backoff, TokenState


def test_the_backoff_doubles_up_to_its_longest_and_starts_again_after_a_success() -> None:
    backoff = Backoff(first=5, longest=300)
    assert [backoff.delay() for _ in range(9)] == [5, 10, 20, 40, 80, 160, 300, 300, 300]
    backoff.reset()
    assert backoff.delay() == 5


def test_a_rejection_is_counted_every_time_and_logged_once_per_episode() -> None:
    counted: list[tuple[str, str]] = []
    state = TokenState(lambda kind, error: counted.append((kind, error)))
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            state.rejected("app", "invalid_auth")
        state.rejected("app", "token_revoked")  # a different reason is news
        state.accepted("app")
        state.accepted("app")
        state.rejected("app", "invalid_auth")  # a new episode
    assert len(counted) == 5
    assert [(e["event"], e.get("error")) for e in logs] == [
        ("chatops.token_rejected", "invalid_auth"),
        ("chatops.token_rejected", "token_revoked"),
        ("chatops.token_accepted", None),
        ("chatops.token_rejected", "invalid_auth"),
    ]


def test_the_problem_names_the_app_token_first() -> None:
    state = TokenState()
    assert state.problem() is None
    state.rejected("bot", "token_revoked")
    assert (state.problem() or "").startswith("Slack bot token rejected (token_revoked): reinstall the app")
    state.rejected("app", "invalid_auth")
    assert (state.problem() or "").startswith("Slack app token rejected (invalid_auth): make a new app-level")
    state.accepted("app")
    state.accepted("bot")
    assert state.problem() is None
