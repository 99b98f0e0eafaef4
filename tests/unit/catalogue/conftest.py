"""A migrated store on each backend, a configuration with sim models, and the services."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from steward.catalogue.deploy import DeploymentService
from steward.config.models import StewardConfig
from steward.identity import IdentityService
from steward.store.db import make_engine, session_factory, upgrade


def make_config(**catalogue: Any) -> StewardConfig:
    return StewardConfig.model_validate(
        {
            "providers": {
                "sim": {"kind": "sim"},
                "down": {"kind": "sim", "sim": {"error_rate": 1.0}},
            },
            "models": [
                {"name": "chat", "provider": "sim", "upstream_model": "sim-fast-1"},
                {"name": "smart", "provider": "sim", "upstream_model": "sim-smart-1"},
                {"name": "broken", "provider": "down", "upstream_model": "sim-down-1"},
                {"name": "emb", "provider": "sim", "kind": "embedding", "upstream_model": "e1"},
            ],
            "catalogue": catalogue,
        }
    )


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    upgrade(store_url)
    eng = make_engine(store_url)
    yield eng
    eng.dispose()


@pytest.fixture
def deploy(engine: Engine) -> DeploymentService:
    return DeploymentService(session_factory(engine), make_config())


@pytest.fixture
def identity(engine: Engine) -> IdentityService:
    return IdentityService(session_factory(engine))
