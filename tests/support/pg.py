"""PostgreSQL for tests: the server on 127.0.0.1:5432 (database `test`), one fresh schema per test.

`postgres_url` is a URL whose search_path is a new schema `t_<random>`, dropped with everything in it after
the test, so tests run in parallel and leave nothing behind. With no server answering, tests that need one
are skipped saying why; with WORKSPACE_MONITOR_REQUIRE_POSTGRES=1 (as `.ci/run` sets) they fail instead.
WORKSPACE_MONITOR_TEST_POSTGRES names another server.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest

__all__ = ["admin", "postgres_server", "postgres_url", "schema_url"]

DEFAULT_SERVER = "postgresql://127.0.0.1:5432/test"
REQUIRE = "WORKSPACE_MONITOR_REQUIRE_POSTGRES"


@functools.cache
def _server_problem(url: str) -> str | None:
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"no PostgreSQL at {url} ({str(exc).strip().splitlines()[0]})"
    return None


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The server's URL (database `test`), or a skip (a failure when PostgreSQL is required)."""
    url = os.environ.get("WORKSPACE_MONITOR_TEST_POSTGRES", DEFAULT_SERVER)
    problem = _server_problem(url)
    if problem is not None:
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(f"{problem}, and {REQUIRE}=1 says PostgreSQL tests must run")
        pytest.skip(f"{problem}: set up the server to run the tests marked postgres")
    return url


def schema_url(server: str, schema: str) -> str:
    separator = "&" if "?" in server else "?"
    return f"{server}{separator}options={quote(f'-csearch_path={schema}')}"


def admin(server: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(server, autocommit=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL whose current schema is a new, empty one, dropped after the test."""
    schema = f"t_{secrets.token_hex(6)}"
    with admin(postgres_server) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema_url(postgres_server, schema)
    finally:
        with admin(postgres_server) as db:
            db.execute(f"DROP SCHEMA {schema} CASCADE")
