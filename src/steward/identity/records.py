"""Plain records the identity service returns, so front ends never touch ORM objects or sessions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

ActorType = Literal["admin", "cli", "system"]
RiskTier = Literal["minimal", "limited", "high", "prohibited"]
AdminRole = Literal["admin", "auditor"]
PrincipalType = Literal["user", "app", "agent", "service"]
KeyStatus = Literal["active", "suspended", "expired", "revoked"]

RISK_TIERS: tuple[str, ...] = ("minimal", "limited", "high", "prohibited")
# the inventory's data classes; config.models.DataClass lists the same (a test checks)
DATA_CLASSES: tuple[str, ...] = (
    "public",
    "internal",
    "confidential",
    "pii",
    "financial",
    "health",
    "secret",
)
ADMIN_ROLES: tuple[str, ...] = ("admin", "auditor")


@dataclass(frozen=True)
class Actor:
    """Who performs a change: an admin key (id and role), a CLI operator, or Steward itself."""

    type: ActorType
    id: str
    role: str | None = None
    request_id: str | None = None

    def label(self) -> str:
        return f"{self.type}:{self.id}"


SYSTEM_ACTOR = Actor("system", "steward")


@dataclass(frozen=True)
class TeamInfo:
    id: str
    name: str
    description: str
    members: list[str]
    created_at: datetime


@dataclass(frozen=True)
class UserInfo:
    id: str
    name: str
    email: str | None
    teams: list[str]
    suspended: bool
    created_at: datetime


@dataclass(frozen=True)
class AppInfo:
    id: str
    name: str
    team: str | None
    team_id: str | None
    owner: str | None
    owner_id: str | None
    description: str
    suspended: bool
    created_at: datetime
    purpose: str = ""
    data_classes: list[str] = field(default_factory=list)
    risk_tier: str | None = None  # None: not yet classified
    managed: bool = True  # False: found by shadow-AI discovery, not registered by hand


@dataclass(frozen=True)
class AgentInfo:
    id: str
    name: str
    owner: str | None
    owner_id: str
    team: str | None
    team_id: str | None
    purpose: str
    risk_tier: str
    suspended: bool
    created_at: datetime
    data_classes: list[str] = field(default_factory=list)
    sponsor: str | None = None  # an optional executive sponsor (a user) beside the owner
    sponsor_id: str | None = None


@dataclass(frozen=True)
class ServiceAccountInfo:
    id: str
    name: str
    team: str | None
    team_id: str | None
    description: str
    suspended: bool
    created_at: datetime


@dataclass(frozen=True)
class ApiKeyInfo:
    """A virtual key as listed: never the plaintext, only its display prefix."""

    id: str
    name: str
    prefix: str
    principal_type: str
    status: KeyStatus
    user: str | None
    user_id: str | None
    team: str | None
    team_id: str | None
    app: str | None
    app_id: str | None
    agent: str | None
    agent_id: str | None
    service_account: str | None
    service_account_id: str | None
    models: list[str] | None
    expires_at: datetime | None
    revoked_at: datetime | None
    suspended: bool
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class AdminKeyInfo:
    id: str
    name: str
    prefix: str
    role: str
    revoked_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    id: str
    ts: datetime
    actor_type: str
    actor_id: str | None
    action: str
    target_type: str | None
    target_id: str | None
    outcome: str
    reason: str | None
    request_id: str | None
    details: dict[str, Any] | None = field(default=None)
    # when an agent acted: the agent, on whose behalf, its accountable owner, the chain
    agent_id: str | None = None
    on_behalf_of: str | None = None
    owner_id: str | None = None
    chain: list[str] | None = None


__all__ = [
    "ADMIN_ROLES",
    "DATA_CLASSES",
    "RISK_TIERS",
    "Actor",
    "ActorType",
    "AdminKeyInfo",
    "AdminRole",
    "AgentInfo",
    "ApiKeyInfo",
    "AppInfo",
    "AuditEntry",
    "KeyStatus",
    "PrincipalType",
    "RiskTier",
    "SYSTEM_ACTOR",
    "ServiceAccountInfo",
    "TeamInfo",
    "UserInfo",
]
