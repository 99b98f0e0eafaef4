"""limit: rate limits and budget reservations before the upstream call, settled after it.
Placed after route, because the reservation is priced on the route's primary deployment."""

from __future__ import annotations

import logging

from steward.gateway.context import RequestContext
from steward.gateway.stages.base import Stage
from steward.usage.limits.engine import Limits

log = logging.getLogger("steward.limits")


class Limit(Stage):
    name = "limit"

    def __init__(self, limits: Limits) -> None:
        self._limits = limits

    async def on_request(self, ctx: RequestContext) -> None:
        if self._limits.active:
            ctx.limit = await self._limits.reserve(ctx)

    async def on_finish(self, ctx: RequestContext) -> None:
        res, ctx.limit = ctx.limit, None
        if res is None:
            return
        try:
            await self._limits.settle(ctx, res)
        except Exception:  # settling must never turn a served request into a failure
            log.exception("could not settle the limits of request %s", ctx.request_id)
