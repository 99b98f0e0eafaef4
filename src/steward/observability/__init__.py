"""Observability: Prometheus metrics on the gateway port, OpenTelemetry traces and metrics (GenAI
semantic conventions) over OTLP, and the observe stage that feeds both.

Only the settings are imported eagerly (the configuration models need them); everything else
loads on first use, so that a process that never serves requests never imports the metric
libraries, and one without OTLP export never imports the OpenTelemetry SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from steward.observability.settings import ObservabilitySettings

if TYPE_CHECKING:
    from steward.observability.endpoint import metrics_endpoint
    from steward.observability.labels import BoundedLabel
    from steward.observability.metrics import Metrics
    from steward.observability.setup import build_metrics, build_telemetry
    from steward.observability.stage import Observe, observe_stage
    from steward.observability.tracing import Telemetry

_LAZY = {
    "BoundedLabel": "labels",
    "Metrics": "metrics",
    "Observe": "stage",
    "Telemetry": "tracing",
    "build_metrics": "setup",
    "build_telemetry": "setup",
    "metrics_endpoint": "endpoint",
    "observe_stage": "stage",
}

__all__ = [
    "BoundedLabel",
    "Metrics",
    "Observe",
    "ObservabilitySettings",
    "Telemetry",
    "build_metrics",
    "build_telemetry",
    "metrics_endpoint",
    "observe_stage",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'steward.observability' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"steward.observability.{module}"), name)
