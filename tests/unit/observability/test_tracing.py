"""OpenTelemetry spans and GenAI metrics, exported to the SDK's in-memory exporter and reader."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from steward.observability.settings import ObservabilitySettings
from steward.observability.stage import Observe
from steward.observability.tracing import Telemetry
from steward.providers.base import Usage
from tests.unit.observability._ctx import NAMES, deployment, finished

PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


class Otel:
    def __init__(self, **settings: object) -> None:
        self.spans = InMemorySpanExporter()
        self.reader = InMemoryMetricReader()
        self.telemetry = Telemetry(
            ObservabilitySettings.model_validate({"export_interval_ms": 100, **settings}),
            span_exporter=self.spans,
            metric_reader=self.reader,
        )

    def finished_spans(self):  # type: ignore[no-untyped-def]
        self.telemetry.force_flush()
        return self.spans.get_finished_spans()

    def points(self, name: str) -> list[HistogramDataPoint]:
        self.telemetry.drain()
        data = self.reader.get_metrics_data()
        out: list[HistogramDataPoint] = []
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == name:
                        out.extend(m.data.data_points)  # type: ignore[arg-type]
        return out


@pytest.fixture
def otel() -> Iterator[Otel]:
    o = Otel()
    yield o
    o.telemetry.shutdown()


async def observe(otel: Otel, ctx) -> None:  # type: ignore[no-untyped-def]
    await Observe(None, otel.telemetry, lambda: NAMES).on_finish(ctx)


async def test_chat_span_has_the_genai_attributes(otel: Otel) -> None:
    ctx = finished(
        usage=Usage(input_tokens=100, output_tokens=20, cached_tokens=40, reasoning_tokens=5),
        body={"model": "gpt", "max_tokens": 64, "temperature": 0.2},
        attempts=1,
    )
    await observe(otel, ctx)
    (span,) = otel.finished_spans()
    assert span.name == "chat gpt"
    assert span.kind is SpanKind.SERVER
    a = dict(span.attributes or {})
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == "gpt"
    assert a["gen_ai.response.model"] == "gpt-4o-mini"
    assert a["gen_ai.usage.input_tokens"] == 100
    assert a["gen_ai.usage.output_tokens"] == 20
    assert a["gen_ai.usage.cache_read.input_tokens"] == 40
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["gen_ai.request.max_tokens"] == 64
    assert a["gen_ai.request.temperature"] == 0.2
    assert a["steward.request_id"] == ctx.request_id
    assert a["steward.team"] == "payments"
    assert a["steward.app"] == "checkout-bot"
    assert a["steward.cost_usd"] == float(Decimal("0.0012"))
    assert a["steward.usage.reasoning_tokens"] == 5
    assert "error.type" not in a
    assert not any("user" in k or "key" in k for k in a)  # no user or key ids on spans
    assert span.status.status_code is StatusCode.UNSET
    assert span.parent is None


async def test_span_times_come_from_the_request(otel: Otel) -> None:
    ctx = finished()
    await observe(otel, ctx)
    (span,) = otel.finished_spans()
    start = int(ctx.received_at.timestamp() * 1e9)
    assert abs((span.start_time or 0) - start) < 1_000
    assert abs((span.end_time or 0) - (span.start_time or 0) - 250_000_000) < 1_000


async def test_embeddings_and_anthropic_operations(otel: Otel) -> None:
    await observe(otel, finished(endpoint="embeddings", alias="emb", dep=deployment("emb")))
    await observe(
        otel,
        finished(endpoint="messages", alias="claude", dep=deployment("claude", "a", "anthropic")),
    )
    names = {s.name: dict(s.attributes or {}) for s in otel.finished_spans()}
    assert names["embeddings emb"]["gen_ai.operation.name"] == "embeddings"
    assert names["chat claude"]["gen_ai.provider.name"] == "anthropic"


async def test_errors_set_error_type_and_5xx_the_span_status(otel: Otel) -> None:
    await observe(otel, finished(status=503, error_type="upstream_unavailable"))
    await observe(otel, finished(status=429, error_type="rate_limit_exceeded"))
    await observe(otel, finished(status=401, alias=None, authenticated=False))
    spans = {s.attributes["http.response.status_code"]: s for s in otel.finished_spans()}  # type: ignore[index]
    assert spans[503].attributes["error.type"] == "upstream_unavailable"  # type: ignore[index]
    assert spans[503].status.status_code is StatusCode.ERROR
    assert spans[429].attributes["error.type"] == "rate_limit_exceeded"  # type: ignore[index]
    assert spans[429].status.status_code is StatusCode.UNSET  # the client's doing, not ours
    assert spans[401].name == "chat"
    assert spans[401].attributes["error.type"] == "401"  # type: ignore[index]


async def test_an_incoming_traceparent_is_the_parent(otel: Otel) -> None:
    ctx = finished(headers={"traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"})
    await observe(otel, ctx)
    (span,) = otel.finished_spans()
    assert f"{span.context.trace_id:032x}" == PARENT_TRACE
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == PARENT_SPAN
    assert span.parent.is_remote


async def test_sampling_ratio_zero_keeps_only_sampled_parents() -> None:
    o = Otel(sample_ratio=0.0)
    try:
        await observe(o, finished())
        await observe(o, finished(headers={"traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"}))
        await observe(o, finished(headers={"traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-00"}))
        spans = o.finished_spans()
        assert len(spans) == 1
        assert f"{spans[0].context.trace_id:032x}" == PARENT_TRACE
    finally:
        o.telemetry.shutdown()


async def test_genai_metrics(otel: Otel) -> None:
    await observe(otel, finished())
    await observe(otel, finished(status=401, alias=None, authenticated=False))  # no model: none
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert duration.count == 1
    assert abs(duration.sum - 0.25) < 1e-9
    assert duration.attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt",
        "gen_ai.response.model": "gpt-4o-mini",
    }
    tokens = {
        p.attributes["gen_ai.token.type"]: p for p in otel.points("gen_ai.client.token.usage")
    }  # type: ignore[index]
    assert tokens["input"].sum == 100
    assert tokens["output"].sum == 20
    assert list(duration.explicit_bounds)[:3] == [0.01, 0.02, 0.04]


async def test_the_service_name_is_on_the_resource() -> None:
    o = Otel(service_name="steward-eu")
    try:
        await observe(o, finished())
        (span,) = o.finished_spans()
        assert span.resource.attributes["service.name"] == "steward-eu"
    finally:
        o.telemetry.shutdown()


async def test_observe_never_fails_a_request(otel: Otel) -> None:
    ctx = finished()
    ctx.received_at = None  # type: ignore[assignment]  # something unexpected inside
    await observe(otel, ctx)  # logged, not raised
    assert otel.finished_spans() == ()


def test_without_an_endpoint_no_telemetry_is_set_up(tmp_path: Path) -> None:
    code = f"""
import sys
from steward.config.models import StewardConfig
from steward.config.settings import Runtime, Settings
from steward.gateway.state import Gateway
rt = Runtime(StewardConfig(), Settings(data_dir={str(tmp_path)!r}), None)
gw = Gateway(rt)
assert gw.telemetry is None
assert [s.name for s in gw.pipeline.after][-1] == "observe"
assert "steward.observability.tracing" not in sys.modules, "telemetry module imported"
gw.engine.dispose()
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


async def test_spans_are_made_on_the_loops_next_turn(otel: Otel) -> None:
    await observe(otel, finished())
    otel.telemetry.tracer_provider.force_flush()
    assert otel.spans.get_finished_spans() == ()  # not yet: the response goes out first
    await asyncio.sleep(0)
    otel.telemetry.tracer_provider.force_flush()
    assert len(otel.spans.get_finished_spans()) == 1
