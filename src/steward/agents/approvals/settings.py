"""The `approvals:` section of the configuration."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ApprovalSettings(BaseModel):
    """How long human approvals wait and how a granted one may be used."""

    model_config = ConfigDict(extra="forbid")

    ttl_s: float = Field(
        3600.0, gt=0, description="Seconds a pending approval waits for a decision; then expired."
    )
    grant_ttl_s: float = Field(
        900.0, gt=0, description="Seconds an approved action may be carried out; then expired."
    )
    single_use: bool = Field(
        True,
        description="An approval authorises one call (consumed); false: any number of "
        "identical calls until it expires.",
    )
    wait_s: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="Seconds a held call waits for the decision before answering pending.",
    )
    poll_ms: int = Field(
        500,
        ge=50,
        le=10000,
        description="How often a waiting call reads the decision from the store.",
    )
    redact_arguments: bool = Field(
        True, description="Replace secrets the guard finds in stored and notified arguments."
    )
