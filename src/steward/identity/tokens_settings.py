"""The `agents:` section of the configuration: delegation tokens and their signing keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_ISSUER = "steward"


class AgentTokenSettings(BaseModel):
    """How agents' delegation tokens (RFC 8693 token exchange) are issued and checked."""

    model_config = ConfigDict(extra="forbid")

    issuer: str = Field(
        DEFAULT_ISSUER,
        min_length=1,
        max_length=200,
        description="The `iss` (and `aud`) of issued tokens, e.g. https://steward.example.com.",
    )
    token_ttl_s: int = Field(
        900, ge=10, le=86400, description="Lifetime of a token when the request names none."
    )
    max_token_ttl_s: int = Field(
        3600,
        ge=10,
        le=86400,
        description="Longest lifetime a token exchange may ask for (requested_lifetime).",
    )
    max_delegation_depth: int = Field(
        3, ge=1, le=10, description="Most agents in a delegation chain (agent, sub-agent, ...)."
    )
    key_rotation_days: float = Field(
        30.0,
        ge=0,
        le=3650,
        description="Age at which the signing key is replaced on the next exchange; 0: never.",
    )
    signing_key_passphrase: str | None = Field(
        None,
        repr=False,
        description="Encrypts signing private keys at rest in the store (use ${ENV}).",
    )
    clock_skew_s: int = Field(
        5, ge=0, le=300, description="Tolerance for `iat`/`nbf` in the future (clock skew)."
    )
    token_cache_size: int = Field(
        10000, ge=0, le=1_000_000, description="Verified tokens kept per process; 0: no cache."
    )

    @model_validator(mode="after")
    def _ttl_bounds(self) -> AgentTokenSettings:
        if self.token_ttl_s > self.max_token_ttl_s:
            raise ValueError(
                f"agents.token_ttl_s ({self.token_ttl_s}) exceeds agents.max_token_ttl_s "
                f"({self.max_token_ttl_s}); raise the maximum or shorten the default"
            )
        return self


__all__ = ["DEFAULT_ISSUER", "AgentTokenSettings"]
