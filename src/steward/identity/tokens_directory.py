"""The snapshot section that lets a delegation token's principal be checked on every request
from live state: the agents (owner, team, suspension), the users that exist and whether they
are suspended, and the live API keys by id (to find the key a token was minted with)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from steward.identity.snapshot import Section, register_section
from steward.store.models import Agent, ApiKey, User

SECTION = "agent_directory"


@dataclass(frozen=True, slots=True)
class AgentState:
    """What a token check needs to know about one agent."""

    owner_id: str | None
    team_id: str | None
    sponsor_id: str | None
    risk_tier: str
    suspended: bool


@dataclass(frozen=True, slots=True)
class Directory:
    agents: Mapping[str, AgentState] = field(default_factory=dict)
    users: Mapping[str, bool] = field(default_factory=dict)  # user id -> suspended
    key_hashes: Mapping[str, str] = field(default_factory=dict)  # live key id -> sha256

    def agent_problem(self, agent_id: str) -> str | None:
        """Why this agent may not act now (deleted, suspended, owner gone or suspended)."""
        agent = self.agents.get(agent_id)
        if agent is None:
            return f"agent {agent_id} no longer exists"
        if agent.suspended:
            return f"agent {agent_id} is suspended"
        if agent.risk_tier == "prohibited":
            return f"agent {agent_id} has risk tier 'prohibited'"
        return self.owner_problem(agent_id, agent.owner_id)

    def owner_problem(self, agent_id: str, owner_id: str | None) -> str | None:
        """Why the agent's accountable owner cannot stand behind it."""
        if owner_id is None or owner_id not in self.users:
            return f"agent {agent_id} has no accountable owner"
        if self.users[owner_id]:
            return f"the owner of agent {agent_id} is suspended"
        return None

    def user_problem(self, user_id: str) -> str | None:
        """Why this user may not be acted for."""
        if user_id not in self.users:
            return f"user {user_id} no longer exists"
        if self.users[user_id]:
            return f"user {user_id} is suspended"
        return None


def load_directory(session: Session) -> Directory:
    """Read the agents, users and live key ids."""
    agents = {
        a.id: AgentState(a.owner_id, a.team_id, a.sponsor_id, a.risk_tier, bool(a.suspended))
        for a in session.scalars(select(Agent))
    }
    users = {
        row.id: bool(row.suspended) for row in session.execute(select(User.id, User.suspended))
    }
    keys = {
        row.id: row.key_hash
        for row in session.execute(
            select(ApiKey.id, ApiKey.key_hash).where(ApiKey.revoked_at.is_(None))
        )
    }
    return Directory(agents=agents, users=users, key_hashes=keys)


def _dump(d: Directory) -> dict[str, Any]:
    return {
        "agents": {
            i: [a.owner_id, a.team_id, a.sponsor_id, a.risk_tier, a.suspended]
            for i, a in d.agents.items()
        },
        "users": dict(d.users),
        "key_hashes": dict(d.key_hashes),
    }


def _parse(raw: Any) -> Directory:
    return Directory(
        agents={i: AgentState(*v) for i, v in raw["agents"].items()},
        users={k: bool(v) for k, v in raw["users"].items()},
        key_hashes=dict(raw["key_hashes"]),
    )


register_section(Section(SECTION, load_directory, _dump, _parse, Directory))

__all__ = ["SECTION", "AgentState", "Directory", "load_directory"]
