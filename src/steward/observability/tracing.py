"""OpenTelemetry traces and metrics after the GenAI semantic conventions.

One span per request, made after the fact (in the observe stage, with the request's own start
and end times) and exported by a BatchSpanProcessor on its own thread, so nothing is traced on
the hot path itself. The span is of kind SERVER: it is the gateway's handling of a client's
call, and a child of the caller's span when the request carries a W3C `traceparent` header.
This module imports the OpenTelemetry SDK; it is imported only when OTLP export is configured.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from steward.observability.settings import ObservabilitySettings

if TYPE_CHECKING:
    from steward.gateway.context import RequestContext

log = logging.getLogger("steward.observability")

SCOPE = "steward.gateway"
EXPORT_TIMEOUT_S = 5.0  # per export, retries included: bounds how long a stop can take
# bucket boundaries the GenAI semantic conventions advise
DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
OPERATIONS = {"chat": "chat", "messages": "chat", "embeddings": "embeddings"}
_REQUEST_PARAMS = (
    ("max_tokens", "gen_ai.request.max_tokens"),
    ("temperature", "gen_ai.request.temperature"),
    ("top_p", "gen_ai.request.top_p"),
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("steward")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


class Telemetry:
    """The OpenTelemetry providers of one gateway (never the global ones)."""

    def __init__(
        self,
        settings: ObservabilitySettings,
        *,
        span_exporter: SpanExporter,
        metric_reader: MetricReader,
    ) -> None:
        resource = Resource.create(
            {"service.name": settings.service_name, "service.version": _version()}
        )
        self.tracer_provider = TracerProvider(
            resource=resource,
            sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
            shutdown_on_exit=False,
        )
        self.tracer_provider.add_span_processor(
            BatchSpanProcessor(span_exporter, schedule_delay_millis=settings.export_interval_ms)
        )
        self.meter_provider = MeterProvider(
            resource=resource, metric_readers=[metric_reader], shutdown_on_exit=False
        )
        self._tracer = self.tracer_provider.get_tracer(SCOPE, _version())
        meter = self.meter_provider.get_meter(SCOPE, _version())
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self._propagator = TraceContextTextMapPropagator()
        self._pending: list[tuple[RequestContext, str | None, str | None]] = []

    @classmethod
    def otlp(cls, settings: ObservabilitySettings) -> Telemetry:
        """Export to the OTLP/HTTP collector at `settings.otlp_endpoint` (its base URL)."""
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        base = settings.otlp_endpoint
        if base is None:
            raise ValueError("observability.otlp_endpoint is not set")
        headers = dict(settings.otlp_headers)
        return cls(
            settings,
            span_exporter=OTLPSpanExporter(
                endpoint=f"{base}/v1/traces", headers=headers, timeout=EXPORT_TIMEOUT_S
            ),
            metric_reader=PeriodicExportingMetricReader(
                OTLPMetricExporter(
                    endpoint=f"{base}/v1/metrics", headers=headers, timeout=EXPORT_TIMEOUT_S
                ),
                export_interval_millis=settings.export_interval_ms,
            ),
        )

    def defer(self, ctx: RequestContext, team: str | None, app: str | None) -> None:
        """Record the request on the event loop's next turn, once its response is written: the
        SDK's span and metric calls (tens of microseconds) stay out of the request's latency.
        Requests finished in the same turn are recorded together."""
        self._pending.append((ctx, team, app))
        if len(self._pending) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.drain)
            except RuntimeError:  # no loop (a synchronous caller): record now
                self.drain()

    def drain(self) -> None:
        """Record every deferred request."""
        pending, self._pending = self._pending, []
        for ctx, team, app in pending:
            try:
                self.record(ctx, team, app)
            except Exception:
                log.exception("could not trace request %s", ctx.request_id)

    def record(self, ctx: RequestContext, team: str | None, app: str | None) -> None:
        """The request's span (start and end times from the context) and GenAI metrics."""
        op = OPERATIONS.get(ctx.endpoint, ctx.endpoint)
        attrs = span_attributes(ctx, op, team, app)
        start_ns = int(ctx.received_at.timestamp() * 1e9)
        end_ns = start_ns + int(ctx.latency_ms * 1e6)
        parent = self._parent(ctx.headers)
        name = f"{op} {ctx.model_alias}" if ctx.model_alias else op
        span = self._tracer.start_span(
            name, context=parent, kind=SpanKind.SERVER, attributes=attrs, start_time=start_ns
        )
        if ctx.status >= 500:
            span.set_status(Status(StatusCode.ERROR, str(attrs.get("error.type", ctx.status))))
        span.end(end_time=end_ns)
        if ctx.model_alias is None:
            return
        metric_attrs = {
            k: v
            for k, v in attrs.items()
            if k
            in (
                "gen_ai.operation.name",
                "gen_ai.provider.name",
                "gen_ai.request.model",
                "gen_ai.response.model",
                "error.type",
            )
        }
        self._duration.record(ctx.latency_ms / 1000.0, metric_attrs)
        u = ctx.usage
        if u is not None:
            self._tokens.record(u.input_tokens, {**metric_attrs, "gen_ai.token.type": "input"})
            self._tokens.record(u.output_tokens, {**metric_attrs, "gen_ai.token.type": "output"})

    def _parent(self, headers: Mapping[str, str]) -> Context | None:
        if "traceparent" not in headers:
            return None
        return self._propagator.extract(carrier=headers)

    def force_flush(self, timeout_ms: int = 10_000) -> None:
        self.drain()
        self.tracer_provider.force_flush(timeout_ms)
        self.meter_provider.force_flush(timeout_ms)

    def shutdown(self) -> None:
        """Export what is pending and stop the exporter threads (blocking)."""
        self.drain()
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def span_attributes(
    ctx: RequestContext, op: str, team: str | None, app: str | None
) -> dict[str, AttributeValue]:
    """GenAI semantic-convention attributes (gen_ai.*, error.type) plus steward.* ones."""
    attrs: dict[str, AttributeValue] = {
        "gen_ai.operation.name": op,
        "http.response.status_code": ctx.status,
        "steward.request_id": ctx.request_id,
        "steward.endpoint": ctx.endpoint,
        "steward.stream": ctx.stream,
        "steward.attempts": ctx.attempts,
        "steward.overhead_ms": round(ctx.overhead_ms, 3),
    }
    dep = ctx.deployment or (ctx.route[0] if ctx.route else None)
    if ctx.model_alias:
        attrs["gen_ai.request.model"] = ctx.model_alias
    if dep is not None:
        attrs["gen_ai.provider.name"] = dep.provider.kind
        attrs["steward.provider"] = dep.provider_name
    if ctx.deployment is not None:
        attrs["gen_ai.response.model"] = ctx.deployment.model.target
    _request_params(ctx.body, attrs)
    _usage(ctx, attrs)
    if ctx.finish_reason:
        attrs["gen_ai.response.finish_reasons"] = (ctx.finish_reason,)
    if team is not None:
        attrs["steward.team"] = team
    if app is not None:
        attrs["steward.app"] = app
    if ctx.guard is not None and ctx.guard.worst is not None:
        attrs["steward.guard.action"] = ctx.guard.worst
    if ctx.status >= 400 or ctx.error_type:
        attrs["error.type"] = ctx.error_type or str(ctx.status)
    return attrs


def _usage(ctx: RequestContext, attrs: dict[str, AttributeValue]) -> None:
    u = ctx.usage
    if u is not None:
        attrs["gen_ai.usage.input_tokens"] = u.input_tokens
        attrs["gen_ai.usage.output_tokens"] = u.output_tokens
        if u.cached_tokens:
            attrs["gen_ai.usage.cache_read.input_tokens"] = u.cached_tokens
        if u.cache_write_tokens:
            attrs["gen_ai.usage.cache_creation.input_tokens"] = u.cache_write_tokens
        if u.reasoning_tokens:
            attrs["steward.usage.reasoning_tokens"] = u.reasoning_tokens
    if ctx.cost_usd is not None:
        attrs["steward.cost_usd"] = float(ctx.cost_usd)
    if ctx.ttft_ms is not None:
        attrs["steward.ttft_ms"] = round(ctx.ttft_ms, 3)


def _request_params(body: dict[str, Any], attrs: dict[str, AttributeValue]) -> None:
    for field, attr in _REQUEST_PARAMS:
        value = body.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            attrs[attr] = value


__all__ = ["DURATION_BUCKETS", "OPERATIONS", "TOKEN_BUCKETS", "Telemetry", "span_attributes"]
