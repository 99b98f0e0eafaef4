"""What the inventory reports: apps, agents and models with their owners, purposes, data classes
and risk tiers, how much each is used, and the flags that need someone's attention."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Severity = Literal["high", "medium", "low"]
SEVERITIES: tuple[str, ...] = ("high", "medium", "low")


@dataclass(frozen=True)
class Flag:
    """One thing to fix: which entry (kind and name), a stable code, how urgent, and what to do."""

    kind: Literal["app", "agent", "model"]
    name: str
    code: str
    severity: Severity
    message: str


@dataclass(frozen=True)
class AppEntry:
    name: str
    owner: str | None
    team: str | None
    purpose: str
    data_classes: list[str]
    risk_tier: str | None
    managed: bool
    suspended: bool
    active_keys: int
    requests: int
    last_seen: datetime | None


@dataclass(frozen=True)
class AgentEntry:
    name: str
    owner: str | None
    team: str | None
    purpose: str
    data_classes: list[str]
    risk_tier: str
    suspended: bool
    active_keys: int
    requests: int
    last_seen: datetime | None


@dataclass(frozen=True)
class ModelUsage:
    """One (alias, provider, upstream model) seen in the usage ledger."""

    provider: str | None
    upstream_model: str | None
    requests: int
    first_seen: datetime | None
    last_seen: datetime | None


@dataclass(frozen=True)
class ModelEntry:
    """A model alias: from the catalogue (the configuration), or only seen in usage."""

    name: str
    in_catalogue: bool
    provider: str | None
    upstream_model: str | None
    owner: str | None
    purpose: str
    data_classes: list[str]
    risk_tier: str | None
    requests: int
    first_seen: datetime | None
    last_seen: datetime | None
    usage: list[ModelUsage] = field(default_factory=list)


@dataclass(frozen=True)
class Inventory:
    generated_at: datetime
    apps: list[AppEntry]
    agents: list[AgentEntry]
    models: list[ModelEntry]
    flags: list[Flag]


__all__ = [
    "SEVERITIES",
    "AgentEntry",
    "AppEntry",
    "Flag",
    "Inventory",
    "ModelEntry",
    "ModelUsage",
    "Severity",
]
