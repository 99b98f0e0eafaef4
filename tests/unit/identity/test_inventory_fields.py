"""Inventory fields of apps and agents: set at creation, changed by update (audited, version
bumped), validated; prohibited apps get no keys. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from steward.identity import Actor, Conflict, IdentityService, Invalid, NotFound, current_version
from steward.store.db import session_factory
from steward.store.models import AuditEvent


@pytest.fixture
def org(service: IdentityService) -> IdentityService:
    service.create_team("support")
    service.create_user("alice", teams=["support"])
    service.create_user("bob")
    return service


def version(engine: Engine) -> int:
    with session_factory(engine)() as s:
        return current_version(s)


def audits(engine: Engine, action: str) -> list[AuditEvent]:
    with session_factory(engine)() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_app_created_with_inventory_fields(org: IdentityService) -> None:
    app = org.create_app(
        "helpdesk",
        "support",
        "alice",
        purpose="answer customers",
        data_classes=["PII", "public", "pii"],
        risk_tier="limited",
    )
    assert (app.purpose, app.data_classes, app.risk_tier, app.managed) == (
        "answer customers",
        ["pii", "public"],
        "limited",
        True,
    )
    bare = org.create_app("plain")
    assert (bare.purpose, bare.data_classes, bare.risk_tier, bare.managed) == ("", [], None, True)


def test_update_app(org: IdentityService, engine: Engine, actor: Actor) -> None:
    org.create_app("helpdesk", "support")
    before = version(engine)
    app = org.update_app(
        "helpdesk",
        purpose="answer customers",
        data_classes=["pii", "financial"],
        risk_tier="high",
        owner="alice",
        actor=actor,
    )
    assert (app.owner, app.purpose, app.data_classes, app.risk_tier) == (
        "alice",
        "answer customers",
        ["pii", "financial"],
        "high",
    )
    assert version(engine) > before
    (row,) = audits(engine, "app.update")
    assert row.actor_id == "tester"
    assert row.details is not None
    assert row.details["changes"]["owner"] == [None, "alice"]
    assert row.details["changes"]["risk_tier"] == [None, "high"]

    cleared = org.update_app("helpdesk", owner="", team="", data_classes=[])
    assert (cleared.owner, cleared.team, cleared.data_classes) == (None, None, [])
    assert cleared.purpose == "answer customers"  # untouched


def test_update_app_managed(org: IdentityService) -> None:
    org.register_discovered_app("shadow-x-1", "discovered", {})
    assert org.update_app("shadow-x-1", managed=True).managed is True


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({}, "nothing_to_update"),
        ({"risk_tier": "extreme"}, "invalid_risk_tier"),
        ({"data_classes": ["pii", "gossip"]}, "invalid_data_class"),
        ({"purpose": "x" * 2001}, "invalid_text"),
    ],
)
def test_update_app_invalid(org: IdentityService, kwargs: dict[str, object], code: str) -> None:
    org.create_app("helpdesk")
    with pytest.raises(Invalid) as err:
        org.update_app("helpdesk", **kwargs)  # type: ignore[arg-type]
    assert err.value.code == code


def test_update_unknown_references(org: IdentityService) -> None:
    org.create_app("helpdesk")
    with pytest.raises(NotFound):
        org.update_app("nope", purpose="x")
    with pytest.raises(NotFound):
        org.update_app("helpdesk", owner="carol")
    with pytest.raises(NotFound):
        org.update_app("helpdesk", team="research")


def test_update_agent(org: IdentityService, engine: Engine) -> None:
    org.create_agent("refund-bot", "alice", "support", "refunds", "high")
    agent = org.update_agent(
        "refund-bot", owner="bob", data_classes=["financial", "pii"], risk_tier="limited"
    )
    assert (agent.owner, agent.data_classes, agent.risk_tier, agent.purpose) == (
        "bob",
        ["financial", "pii"],
        "limited",
        "refunds",
    )
    (row,) = audits(engine, "agent.update")
    assert row.details is not None and row.details["changes"]["owner"] == ["alice", "bob"]
    with pytest.raises(Invalid) as err:
        org.update_agent("refund-bot", owner="  ")
    assert err.value.code == "agent_without_owner"
    assert org.get_agent("refund-bot").data_classes == ["financial", "pii"]


def test_prohibited_app_gets_no_keys(org: IdentityService) -> None:
    org.create_app("scoring", risk_tier="prohibited")
    with pytest.raises(Invalid) as err:
        org.create_key(app="scoring")
    assert err.value.code == "app_prohibited"
    with pytest.raises(Invalid):
        org.create_key(user="alice", app="scoring")


def test_register_discovered_app_is_idempotent(org: IdentityService, engine: Engine) -> None:
    first, created = org.register_discovered_app("shadow-openai-10.0.0.1", "seen", {"n": 1})
    again, created_again = org.register_discovered_app("shadow-openai-10.0.0.1", "seen", {})
    assert created and not created_again and first.id == again.id
    assert first.managed is False
    assert len(audits(engine, "app.discover")) == 1
    with pytest.raises(Invalid):
        org.register_discovered_app("bad name!", "x", {})


def test_conflict_is_still_a_conflict(org: IdentityService) -> None:
    org.create_app("helpdesk")
    with pytest.raises(Conflict):
        org.create_app("helpdesk")


def test_vocabularies_agree() -> None:
    from typing import get_args

    from steward.config.models import DataClass, RiskTier
    from steward.identity.records import DATA_CLASSES, RISK_TIERS

    assert get_args(DataClass) == DATA_CLASSES
    assert get_args(RiskTier) == RISK_TIERS
