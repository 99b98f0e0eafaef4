"""authorize: may this principal use this model? Suspensions first, then the Cedar policy
decision (`gw.policy.decide_model`), which also carries the key's allowed models as the
built-in policy `steward/key-models`."""

from __future__ import annotations

from steward.events.sink import audit_record
from steward.gateway.context import RequestContext
from steward.gateway.errors import forbidden
from steward.gateway.stages.base import Stage
from steward.policy.audit import decision_row
from steward.policy.engine import PolicyEngine

KEY_MODELS = "steward/key-models"


class Authorize(Stage):
    name = "authorize"

    def __init__(self, policy: PolicyEngine) -> None:
        self._policy = policy

    async def on_request(self, ctx: RequestContext) -> None:
        p = ctx.principal
        assert p is not None, "authorize runs after authenticate"
        if p.suspended:
            raise forbidden(f"access suspended: {p.suspended}", code="principal_suspended")
        if ctx.model_alias is None:
            return
        decision = self._policy.decide_model(p, ctx.model_alias, {"endpoint": ctx.endpoint})
        if decision.allowed and not decision.recordable:
            return
        if decision.policies == (KEY_MODELS,) and not decision.allowed:
            # the key's own scope: audited as gateway.authorize with its own code
            allowed = ", ".join(sorted(p.allowed_models or ()))
            raise forbidden(
                f"this key may not use model '{ctx.model_alias}' (allowed: {allowed})",
                code="model_not_allowed",
            )
        ctx.extra_events.append(
            audit_record(
                decision_row(
                    decision,
                    p,
                    action="invoke_model",
                    target_type="model",
                    target_id=ctx.model_alias,
                    request_id=ctx.request_id,
                    ts=ctx.received_at,
                )
            )
        )
        if not decision.allowed:
            raise forbidden(f"policy denied: {decision.reason}", code="policy_denied")
