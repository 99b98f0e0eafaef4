"""Factories for policy tests: an engine over a small organisation, and principals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from steward.identity.snapshot import Principal
from steward.policy.data import AgentInfo, PolicyData, UserInfo
from steward.policy.engine import PolicyEngine
from steward.policy.entities import ModelInfo
from steward.policy.sets import PolicySource
from steward.policy.settings import PolicySettings

MODELS = [ModelInfo("mini", "sim"), ModelInfo("big", "sim", risk_tier="high")]
ORG: dict[str, Any] = {
    "teams": {"t1": "support", "t2": "research"},
    "users": {
        "u1": UserInfo("alice", ("support",)),
        "u2": UserInfo("bob", ("research",)),
    },
    "agents": {
        "a1": AgentInfo("support-bot", owner="alice", team="support"),
        "a2": AgentInfo("sub-bot", owner="alice", team="support", risk_tier="high"),
    },
}


def principal(kind: str, ref: str, **extra: Any) -> Principal:
    """A principal of `kind` ('user', 'agent', 'app') whose id is `ref`."""
    return Principal(
        key_id=f"key-{ref}",
        key_prefix="sk-stw-test",
        kind=kind,
        user_id=ref if kind == "user" else None,
        team_id=None,
        app_id=ref if kind == "app" else None,
        agent_id=ref if kind == "agent" else None,
        service_account_id=None,
        allowed_models=extra.pop("allowed_models", None),
        expires_at=None,
        suspended=None,
        **extra,
    )


EngineFactory = Callable[..., PolicyEngine]


@pytest.fixture
def make_engine() -> EngineFactory:
    """make_engine(*sets as (name, text[, mode]), files=..., **settings) -> loaded engine."""

    def make(
        *sets: tuple[str, ...], files: tuple[PolicySource, ...] = (), **settings: Any
    ) -> PolicyEngine:
        settings.setdefault("arguments", {"amount": "Long", "command": "String", "rate": "Decimal"})
        settings.setdefault("model_groups", {"cheap": ["mini"]})
        engine = PolicyEngine(PolicySettings(**settings), MODELS, files)
        sources = tuple(
            PolicySource(name=s[0], text=s[1], mode=s[2] if len(s) > 2 else "enforce", version=1)
            for s in sets
        )
        engine.load(PolicyData(sets=sources, **ORG))
        return engine

    return make
