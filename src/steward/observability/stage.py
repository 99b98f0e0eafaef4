"""observe: the last stage. Its on_finish counts the finished request for Prometheus and, when
OTLP export is configured, hands its span to the batch exporter. Microseconds, no I/O."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from steward.gateway.context import RequestContext
from steward.gateway.stages.base import Stage

if TYPE_CHECKING:
    from steward.gateway.state import Gateway
    from steward.observability.metrics import Metrics
    from steward.observability.tracing import Telemetry

log = logging.getLogger("steward.observability")


class Observe(Stage):
    name = "observe"

    def __init__(
        self,
        metrics: Metrics | None,
        telemetry: Telemetry | None,
        names: Callable[[], Mapping[str, str]],
    ) -> None:
        self._metrics = metrics
        self._telemetry = telemetry
        self._names = names

    async def on_finish(self, ctx: RequestContext) -> None:
        # Observability never fails a request: errors are logged, not raised.
        try:
            if not ctx.latency_ms:  # normally set by the record stage just before
                ctx.latency_ms = (time.perf_counter() - ctx.started) * 1000.0
            if self._metrics is not None:
                self._metrics.observe(ctx)
            if self._telemetry is not None:
                self._trace(ctx, self._telemetry)
        except Exception:
            log.exception("could not observe request %s", ctx.request_id)

    def _trace(self, ctx: RequestContext, telemetry: Telemetry) -> None:
        p = ctx.principal
        names = self._names()
        team = names.get(p.team_id) if p is not None and p.team_id else None
        app = names.get(p.app_id) if p is not None and p.app_id else None
        telemetry.defer(ctx, team, app)


def observe_stage(gw: Gateway) -> tuple[Stage, ...]:
    """The observe stage for `build_pipeline`, or nothing when metrics are off and no OTLP
    endpoint is configured (then observability costs nothing per request)."""
    metrics = gw.metrics if gw.config.observability.metrics else None
    if metrics is None and gw.telemetry is None:
        return ()
    return (Observe(metrics, gw.telemetry, lambda: gw.snapshots.current.names),)
