"""Fixtures for the spool and shipper tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from steward.events.spool import Spool
from steward.store.db import make_engine, upgrade


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """A migrated store on each backend (SQLite and PostgreSQL)."""
    upgrade(store_url)
    eng = make_engine(store_url)
    yield eng
    eng.dispose()


@pytest.fixture
async def spool(spool_dir: Path) -> AsyncIterator[Spool]:
    s = Spool(spool_dir, sync="fsync")
    await s.start()
    yield s
    await s.close()
