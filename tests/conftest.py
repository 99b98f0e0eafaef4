"""Shared fixtures (factories). Service-backed fixtures skip locally and fail in CI when the
service is not configured; see tests/_services.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._services import fresh_pg_database, pg_url_or_skip


@pytest.fixture
def pg_database_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped after the test."""
    with fresh_pg_database(pg_url_or_skip()) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'steward.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """An empty store on each backend: the test runs once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_database_url"
    url: str = request.getfixturevalue(name)
    return url
