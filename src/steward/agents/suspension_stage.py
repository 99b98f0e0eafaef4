"""The kill switch in the request pipeline: a stage right before authorize that refuses a
suspended principal (agent, delegation chain, user, app, key, the all-agents freeze) and a
suspended model, from the in-memory snapshot (no database on the request path)."""

from __future__ import annotations

from steward.agents.suspensions import blocked
from steward.gateway.context import RequestContext
from steward.gateway.errors import forbidden
from steward.gateway.stages.base import Stage
from steward.identity.snapshot import SnapshotHolder


class Suspended(Stage):
    """403 `principal_suspended` or `model_suspended`, with the reason recorded at suspension."""

    name = "suspension"

    def __init__(self, snapshots: SnapshotHolder) -> None:
        self._snapshots = snapshots

    async def on_request(self, ctx: RequestContext) -> None:
        p = ctx.principal
        assert p is not None, "the suspension check runs after authenticate"
        snapshot = self._snapshots.current
        reason = blocked(snapshot, p)
        if reason is not None:
            raise forbidden(f"access suspended: {reason}", code="principal_suspended")
        if ctx.model_alias is not None:
            reason = blocked(snapshot, p, model=ctx.model_alias)
            if reason is not None:
                raise forbidden(f"access suspended: {reason}", code="model_suspended")


__all__ = ["Suspended"]
