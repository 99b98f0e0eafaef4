"""The inventory: apps, agents and models with their use, and the flags (no owner, not in the
catalogue, unmanaged, prohibited with active keys). On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from steward.config.models import StewardConfig
from steward.events.ids import new_id
from steward.identity import IdentityService
from steward.inventory import Inventory, InventoryService
from steward.store.db import session_factory
from steward.store.models import UsageEvent

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)

CONFIG = StewardConfig.model_validate(
    {
        "providers": {"openai": {"kind": "openai", "base_url": "https://api.openai.com/v1"}},
        "models": [
            {
                "name": "chat",
                "provider": "openai",
                "upstream_model": "gpt-4o",
                "owner": "alice",
                "purpose": "support answers",
                "data_classes": ["pii", "internal"],
                "risk_tier": "limited",
            },
            {"name": "mini", "provider": "openai", "upstream_model": "gpt-4o-mini"},
            {"name": "idle", "provider": "openai", "owner": "nobody-by-that-name"},
        ],
    }
)


def event(**kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": new_id(),
        "ts": T0,
        "request_id": new_id(),
        "endpoint": "chat",
        "model": "chat",
        "provider": "openai",
        "upstream_model": "gpt-4o",
        "status": 200,
        "app_id": None,
    }
    row.update(kw)
    return row


@pytest.fixture
def inventory(service: IdentityService, engine: Engine) -> InventoryService:
    service.create_team("support")
    service.create_user("alice", "alice@example.com", ["support"])
    helpdesk = service.create_app(
        "helpdesk", "support", "alice", purpose="answers customers", data_classes=["pii"]
    )
    service.create_app("orphan")  # no owner, no risk tier
    service.create_app("scoring", owner="alice", risk_tier="limited")
    service.create_key(app="scoring")
    service.update_app("scoring", risk_tier="prohibited")  # reclassified after keys were issued
    service.create_agent("refund-bot", "alice", "support", "refunds", "high")
    service.create_key(agent="refund-bot")
    service.update_agent("refund-bot", risk_tier="prohibited", data_classes=["financial"])
    service.create_agent("quiet-bot", "alice", risk_tier="prohibited")  # no keys: not flagged
    rows = [
        event(app_id=helpdesk.id, ts=T0),
        event(app_id=helpdesk.id, ts=T0 + timedelta(hours=1)),
        event(model="mini", upstream_model="gpt-4o-mini", ts=T0 + timedelta(hours=2)),
        event(model="rogue", upstream_model="gpt-4.1", ts=T0 + timedelta(hours=3)),
        event(model="rogue", provider="azure", upstream_model="gpt-4.1", ts=T0),
        event(model="typo-model", provider=None, upstream_model=None, status=404),  # refused
    ]
    with engine.begin() as conn:
        conn.execute(insert(UsageEvent), rows)
    return InventoryService(session_factory(engine), CONFIG)


def codes(inv: Inventory) -> set[tuple[str, str, str]]:
    return {(f.kind, f.name, f.code) for f in inv.flags}


def test_flags(inventory: InventoryService) -> None:
    inv = inventory.build()
    assert codes(inv) == {
        ("app", "orphan", "app_without_owner"),
        ("app", "orphan", "app_unclassified"),
        ("app", "helpdesk", "app_unclassified"),
        ("app", "scoring", "prohibited_with_active_keys"),
        ("agent", "refund-bot", "prohibited_with_active_keys"),
        ("model", "rogue", "model_not_in_catalogue"),
        ("model", "mini", "model_without_owner"),
        ("model", "idle", "model_owner_unknown"),
    }
    assert [f.severity for f in inv.flags[:2]] == ["high", "high"]  # most urgent first
    prohibited = next(f for f in inv.flags if f.name == "scoring")
    assert "1 active key(s)" in prohibited.message


def test_entries(inventory: InventoryService) -> None:
    inv = inventory.build()
    apps = {a.name: a for a in inv.apps}
    helpdesk = apps["helpdesk"]
    assert (helpdesk.owner, helpdesk.team, helpdesk.purpose, helpdesk.data_classes) == (
        "alice",
        "support",
        "answers customers",
        ["pii"],
    )
    assert helpdesk.requests == 2 and helpdesk.last_seen == T0 + timedelta(hours=1)
    assert apps["scoring"].active_keys == 1 and apps["scoring"].managed
    bot = next(a for a in inv.agents if a.name == "refund-bot")
    assert bot.data_classes == ["financial"] and bot.active_keys == 1

    models = {m.name: m for m in inv.models}
    assert list(models) == ["chat", "mini", "idle", "rogue"]  # catalogue first, then unknown
    chat = models["chat"]
    assert chat.in_catalogue and chat.owner == "alice" and chat.requests == 2
    assert chat.data_classes == ["pii", "internal"] and chat.risk_tier == "limited"
    rogue = models["rogue"]
    assert not rogue.in_catalogue and rogue.requests == 2
    assert {(u.provider, u.upstream_model) for u in rogue.usage} == {
        ("openai", "gpt-4.1"),
        ("azure", "gpt-4.1"),
    }
    assert rogue.first_seen == T0 and rogue.last_seen == T0 + timedelta(hours=3)
    assert "typo-model" not in models  # refused before routing: not use of a model


def test_flags_only(inventory: InventoryService) -> None:
    inv = inventory.build(flags_only=True)
    assert {a.name for a in inv.apps} == {"orphan", "helpdesk", "scoring"}
    assert [a.name for a in inv.agents] == ["refund-bot"]
    assert {m.name for m in inv.models} == {"rogue", "mini", "idle"}
    assert len(inv.flags) == 8


def test_fixing_clears_flags(inventory: InventoryService, service: IdentityService) -> None:
    service.update_app("orphan", owner="alice", risk_tier="minimal")
    service.update_app("helpdesk", risk_tier="limited")
    for key in service.list_keys(app="scoring") + service.list_keys(agent="refund-bot"):
        service.revoke_key(key.id)
    remaining = codes(inventory.build())
    assert {c for _, _, c in remaining} == {
        "model_not_in_catalogue",
        "model_without_owner",
        "model_owner_unknown",
    }


def test_discovered_apps_are_flagged_unmanaged(
    inventory: InventoryService, service: IdentityService
) -> None:
    service.register_discovered_app("shadow-openai-10.0.0.1", "discovered: ...", {})
    flagged = {c for k, n, c in codes(inventory.build()) if n == "shadow-openai-10.0.0.1"}
    assert flagged == {"unmanaged_app", "app_without_owner", "app_unclassified"}
    service.update_app("shadow-openai-10.0.0.1", managed=True, owner="alice", risk_tier="high")
    assert not {c for k, n, c in codes(inventory.build()) if n == "shadow-openai-10.0.0.1"}


def test_expired_and_suspended_keys_are_not_active(
    inventory: InventoryService, service: IdentityService
) -> None:
    service.update_app("scoring", risk_tier="limited")
    service.create_key(app="scoring", expires_in=timedelta(seconds=1))
    key, _ = service.create_key(app="scoring")
    service.set_key_suspended(key.id, True)
    service.update_app("scoring", risk_tier="prohibited")
    later = datetime.now(UTC) + timedelta(minutes=5)
    scoring = next(a for a in inventory.build(now=later).apps if a.name == "scoring")
    assert scoring.active_keys == 1  # the first key only
