"""Micro-benchmark of the observe stage: what one finished request costs in Prometheus counters
and (with OTLP on) in making its span, in process, without the noise of a full HTTP run.

    .venv/bin/python bench/observe_bench.py [--n 200000]

The HTTP benchmark (gateway_bench.py) cannot resolve microseconds; this one isolates them. Spans
go to a BatchSpanProcessor with an exporter that drops them (the export itself runs on the
processor's thread). With OTLP on, the stage only queues the request; the SDK work runs on the
event loop's next turn, after the response is written: reported separately.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from steward.config.models import ModelConfig, ProviderConfig
from steward.gateway.context import Deployment, RequestContext
from steward.identity.snapshot import Principal
from steward.observability.metrics import Metrics
from steward.observability.settings import ObservabilitySettings
from steward.observability.stage import Observe
from steward.observability.tracing import Telemetry
from steward.providers.base import Usage

NAMES = {f"team-{i}": f"team name {i}" for i in range(50)} | {
    f"app-{i}": f"app name {i}" for i in range(50)
}


class Drop(SpanExporter):
    def export(self, spans: Sequence[object]) -> SpanExportResult:  # type: ignore[override]
        return SpanExportResult.SUCCESS


def contexts(n: int) -> list[RequestContext]:
    dep = Deployment(
        model=ModelConfig(name="bench", provider="fake", upstream_model="bench-upstream"),
        provider_name="fake",
        provider=ProviderConfig(kind="openai", base_url="http://127.0.0.1:9/v1"),
        adapter=None,  # type: ignore[arg-type]
    )
    out = []
    for i in range(n):
        ctx = RequestContext(
            request_id=f"req-{i}",
            endpoint="chat",
            wire="openai",
            started=time.perf_counter(),
            received_at=datetime.now(UTC),
            headers={},
            body={"model": "bench", "max_tokens": 64},
        )
        ctx.principal = Principal(
            f"key-{i}", "sk-stw-x", "user", f"user-{i}", f"team-{i % 50}", f"app-{i % 50}",
            None, None, None, None, None,
        )  # fmt: skip
        ctx.model_alias, ctx.deployment = "bench", dep
        ctx.usage = Usage(input_tokens=250, output_tokens=40, cached_tokens=100)
        ctx.cost_usd, ctx.finish_reason = Decimal("0.0000615"), "stop"
        ctx.latency_ms, ctx.overhead_ms, ctx.upstream_ms = 3.2, 0.6, 2.6
        out.append(ctx)
    return out


async def per_request_us(stage: Observe, ctxs: list[RequestContext]) -> float:
    t0 = time.perf_counter()
    for ctx in ctxs:
        await stage.on_finish(ctx)
    return (time.perf_counter() - t0) / len(ctxs) * 1e6


async def main(n: int) -> None:
    ctxs = contexts(n)
    metrics = Metrics(models=["bench"], providers=["fake"], names=lambda: NAMES)
    telemetry = Telemetry(
        ObservabilitySettings(otlp_endpoint="http://127.0.0.1:4318"),
        span_exporter=Drop(),
        metric_reader=InMemoryMetricReader(),
    )
    nothing = Observe(None, None, lambda: NAMES)
    prom = Observe(metrics, None, lambda: NAMES)
    both = Observe(metrics, telemetry, lambda: NAMES)
    for stage in (nothing, prom, both):  # warm caches
        await per_request_us(stage, ctxs[:1000])
    base = await per_request_us(nothing, ctxs)
    p = await per_request_us(prom, ctxs)
    telemetry.drain()
    b = await per_request_us(both, ctxs)
    t0 = time.perf_counter()
    telemetry.drain()  # what the event loop does on its next turn, after the responses
    deferred = (time.perf_counter() - t0) / n * 1e6
    telemetry.shutdown()
    print(f"requests per figure: {n}")
    print(f"empty stage (await + loop):          {base:7.2f} us/request")
    print(f"observe, Prometheus only:            {p:7.2f} us/request  (+{p - base:.2f})")
    print(f"observe, Prometheus + OTLP (inline): {b:7.2f} us/request  (+{b - base:.2f})")
    print(f"  + OTLP span and metrics, deferred: {deferred:7.2f} us/request (after the response)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--n", type=int, default=200_000)
    asyncio.run(main(ap.parse_args().n))
