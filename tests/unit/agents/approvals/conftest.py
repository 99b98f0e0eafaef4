"""Fixtures for the approvals and kill-switch tests: a migrated store with an owner, an agent
with a key, and another user who may approve."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from steward.agents.approvals._store import ApprovalStore
from steward.agents.approvals.settings import ApprovalSettings
from steward.agents.suspensions import SECTION
from steward.agents.suspensions import load as load_suspensions
from steward.identity import Actor, IdentityService
from steward.identity.snapshot import Principal, Snapshot
from steward.store.db import make_engine, session_factory, upgrade
from steward.store.models import Agent, ApiKey, App, User


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    upgrade(store_url)
    eng = make_engine(store_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@dataclass
class World:
    identity: IdentityService
    sessions: sessionmaker[Session]
    owner: str  # user ids
    alice: str
    bob: str
    agent: str  # agent id
    key: Principal  # the agent key's principal, as the gateway resolves it
    user_key: Principal  # bob's own key

    def principal(self, key_id: str) -> Principal:
        """The key's principal as the gateway resolves it (suspension aside)."""
        with self.sessions() as s:
            key = s.get(ApiKey, key_id)
            assert key is not None
            owner = s.get(Agent, key.agent_id).owner_id if key.agent_id else None  # type: ignore[union-attr]
            return Principal(
                key_id=key.id,
                key_prefix=key.prefix,
                kind=key.principal_type,
                user_id=key.user_id,
                team_id=key.team_id,
                app_id=key.app_id,
                agent_id=key.agent_id,
                service_account_id=key.service_account_id,
                allowed_models=None,
                expires_at=None,
                suspended=None,
                owner_id=owner,
            )

    def snapshot(self) -> Snapshot:
        """A snapshot with the keys and the suspensions section (other sections left out)."""
        with self.sessions() as s:
            names = {i: n for m in (User, Agent, App) for i, n in s.execute(select(m.id, m.name))}
            keys = {}
            for key in s.scalars(select(ApiKey).where(ApiKey.revoked_at.is_(None))):
                p = self.principal(key.id)
                if key.suspended:
                    p = dataclasses.replace(p, suspended="the key is suspended")
                keys[key.key_hash] = p
            return Snapshot(
                version=1, keys=keys, names=names, sections={SECTION: load_suspensions(s)}
            )


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> World:
    identity = IdentityService(sessions)
    actor = Actor("cli", "tester")
    owner = identity.create_user("olivia", actor=actor)
    alice = identity.create_user("alice", actor=actor)
    bob = identity.create_user("bob", actor=actor)
    agent = identity.create_agent("refund-bot", owner="olivia", purpose="refunds", actor=actor)
    agent_key, _ = identity.create_key(agent="refund-bot", actor=actor)
    bob_key, _ = identity.create_key(user="bob", actor=actor)
    w = World(identity, sessions, owner.id, alice.id, bob.id, agent.id, None, None)  # type: ignore[arg-type]
    w.key = w.principal(agent_key.id)
    w.user_key = w.principal(bob_key.id)
    return w


@pytest.fixture
def store(sessions: sessionmaker[Session]) -> ApprovalStore:
    return ApprovalStore(sessions, ApprovalSettings())
