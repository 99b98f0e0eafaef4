"""Plain records the catalogue services return to the CLI and the admin API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ModelInfo:
    """A model in use and its catalogue entry (`state` None: not in the catalogue)."""

    kind: str  # alias | upstream
    name: str
    state: str | None
    routable: bool  # may requests be routed to it under the current enforcement
    configured: bool  # does the configuration use it
    owner: str | None = None  # user name
    owner_id: str | None = None
    data_classes: list[str] | None = None
    reason: str = ""
    updated_at: datetime | None = None
    updated_by: str = ""


@dataclass(frozen=True)
class DeploymentChange:
    id: str
    ts: datetime
    action: str
    before: dict[str, Any]
    after: dict[str, Any]
    actor: str
    rolled_back: bool
    evaluation: dict[str, Any] | None = None


@dataclass(frozen=True)
class DeploymentInfo:
    """How an alias is served now: the configured and effective primary, the canary."""

    alias: str
    configured: str  # provider/model from the configuration
    primary: str  # what serves the alias's (non-canary) traffic
    candidate: str | None
    percent: float
    states: dict[str, str | None]  # upstream model -> catalogue state
    history: list[DeploymentChange] = field(default_factory=list)


__all__ = ["DeploymentChange", "DeploymentInfo", "ModelInfo"]
