"""Build a gateway's metrics and telemetry from its configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING

from steward.observability.metrics import Metrics
from steward.observability.settings import ObservabilitySettings

if TYPE_CHECKING:
    from steward.gateway.state import Gateway
    from steward.observability.tracing import Telemetry


class _GatewayProbe:
    """Scrape-time gauges read from the gateway's spool and snapshot."""

    def __init__(self, gw: Gateway) -> None:
        self._gw = gw

    def spool_depth(self) -> int:
        return self._gw.spool.depth()

    def snapshot_version(self) -> int:
        return self._gw.snapshots.current.version

    def store_reachable(self) -> bool:
        return self._gw.snapshots.healthy


def build_metrics(gw: Gateway) -> Metrics:
    """The gateway's Prometheus metrics (also when /metrics is off: other parts record
    through them regardless)."""
    return Metrics(
        models=[m.name for m in gw.config.models],
        providers=list(gw.config.providers),
        label_limit=gw.config.observability.label_limit,
        names=lambda: gw.snapshots.current.names,
        probe=_GatewayProbe(gw),
    )


def build_telemetry(settings: ObservabilitySettings) -> Telemetry | None:
    """OTLP export when an endpoint is configured; otherwise None, and the OpenTelemetry SDK is
    not even imported."""
    if settings.otlp_endpoint is None:
        return None
    from steward.observability.tracing import Telemetry

    return Telemetry.otlp(settings)
