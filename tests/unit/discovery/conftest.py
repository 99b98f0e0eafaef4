"""A migrated store on each backend and an identity service over it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from steward.identity import IdentityService
from steward.store.db import make_engine, session_factory, upgrade


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    upgrade(store_url)
    eng = make_engine(store_url)
    yield eng
    eng.dispose()


@pytest.fixture
def service(engine: Engine) -> IdentityService:
    return IdentityService(session_factory(engine))
