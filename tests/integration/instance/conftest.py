"""A throwaway PostgreSQL server for the instance tests, installed (if missing), started and removed by the tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pgserver import PgServer, fresh_database, running_postgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    """A fresh cluster on 127.0.0.1:<free port> with an empty database; stopped and deleted after the session."""
    with running_postgres(db="dagster_test") as server:
        yield server


@pytest.fixture
def postgres_database(postgres_server: PgServer, request: pytest.FixtureRequest) -> Iterator[PgServer]:
    """The session server with an empty database of this test's own (dropped afterwards)."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    with fresh_database(postgres_server, name) as server:
        yield server
