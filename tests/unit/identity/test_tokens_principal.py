"""Delegation fields on Principal: agent keys carry their owner; the disk cache keeps them."""

from __future__ import annotations

import dataclasses

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from steward.identity import IdentityService
from steward.identity.snapshot import Principal, Snapshot, _dump, _load, load_snapshot


def test_agent_key_principal_carries_its_owner(service: IdentityService, engine: Engine) -> None:
    service.create_user("olga")
    agent = service.create_agent("triage-bot", owner="olga")
    info, _plain = service.create_key(agent="triage-bot")
    with Session(engine) as s:
        snap = load_snapshot(s)
    principal = next(p for p in snap.keys.values() if p.key_id == info.id)
    assert principal.kind == "agent"
    assert principal.agent_id == agent.id
    assert principal.owner_id == agent.owner_id
    assert principal.on_behalf_of is None and principal.chain == () and principal.token_id is None


def test_delegation_fields_survive_the_disk_cache() -> None:
    p = Principal(
        key_id="tok_1",
        key_prefix="jwt",
        kind="agent",
        user_id=None,
        team_id="team_1",
        app_id=None,
        agent_id="agent_b",
        service_account_id=None,
        allowed_models=None,
        expires_at=None,
        suspended=None,
        owner_id="user_o",
        on_behalf_of="user_u",
        chain=("agent_b", "agent_a"),
        token_id="jti_1",
    )
    back = _load(_dump(Snapshot(version=3, keys={"h": p}))).keys["h"]
    assert back == p
    assert isinstance(back.chain, tuple)
    assert dataclasses.asdict(back)["chain"] == ("agent_b", "agent_a")
