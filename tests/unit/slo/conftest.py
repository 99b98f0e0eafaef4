"""Fixtures for the SLO, drift and remediation tests: a migrated store and row factories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from steward.events.ids import new_id
from steward.store.db import make_engine, session_factory, upgrade
from steward.store.models import UsageEvent

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    upgrade(store_url)
    eng = make_engine(store_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


def usage_row(ts: datetime, **fields: Any) -> UsageEvent:
    """A usage event with sensible defaults; override any column."""
    values: dict[str, Any] = {
        "id": new_id(),
        "ts": ts,
        "request_id": new_id(),
        "endpoint": "chat",
        "model": "chat",
        "provider": "sim",
        "status": 200,
        "latency_ms": 100.0,
        "output_tokens": 50,
    }
    values.update(fields)
    return UsageEvent(**values)


@pytest.fixture
def add_usage(sessions: sessionmaker[Session]) -> Callable[..., None]:
    """Insert usage events: add_usage(ts, n=1, **columns)."""

    def add(ts: datetime, n: int = 1, **fields: Any) -> None:
        with sessions() as s, s.begin():
            s.add_all([usage_row(ts, **fields) for _ in range(n)])

    return add
