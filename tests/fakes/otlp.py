"""A fake OpenTelemetry collector: accepts OTLP/HTTP protobuf on POST /v1/traces and
/v1/metrics, decodes the bodies with opentelemetry-proto's message classes and keeps what
arrived. Served for real on loopback."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.fakes._serve import Receive, Scope, Send, ThreadedServer, headers_of, read_body, respond

PROTOBUF = "application/x-protobuf"


def value_of(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value_of(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return attributes(v.kvlist_value.values)
    return getattr(v, kind) if kind else None


def attributes(kvs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kvs:
        assert isinstance(kv, KeyValue)
        out[kv.key] = value_of(kv.value)
    return out


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    kind: int  # opentelemetry.proto.trace.v1.Span.SpanKind
    trace_id: str  # hex
    span_id: str
    parent_span_id: str
    start_ns: int
    end_ns: int
    status_code: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: str


@dataclass(frozen=True)
class ReceivedPoint:
    metric: str
    unit: str
    attributes: dict[str, Any]
    count: int  # histogram points
    sum: float
    resource: dict[str, Any] = field(default_factory=dict)


class CollectorApp:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[ReceivedSpan] = []
        self._points: list[ReceivedPoint] = []
        self.content_types: list[str] = []

    @property
    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    @property
    def points(self) -> list[ReceivedPoint]:
        with self._lock:
            return list(self._points)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        headers = headers_of(scope)
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        with self._lock:
            self.content_types.append(headers.get("content-type", ""))
        if scope["method"] != "POST":
            await respond(send, 405, b"", "text/plain")
        elif scope["path"] == "/v1/traces":
            self._traces(ExportTraceServiceRequest.FromString(body))
            await respond(send, 200, ExportTraceServiceResponse().SerializeToString(), PROTOBUF)
        elif scope["path"] == "/v1/metrics":
            self._metrics(ExportMetricsServiceRequest.FromString(body))
            await respond(send, 200, ExportMetricsServiceResponse().SerializeToString(), PROTOBUF)
        else:
            await respond(send, 404, b"", "text/plain")

    def _traces(self, req: ExportTraceServiceRequest) -> None:
        got = []
        for rs in req.resource_spans:
            resource = attributes(rs.resource.attributes)
            for ss in rs.scope_spans:
                for s in ss.spans:
                    got.append(
                        ReceivedSpan(
                            name=s.name,
                            kind=s.kind,
                            trace_id=s.trace_id.hex(),
                            span_id=s.span_id.hex(),
                            parent_span_id=s.parent_span_id.hex(),
                            start_ns=s.start_time_unix_nano,
                            end_ns=s.end_time_unix_nano,
                            status_code=s.status.code,
                            attributes=attributes(s.attributes),
                            resource=resource,
                            scope=ss.scope.name,
                        )
                    )
        with self._lock:
            self._spans.extend(got)

    def _metrics(self, req: ExportMetricsServiceRequest) -> None:
        got = []
        for rm in req.resource_metrics:
            resource = attributes(rm.resource.attributes)
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.WhichOneof("data") != "histogram":
                        continue
                    for p in m.histogram.data_points:
                        got.append(
                            ReceivedPoint(
                                m.name, m.unit, attributes(p.attributes), p.count, p.sum, resource
                            )
                        )
        with self._lock:
            self._points.extend(got)


class FakeCollector(ThreadedServer):
    """`with FakeCollector() as otlp:` ... `otlp.base_url` is the OTLP/HTTP endpoint."""

    def __init__(self) -> None:
        self.collector = CollectorApp()
        super().__init__(self.collector, name="fake-otlp")

    def start(self, timeout_s: float = 10.0) -> FakeCollector:
        super().start(timeout_s)
        return self

    def __enter__(self) -> FakeCollector:
        return self.start()

    def wait_for_spans(
        self,
        n: int,
        match: Callable[[ReceivedSpan], bool] = lambda s: True,
        timeout_s: float = 15.0,
    ) -> list[ReceivedSpan]:
        """The spans that `match`, once there are at least n of them."""
        deadline = time.monotonic() + timeout_s
        while True:
            spans = [s for s in self.collector.spans if match(s)]
            if len(spans) >= n or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if len(spans) < n:
            raise AssertionError(f"{len(spans)} matching spans arrived, wanted {n}")
        return spans

    def wait_for_metric(self, name: str, timeout_s: float = 15.0) -> list[ReceivedPoint]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            points = [p for p in self.collector.points if p.metric == name]
            if points:
                return points
            time.sleep(0.05)
        raise AssertionError(f"metric {name} did not arrive")
