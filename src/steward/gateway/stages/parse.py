"""parse: decode and check the request body (after authentication, so an anonymous caller
learns nothing about the API beyond 401)."""

from __future__ import annotations

from steward.gateway.context import RequestContext
from steward.gateway.requests import PARSERS, decode_json
from steward.gateway.stages.base import Stage


class Parse(Stage):
    name = "parse"

    async def on_request(self, ctx: RequestContext) -> None:
        PARSERS[ctx.endpoint](ctx, decode_json(ctx.raw_body))
