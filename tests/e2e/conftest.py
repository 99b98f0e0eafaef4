"""End-to-end fixtures: a fake upstream model server on loopback and real gateway processes on
each store backend (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._services import fresh_pg_database, pg_url_or_skip
from tests.e2e._gateway import UPSTREAM_KEY, Gateway
from tests.fakes.upstream import FakeUpstream


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(api_key=UPSTREAM_KEY) as up:
        yield up


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def backend_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'steward.db'}"
        return
    with fresh_pg_database(pg_url_or_skip()) as url:
        yield url


@pytest.fixture(scope="module")
def gw(
    upstream: FakeUpstream, backend_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """One gateway per module and backend; tests isolate themselves with fresh principals."""
    g = Gateway(tmp_path_factory.mktemp("gw"), upstream.base_url, backend_url).start()
    yield g
    g.close()


@pytest.fixture
def make_gateway(upstream: FakeUpstream, tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    """A factory for gateways a test controls itself (restarts, kills, special config)."""
    made: list[Gateway] = []

    def make(database_url: str | None = None, name: str = "gw", **overrides: Any) -> Gateway:
        url = database_url or f"sqlite:///{tmp_path / 'steward.db'}"
        g = Gateway(tmp_path / name, upstream.base_url, url, **overrides)
        made.append(g)
        return g

    yield make
    for g in made:
        g.close()
