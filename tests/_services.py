"""Helpers for tests that need real services (PostgreSQL, Redis).

A missing service skips the test locally and fails it in CI (CI=true), so CI cannot go green by
silently skipping the PostgreSQL and Redis half of the suite.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.engine import make_url

PG_ENV = "STEWARD_TEST_DATABASE_URL"
REDIS_ENV = "STEWARD_TEST_REDIS_URL"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def _service_url_or_skip(env: str, what: str) -> str:
    url = os.environ.get(env, "").strip()
    if not url:
        msg = f"{what} not configured: set {env}"
        if _in_ci():
            pytest.fail(f"{msg} (required when CI=true)")
        pytest.skip(msg)
    return url


def pg_url_or_skip() -> str:
    """The PostgreSQL server URL for tests (a database on it that we may create others from)."""
    return _service_url_or_skip(PG_ENV, "PostgreSQL")


def redis_url_or_skip() -> str:
    return _service_url_or_skip(REDIS_ENV, "Redis")


def _libpq_url(url: str) -> str:
    """A SQLAlchemy-style URL (maybe with `+psycopg`) as a plain libpq URI."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def fresh_pg_database(server_url: str) -> Iterator[str]:
    """Create a uniquely named, empty database on the server of `server_url`, yield its URL,
    and drop it afterwards (even if sessions are still connected)."""
    import psycopg

    name = f"steward_t_{uuid.uuid4().hex[:16]}"
    admin = _libpq_url(server_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
