"""The stage interface. Stages before the upstream call see `on_request`; stages after it see
`on_chunk` (streams) and `on_response`; every stage sees `on_finish`, errors included."""

from __future__ import annotations

from typing import Any

from steward.gateway.context import RequestContext


class Stage:
    """A pipeline stage: override only the hooks it needs."""

    name = "stage"
    # True: the pipeline calls `on_chunks` (async) for streamed events instead of `on_chunk`
    awaits_chunks = False

    async def on_request(self, ctx: RequestContext) -> None:
        """Before the upstream call. Raise GatewayError to stop the request."""

    def on_chunk(self, ctx: RequestContext, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Each streamed event in the client's wire format; return the events to pass on
        (none to withhold it, more to release held-back content before it)."""
        return [event]

    async def on_chunks(
        self, ctx: RequestContext, events: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """`on_chunk` for a stage that must await something (e.g. an approval request) before
        it can say which events to pass on; used when `awaits_chunks` is set."""
        return [out for event in events for out in self.on_chunk(ctx, event)]

    async def on_response(self, ctx: RequestContext) -> None:
        """After a complete answer (the whole stream, for streams)."""

    async def on_finish(self, ctx: RequestContext) -> None:
        """Always, once, before the response completes; `ctx.error` is set on failure."""
