"""Fixtures for the admin API tests: a service on SQLite, admin keys, a test client factory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from steward.admin.api import create_admin_app
from steward.identity import IdentityService
from steward.store.db import make_engine, session_factory, upgrade


@dataclass
class AdminEnv:
    service: IdentityService
    engine: Engine
    client: TestClient
    admin_key: str
    admin_key_id: str
    auditor_key: str

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin_key}"}


@pytest.fixture
def env(sqlite_url: str) -> Iterator[AdminEnv]:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    service = IdentityService(session_factory(engine))
    admin, admin_plain = service.create_admin_key("ops", "admin")
    _, auditor_plain = service.create_admin_key("audit", "auditor")
    with TestClient(create_admin_app(service)) as client:
        yield AdminEnv(service, engine, client, admin_plain, admin.id, auditor_plain)
    engine.dispose()
