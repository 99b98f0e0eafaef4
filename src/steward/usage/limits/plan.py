"""What a request must pass, worked out once per (key, model alias) and snapshot: the budgets
that apply to it, its rate limits, and the prices its reservation is computed with."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from steward.providers.tokens import (
    estimate_chat_tokens,
    estimate_embedding_tokens,
    estimate_messages_tokens,
)
from steward.usage.budgets.spec import BudgetSpec
from steward.usage.limits.settings import RateLimitConfig
from steward.usage.ratelimit.rules import AppliedLimit, applicable

if TYPE_CHECKING:
    from steward.gateway.context import Deployment, RequestContext
    from steward.identity.snapshot import Principal
    from steward.usage.pricing import Pricer

_NANO_PER_USD_PER_MTOK = 1000.0  # 1 USD per million tokens = 1000 nano-USD per token


@dataclass(frozen=True, slots=True)
class Plan:
    budgets: tuple[BudgetSpec, ...]
    limits: tuple[AppliedLimit, ...]
    input_nano: float  # nano-USD per input token on the primary deployment (0: unpriced)
    output_nano: float
    priced: bool
    counts_tokens: bool  # some limit is in tokens per minute

    @property
    def empty(self) -> bool:
        return not self.budgets and not self.limits


class BudgetIndex:
    """The snapshot's budgets by the principal they limit."""

    def __init__(self, budgets: Sequence[BudgetSpec]) -> None:
        self.all = tuple(budgets)
        self._by: dict[tuple[str, str | None], list[BudgetSpec]] = {}
        for b in budgets:
            self._by.setdefault((b.scope, b.target_id), []).append(b)

    def for_principal(self, p: Principal) -> list[BudgetSpec]:
        """Every budget on the key, its user, team, app and agent, and the organisation."""
        out = list(self._by.get(("org", None), ()))
        for scope, ident in (
            ("key", p.key_id),
            ("user", p.user_id),
            ("team", p.team_id),
            ("app", p.app_id),
            ("agent", p.agent_id),
        ):
            if ident is not None:
                out += self._by.get((scope, ident), ())
        return out


def make_plan(
    index: BudgetIndex,
    rules: Sequence[RateLimitConfig],
    names: Mapping[str, str],
    principal: Principal,
    alias: str | None,
    primary: Deployment | None,
    pricer: Pricer,
) -> Plan:
    provider = primary.provider_name if primary is not None else None
    budgets = tuple(
        b
        for b in index.for_principal(principal)
        if (b.model is None or b.model == alias) and (b.provider is None or b.provider == provider)
    )
    limits = applicable(rules, principal, alias, names)
    rates = (
        pricer.rates(primary.model, primary.provider_name, primary.provider)
        if primary is not None and budgets
        else None
    )
    return Plan(
        budgets=budgets,
        limits=limits,
        input_nano=float(rates.input) * _NANO_PER_USD_PER_MTOK if rates else 0.0,
        output_nano=float(rates.output) * _NANO_PER_USD_PER_MTOK if rates else 0.0,
        priced=rates is not None,
        counts_tokens=any(limit.tpm for limit in limits),
    )


def input_tokens(ctx: RequestContext) -> int:
    """The offline estimate of the request's input tokens."""
    body = ctx.body
    if ctx.endpoint == "chat":
        return estimate_chat_tokens(body)
    if ctx.endpoint == "messages":
        return estimate_messages_tokens(body)
    if ctx.endpoint == "embeddings":
        value: Any = body.get("input")
        return estimate_embedding_tokens(value) if isinstance(value, str | list) else 0
    return 0


def max_output_tokens(ctx: RequestContext, default: int) -> int:
    """The most output the request may produce: its own cap, else the configured default."""
    if ctx.endpoint == "embeddings":
        return 0
    for field in ("max_completion_tokens", "max_tokens"):
        value = ctx.body.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return default


def max_cost(plan: Plan, tokens_in: int, tokens_out: int) -> int:
    """The reservation in nano-USD, rounded up."""
    return math.ceil(tokens_in * plan.input_nano + tokens_out * plan.output_nano)


__all__ = ["BudgetIndex", "Plan", "input_tokens", "make_plan", "max_cost", "max_output_tokens"]
