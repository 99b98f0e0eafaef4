"""Fixtures for the usage reports and rollups: a migrated store on each backend and usage rows
as the gateway writes them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from steward.events.ids import new_id
from steward.store.db import make_engine, session_factory, upgrade

NOW = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)

EventFactory = Callable[..., dict[str, Any]]


def event(**overrides: Any) -> dict[str, Any]:
    """A usage row as the record stage writes it: key_a of user_a in team_a, model gpt on
    openai, 100 input and 20 output tokens, 0.0012345678 USD, 250 ms, status 200, at NOW."""
    row: dict[str, Any] = {
        "id": new_id(),
        "ts": NOW,
        "request_id": new_id(),
        "endpoint": "chat",
        "key_id": "key_a",
        "user_id": "user_a",
        "team_id": "team_a",
        "app_id": None,
        "agent_id": None,
        "service_account_id": None,
        "model": "gpt",
        "provider": "openai",
        "upstream_model": "gpt-4o-mini",
        "attempts": 1,
        "stream": False,
        "input_tokens": 100,
        "output_tokens": 20,
        "cached_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": Decimal("0.0012345678"),
        "price_source": "config",
        "latency_ms": 250.0,
        "ttft_ms": None,
        "overhead_ms": 1.0,
        "status": 200,
        "error_type": None,
        "tags": None,
        "end_user": None,
        "guard_action": None,
    }
    row.update(overrides)
    return row


@pytest.fixture
def make_event() -> EventFactory:
    return event


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """A migrated store (SQLite, and PostgreSQL when configured)."""
    upgrade(store_url)
    eng = make_engine(store_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)
