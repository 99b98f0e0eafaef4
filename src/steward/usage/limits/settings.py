"""The `budgets:` and `rate_limits:` sections of the configuration. Budgets themselves are data
(the admin API and `steward budgets`); these settings say how they are enforced."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

RateScope = Literal["key", "user", "team", "app", "agent", "model"]


class BudgetSettings(BaseModel):
    """How budgets (and rate limits) are enforced."""

    model_config = ConfigDict(extra="forbid")

    default_max_output_tokens: int = Field(
        4096,
        ge=0,
        description="Output tokens a request is assumed to use when it sets no max_tokens "
        "(its reservation is input estimate x input price + this x output price).",
    )
    redis_failure: Literal["fail_closed", "local"] = Field(
        "fail_closed",
        description="When Redis is unreachable: fail_closed refuses requests that a budget or "
        "rate limit applies to (503 limits_unavailable); local counts in this process instead.",
    )
    redis_timeout_ms: int = Field(
        1000,
        ge=10,
        le=10_000,
        description="Connect and command timeout for Redis (a busy gateway's event loop "
        "counts against it too, so keep it well above Redis's own latency).",
    )
    redis_retry_s: float = Field(
        1.0, gt=0, le=300, description="While Redis is down, try it again after this long."
    )
    redis_prefix: str = Field(
        "steward:",
        min_length=1,
        max_length=100,
        description="Prefix of every Redis key (separates deployments sharing one Redis).",
    )
    reservation_ttl_s: int = Field(
        900,
        ge=60,
        le=86_400,
        description="A reservation lapses after this long if its request never settles (a "
        "crashed gateway); keep it above the longest request.",
    )


class RateLimitConfig(BaseModel):
    """Requests and tokens per minute for one scope: every key (user, team, app, agent, model)
    separately, or the one named by `name`, which then replaces the scope's general entry."""

    model_config = ConfigDict(extra="forbid")

    scope: RateScope
    name: str | None = Field(
        None,
        description="The principal's name or id (a key's id or prefix; a model alias); omit "
        "for every one of the scope.",
    )
    rpm: int | None = Field(None, ge=1, description="Requests per minute.")
    tpm: int | None = Field(None, ge=1, description="Tokens (input and output) per minute.")

    @model_validator(mode="after")
    def _some_limit(self) -> RateLimitConfig:
        if self.rpm is None and self.tpm is None:
            raise ValueError("a rate limit needs rpm, tpm or both")
        return self


__all__ = ["BudgetSettings", "RateLimitConfig", "RateScope"]
