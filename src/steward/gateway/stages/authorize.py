"""authorize: may this principal use this model? (The key's allowed models and suspensions; the
Cedar policy stage replaces the model check when policy lands.)"""

from __future__ import annotations

from steward.gateway.context import RequestContext
from steward.gateway.errors import forbidden
from steward.gateway.stages.base import Stage


class Authorize(Stage):
    name = "authorize"

    async def on_request(self, ctx: RequestContext) -> None:
        p = ctx.principal
        assert p is not None, "authorize runs after authenticate"
        if p.suspended:
            raise forbidden(f"access suspended: {p.suspended}", code="principal_suspended")
        if ctx.model_alias is None or p.allowed_models is None:
            return
        if ctx.model_alias not in p.allowed_models:
            allowed = ", ".join(sorted(p.allowed_models))
            raise forbidden(
                f"this key may not use model '{ctx.model_alias}' (allowed: {allowed})",
                code="model_not_allowed",
            )
