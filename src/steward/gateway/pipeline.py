"""The request pipeline: an ordered tuple of stages with the upstream call in its place.

    authenticate -> parse -> suspended -> authorize -> route -> reroute -> limit -> guard input
        -> clearance -> (upstream) -> guard output -> tool calls -> account -> record -> capture
        -> observe

The order lives in `build_pipeline` and nowhere else; the loop below maps failures to typed
errors and guarantees every stage's `on_finish` (so every request, failed or not, is recorded).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from steward.agents.suspension_stage import Suspended
from steward.catalogue.clearance import Clearance
from steward.gateway.context import RequestContext
from steward.gateway.errors import GatewayError
from steward.gateway.stages import Account, Authenticate, Authorize, Parse, Record, Route, Stage
from steward.gateway.stages._tool_calls_policy import ToolPolicy
from steward.gateway.stages.tool_calls import ToolCalls
from steward.guard.stage import GuardInput, GuardOutput
from steward.observability.stage import observe_stage
from steward.remediation.stage import Reroute
from steward.usage.limits.stage import Limit

if TYPE_CHECKING:
    from steward.gateway.state import Gateway

log = logging.getLogger("steward.pipeline")

UPSTREAM: Final = "upstream"


def build_pipeline(gw: Gateway) -> Pipeline:
    return Pipeline(
        (
            Authenticate(gw.snapshots, gw.credentials),
            Parse(),
            Suspended(gw.snapshots),  # the kill switch: suspended principals and models
            Authorize(gw.policy),
            Route(gw.routes, gw.catalogue),
            Reroute(gw.snapshots),  # remediation: an alias rerouted to its fallbacks
            Limit(gw.limits),  # after route: the reservation is priced on its deployment
            GuardInput(gw.guard),
            Clearance(gw.catalogue),  # models see only the data classes they are cleared for
            UPSTREAM,
            GuardOutput(gw.guard),
            ToolCalls(ToolPolicy(gw.policy, gw.approvals)),  # after guard output: the final calls
            Account(gw.pricer),
            Record(gw.sink),
            *gw.evals.stages(),  # capture: sampled requests kept for evaluation, off the path
            *observe_stage(gw),  # last: sees the recorded outcome
        )
    )


class RecordingFailed(Exception):
    """The durable event write failed: the response must not be acknowledged as a success."""


def fail(ctx: RequestContext, err: GatewayError) -> None:
    ctx.error = err
    ctx.status = err.status
    ctx.error_type = err.code or err.type


class Pipeline:
    def __init__(self, order: tuple[Stage | str, ...]) -> None:
        split = order.index(UPSTREAM)
        self.before: tuple[Stage, ...] = tuple(s for s in order[:split] if isinstance(s, Stage))
        self.after: tuple[Stage, ...] = tuple(s for s in order[split + 1 :] if isinstance(s, Stage))
        self.names = tuple(s.name if isinstance(s, Stage) else s for s in order)

    async def before_upstream(self, ctx: RequestContext) -> None:
        for stage in self.before:
            await stage.on_request(ctx)

    async def chunk(self, ctx: RequestContext, event: dict[str, Any]) -> list[dict[str, Any]]:
        events = [event]
        for stage in self.after:
            if stage.awaits_chunks:
                events = await stage.on_chunks(ctx, events)
            else:
                events = [out for ev in events for out in stage.on_chunk(ctx, ev)]
        return events

    async def after_upstream(self, ctx: RequestContext) -> None:
        for stage in self.after:
            await stage.on_response(ctx)

    async def finish(self, ctx: RequestContext) -> None:
        """Run every stage's on_finish. Raises RecordingFailed if any of them failed, since a
        request whose event is not durable must not be reported as served."""
        failed: BaseException | None = None
        for stage in (*self.before, *self.after):
            try:
                await stage.on_finish(ctx)
            except Exception as exc:
                log.exception("stage %s failed to finish request %s", stage.name, ctx.request_id)
                failed = exc
        if failed is not None:
            raise RecordingFailed(str(failed)) from failed

    async def run(
        self, ctx: RequestContext, upstream: Callable[[RequestContext], Awaitable[None]]
    ) -> None:
        """The rest of a non-streamed request once `before_upstream` passed: upstream, the
        stages after it, finish."""
        try:
            await upstream(ctx)
            await self.after_upstream(ctx)
        except GatewayError as err:
            fail(ctx, err)
        except Exception:
            log.exception("unexpected error in request %s", ctx.request_id)
            fail(ctx, internal_error(ctx))
        await self.finish(ctx)

    def stage(self, name: str) -> Stage:
        for s in (*self.before, *self.after):
            if s.name == name:
                return s
        raise KeyError(name)


def internal_error(ctx: RequestContext) -> GatewayError:
    return GatewayError(
        500,
        f"internal error in Steward; the request id is {ctx.request_id}",
        type="api_error",
        code="internal_error",
    )
