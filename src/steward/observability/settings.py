"""The `observability:` section of the configuration."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ObservabilitySettings(BaseModel):
    """Prometheus metrics on the gateway port, and OpenTelemetry traces and metrics over OTLP."""

    model_config = ConfigDict(extra="forbid")

    metrics: bool = Field(
        True, description="Count requests for Prometheus and serve them on GET /metrics."
    )
    metrics_token: str | None = Field(
        None,
        repr=False,
        description="When set (use ${ENV}), GET /metrics needs `Authorization: Bearer <token>`.",
    )
    label_limit: int = Field(
        200,
        ge=1,
        le=10_000,
        description="Distinct team and app names per label; further names are counted as other.",
    )
    otlp_endpoint: str | None = Field(
        None,
        description="OTLP/HTTP collector base URL (http://collector:4318); unset: no export.",
    )
    otlp_headers: dict[str, str] = Field(
        default_factory=dict, repr=False, description="Headers for the collector (use ${ENV})."
    )
    service_name: str = Field("steward", min_length=1, description="OTel `service.name`.")
    export_interval_ms: int = Field(
        5000, ge=100, description="How often OTel metrics are pushed to the collector."
    )
    sample_ratio: float = Field(
        1.0, ge=0, le=1, description="Share of traces kept (a caller's traceparent decides first)."
    )

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("otlp_endpoint must be an http:// or https:// URL")
        return url.rstrip("/") if url else url
