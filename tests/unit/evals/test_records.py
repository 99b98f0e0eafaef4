"""Evaluation records: stable ids (re-evaluation adds nothing) and their export to OpenTelemetry
as spans carrying a `gen_ai.evaluation.result` event."""

from __future__ import annotations

from datetime import UTC, datetime

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from steward.evals.evaluators import Outcome
from steward.evals.records import EVENT_NAME, export, record_id, record_row
from steward.observability.settings import ObservabilitySettings
from steward.observability.tracing import Telemetry


def test_record_ids_are_stable_per_subject_and_evaluator() -> None:
    assert record_id("sample:1", "refusal") == record_id("sample:1", "refusal")
    assert record_id("sample:1", "refusal") != record_id("sample:1", "json")
    assert record_id("sample:1", "refusal") != record_id("sample:2", "refusal")


def test_export_as_spans_with_the_evaluation_event() -> None:
    spans = InMemorySpanExporter()
    telemetry = Telemetry(
        ObservabilitySettings.model_validate({"export_interval_ms": 100}),
        span_exporter=spans,
        metric_reader=InMemoryMetricReader(),
    )
    outcome = Outcome("helpful", "judge", 0.75, "pass", "grade 4/5: clear", 0.5)
    row = record_row(
        outcome,
        subject_key="sample:abc",
        ts=datetime.now(UTC),
        request_id="req-1",
        response_id="chatcmpl-9",
        app_id="app-1",
        model="gpt",
    )
    export(telemetry, [row])
    telemetry.force_flush()
    (span,) = spans.get_finished_spans()
    assert span.name == "evaluation helpful"
    (event,) = span.events
    assert event.name == EVENT_NAME
    attrs = dict(event.attributes or {})
    assert attrs["gen_ai.evaluation.name"] == "helpful"
    assert attrs["gen_ai.evaluation.score.value"] == 0.75
    assert attrs["gen_ai.evaluation.score.label"] == "pass"
    assert attrs["gen_ai.evaluation.explanation"] == "grade 4/5: clear"
    assert attrs["gen_ai.response.id"] == "chatcmpl-9"
    assert attrs["steward.request_id"] == "req-1"
    telemetry.shutdown()
    export(None, [row])  # no telemetry configured: nothing happens
