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

    def agent_refusal(
        self, agent_id: str, names: Mapping[str, str] | None = None
    ) -> tuple[str, str] | None:
        """(code, reason) if this agent may not act now: deleted, suspended, prohibited, or
        its accountable owner missing or suspended. `names` (the snapshot's) label ids."""
        label = f"'{names[agent_id]}'" if names and agent_id in names else agent_id
        agent = self.agents.get(agent_id)
        if agent is None:
            return "agent_unknown", f"agent {label} no longer exists"
        if agent.suspended:
            return "agent_suspended", f"agent {label} is suspended"
        if agent.risk_tier == "prohibited":
            return "agent_prohibited", f"agent {label} has risk tier 'prohibited'"
        if agent.owner_id is None or agent.owner_id not in self.users:
            return "agent_without_owner", f"agent {label} has no accountable owner"
        if self.users[agent.owner_id]:
            return "agent_owner_suspended", f"the owner of agent {label} is suspended"
        return None

    def agent_problem(self, agent_id: str, names: Mapping[str, str] | None = None) -> str | None:
        """Why this agent may not act now, or None."""
        refusal = self.agent_refusal(agent_id, names)
        return refusal[1] if refusal else None

    def user_problem(self, user_id: str, names: Mapping[str, str] | None = None) -> str | None:
        """Why this user may not be acted for."""
        label = f"'{names[user_id]}'" if names and user_id in names else user_id
        if user_id not in self.users:
            return f"user {label} no longer exists"
        if self.users[user_id]:
            return f"user {label} is suspended"
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
