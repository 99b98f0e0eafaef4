"""Request and response bodies of the admin API. Records from the identity service (plain
dataclasses) are returned as they are; these models cover what the service does not define."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from steward.config.models import DataClass, RiskTier
from steward.identity.records import AdminKeyInfo, ApiKeyInfo

SHOWN_ONCE = "Store this key now: it is shown only once and cannot be retrieved again."


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TeamCreate(_Body):
    name: str = Field(description="Unique team name, e.g. 'support'.")
    description: str = ""


class UserCreate(_Body):
    name: str = Field(description="Unique user name, e.g. 'alice'.")
    email: str | None = None
    teams: list[str] = Field(default_factory=list, description="Team names or ids to join.")


class AppCreate(_Body):
    name: str
    team: str | None = Field(None, description="Team name or id the app belongs to.")
    owner: str | None = Field(None, description="User name or id accountable for the app.")
    description: str = ""
    purpose: str = ""
    data_classes: list[DataClass] = Field(default_factory=list, description="e.g. ['pii'].")
    risk_tier: RiskTier | None = None


class AppUpdate(_Body):
    """Fields to change; omitted ones stay as they are. "" clears `team` or `owner`."""

    team: str | None = None
    owner: str | None = None
    description: str | None = None
    purpose: str | None = None
    data_classes: list[DataClass] | None = None
    risk_tier: RiskTier | None = None
    managed: bool | None = Field(None, description="true brings a discovered app under management.")


class AgentUpdate(_Body):
    """Fields to change; omitted ones stay as they are. `owner` must name a user."""

    owner: str | None = None
    team: str | None = None
    purpose: str | None = None
    data_classes: list[DataClass] | None = None
    risk_tier: RiskTier | None = None
    sponsor: str | None = Field(None, description="A user who sponsors the agent; '' clears.")


class AgentCreate(_Body):
    name: str
    owner: str = Field(description="The accountable user (name or id); required.")
    team: str | None = None
    purpose: str = ""
    risk_tier: Literal["minimal", "limited", "high", "prohibited"] = "limited"
    sponsor: str | None = Field(None, description="An optional sponsor (a user, name or id).")


class ServiceAccountCreate(_Body):
    name: str
    team: str | None = None
    description: str = ""


class Reason(_Body):
    reason: str = Field("", description="Why; recorded in the audit trail.")


class KeyCreate(_Body):
    """Exactly one of user, agent or service_account, or an app alone for an app key."""

    user: str | None = None
    agent: str | None = None
    service_account: str | None = None
    app: str | None = None
    team: str | None = Field(
        None, description="For user keys: one of the user's teams (default: their only team)."
    )
    name: str = ""
    models: list[str] | None = Field(None, description="Allowed model names; omit for all.")
    expires_in: str | None = Field(None, description="Duration such as 30d, 12h or 90m.")
    expires_at: datetime | None = Field(None, description="Absolute expiry (ISO 8601).")


class CreatedKey(BaseModel):
    key: str = Field(description="The key itself. Returned only in this response.")
    note: str = SHOWN_ONCE
    api_key: ApiKeyInfo


class AdminKeyCreate(_Body):
    name: str = ""
    role: Literal["admin", "auditor"] = "admin"


class CreatedAdminKey(BaseModel):
    key: str = Field(description="The admin key itself. Returned only in this response.")
    note: str = SHOWN_ONCE
    admin_key: AdminKeyInfo


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str | None = None


class ErrorBody(BaseModel):
    """OpenAI-style error body returned with every 4xx and 5xx status."""

    error: ErrorDetail
