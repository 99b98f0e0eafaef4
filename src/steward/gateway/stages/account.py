"""account: tokens and cost from the provider's reported usage."""

from __future__ import annotations

from steward.gateway.context import RequestContext
from steward.gateway.stages.base import Stage
from steward.usage.pricing import Pricer


class Account(Stage):
    name = "account"

    def __init__(self, pricer: Pricer) -> None:
        self._pricer = pricer

    async def on_finish(self, ctx: RequestContext) -> None:
        dep = ctx.deployment
        if dep is None or ctx.usage is None:
            return
        ctx.cost_usd, ctx.price_source = self._pricer.cost(
            dep.model, dep.provider_name, dep.provider, ctx.usage
        )
