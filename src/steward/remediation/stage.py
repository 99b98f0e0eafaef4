"""reroute: the pipeline stage, right after route, that honours remediation's routing overrides:
while an alias is rerouted, its requests skip the primary deployment and go to its fallbacks
(the snapshot carries the override to every process; one dictionary lookup per request)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from steward.gateway.context import RequestContext
from steward.gateway.stages.base import Stage
from steward.remediation.overrides import routing_skip

if TYPE_CHECKING:
    from steward.identity.snapshot import SnapshotHolder


class Reroute(Stage):
    name = "reroute"

    def __init__(self, snapshots: SnapshotHolder) -> None:
        self._snapshots = snapshots

    async def on_request(self, ctx: RequestContext) -> None:
        alias = ctx.model_alias
        if not alias or len(ctx.route) < 2:
            return
        skip = routing_skip(self._snapshots.current, alias)
        if skip:
            # never skip every deployment: the last fallback still serves
            ctx.route = ctx.route[min(skip, len(ctx.route) - 1) :]
