"""The refusals of the limit stage, with the messages and headers a client needs: which budget
or limit, how far it is used, and when to retry."""

from __future__ import annotations

import math

from steward.gateway.errors import GatewayError
from steward.usage.budgets.periods import iso
from steward.usage.budgets.spec import BudgetSpec, from_nano
from steward.usage.ratelimit.rules import AppliedLimit
from steward.usage.ratelimit.window import duration


def _usd(nano: int) -> str:
    value = from_nano(nano)
    return f"{value:.6f}".rstrip("0").rstrip(".") if value else "0"


def _retry(seconds: float) -> dict[str, str]:
    return {"retry-after": str(max(1, math.ceil(seconds)))}


def budget_exceeded(
    spec: BudgetSpec,
    spent: int,
    reserved: int,
    cost: int,
    resets_at: int,
    now: float,
) -> GatewayError:
    """429 budget_exceeded: names the budget, its use and when it resets."""
    use = f"{_usd(spent)} USD spent"
    if reserved:
        use += f" and {_usd(reserved)} USD reserved by requests in flight"
    when = (
        f"spend leaves the rolling window as it ages; the oldest leaves it at {iso(resets_at)}"
        if spec.period == "rolling"
        else f"it resets at {iso(resets_at)}"
    )
    message = (
        f"{spec.describe()} is exhausted: {use}; this request may cost up to "
        f"{_usd(cost)} USD; {when}"
    )
    return GatewayError(
        429,
        message,
        type="insufficient_quota",
        code="budget_exceeded",
        headers=_retry(resets_at - now),
    )


def rate_limited(
    limit: AppliedLimit, tokens: bool, value: int, cost: int, retry_ms: int | None
) -> GatewayError:
    """429 rate_limit_exceeded: names the limit and when to retry."""
    if tokens:
        what = f"{value} tokens per minute"
        extra = f"; this request needs about {cost} input tokens"
    else:
        what = f"{value} requests per minute"
        extra = ""
    if retry_ms is None:
        hint = "it can never fit: shorten it or ask for a higher limit"
        wait = 60.0
    else:
        hint = f"retry in {duration(retry_ms)}"
        wait = retry_ms / 1000
    return GatewayError(
        429,
        f"rate limit exceeded: {limit.label} may use {what}{extra}; {hint}",
        type="rate_limit_error",
        code="rate_limit_exceeded",
        headers=_retry(wait),
    )


def unavailable() -> GatewayError:
    """503 limits_unavailable: Redis is down and budgets.redis_failure is fail_closed."""
    return GatewayError(
        503,
        "Steward cannot reach Redis, which holds the budget and rate-limit counters, and "
        "budgets.redis_failure is fail_closed, so requests that a budget or rate limit applies "
        "to are refused; retry shortly",
        type="api_error",
        code="limits_unavailable",
        headers={"retry-after": "1"},
    )


__all__ = ["budget_exceeded", "rate_limited", "unavailable"]
