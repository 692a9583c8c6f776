"""State URLs as logs and errors show them: every credential a URL can carry hidden, whatever the text (never
an exception), and a scheme no backend has named as the problem, redacted too."""

from __future__ import annotations

import pytest

from monitor.store import PermanentStoreError, open_store, state_location_problem
from monitor.store.urls import redact_text, redact_url, url_scheme_problem, url_secrets


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://monitor:s3cret@db.internal:5432/state",
            "postgresql://monitor:***@db.internal:5432/state",
        ),
        ("postgresql://monitor@db/state?sslmode=require", "postgresql://monitor@db/state?sslmode=require"),
        ("postgresql:///state", "postgresql:///state"),
        ("sqlite:///var/lib/workspace-monitor/state.db", "sqlite:///var/lib/workspace-monitor/state.db"),
        # libpq reads a password from the query too, and percent-decodes the keys.
        ("postgresql://u@host/db?password=s3cret", "postgresql://u@host/db?password=***"),
        (
            "postgresql://host/db?sslmode=verify-full&sslpassword=k3y&application_name=a",
            "postgresql://host/db?sslmode=verify-full&sslpassword=***&application_name=a",
        ),
        ("postgresql://host/db?PASSWORD=s3cret", "postgresql://host/db?PASSWORD=***"),
        ("postgresql://host/db?pass%77ord=s3cret", "postgresql://host/db?pass%77ord=***"),
        ("postgresql://host/db?passfile=/etc/pgpass", "postgresql://host/db?passfile=/etc/pgpass"),
        # Malformed: shown redacted, never an exception.
        ("postgresql://[::1/x", "postgresql://[::1/x"),
        ("postgresql://admin:pw@[::1/x?password=s3cret", "postgresql://admin:***@[::1/x?password=***"),
        ("postgresq://admin:pw@db/state", "postgresq://admin:***@db/state"),
        ("postgresql://admin:p/w@db/state", "postgresql://admin:***@db/state"),  # a raw / in the password
        ("postgresql://admin:p@ss@db/state", "postgresql://admin:***@db/state"),  # a raw @ in the password
        ("postgresql://admin:p?ss@db/state", "postgresql://admin:***@db/state"),  # a raw ? (libpq's reading)
        ("postgresql://db/state?options=a@b", "postgresql://db/state?options=a@b"),
        ("host=db password=s3cret dbname=state", "host=db password=*** dbname=state"),  # conninfo, not a URL
        ("", ""),
    ],
)
def test_urls_are_shown_without_their_credentials(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        ("postgresql://u:s3cr%40t@db/state", ["s3cr%40t", "s3cr@t"]),
        ("postgresql://u@db/state?password=a%26b&sslpassword=k3y", ["a%26b", "k3y", "a&b"]),
        ("postgresql://u@db/state", []),
        ("postgresql://[::1/x", []),
    ],
)
def test_the_secrets_of_a_url_as_written_and_decoded(url: str, secrets: list[str]) -> None:
    assert url_secrets(url) == secrets


def test_a_driver_message_quoting_the_password_is_redacted() -> None:
    url = "postgresql://admin:hunter22@db:notaport/state"
    assert redact_text('invalid port "hunter22@db:notaport"', url) == 'invalid port "***@db:notaport"'


@pytest.mark.parametrize("url", ["postgresq://admin:hunter22@db/state", "mysql://admin:hunter22@db/state",
                                 "/var/lib/state.db?password=hunter22"])  # fmt: skip
def test_a_mistyped_scheme_is_a_redacted_problem(url: str) -> None:
    problem = state_location_problem(url)
    assert problem is not None
    assert problem == url_scheme_problem(url)
    assert "unknown scheme" in problem
    assert "hunter22" not in problem
    with pytest.raises(PermanentStoreError) as refused:
        open_store(url)
    assert "hunter22" not in str(refused.value)
    assert "unknown scheme" in str(refused.value)


def test_an_unparseable_postgresql_url_is_refused_redacted() -> None:
    with pytest.raises(PermanentStoreError) as refused:
        open_store("postgresql://admin:hunter22@[::1/x")
    assert "hunter22" not in str(refused.value)
