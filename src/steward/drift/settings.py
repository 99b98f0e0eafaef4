"""The `drift:` section of the configuration: windows, thresholds and minimum volumes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from steward.slo.settings import Duration, seconds

Dimension = Literal["model", "app"]
DriftMetric = Literal[
    "latency",
    "answer_length",
    "error_rate",
    "refusal_rate",
    "finding_rate",
    "eval_score",
    "prompt_embedding",
]
ALL_METRICS: tuple[DriftMetric, ...] = (
    "latency",
    "answer_length",
    "error_rate",
    "refusal_rate",
    "finding_rate",
    "eval_score",
    "prompt_embedding",
)
_DIMENSIONS: tuple[Dimension, ...] = ("model", "app")


class DriftSettings(BaseModel):
    """Compare the current window of each model (and each app) with a baseline window."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Evaluate drift in the scheduler.")
    current: Duration = Field("1h", description="The current window, ending now.")
    baseline: Duration = Field(
        "24h", description="The baseline window, ending where the current window starts."
    )
    by: list[Dimension] = Field(
        default_factory=lambda: list(_DIMENSIONS),
        description="Scopes compared: each model alias (all apps), each app (all models).",
    )
    metrics: list[DriftMetric] = Field(
        default_factory=lambda: list(ALL_METRICS), description="Metrics compared."
    )
    min_samples: int = Field(
        200, ge=10, description="Values needed in EACH window before a metric is compared."
    )
    max_samples: int = Field(
        5000, ge=100, description="Most recent values read per window (bounds the work)."
    )
    psi_bins: int = Field(10, ge=2, le=100, description="Equal-mass bins of the baseline.")
    psi_warn: float = Field(0.1, gt=0, description="PSI at or above: a warn drift event.")
    psi_alert: float = Field(0.25, gt=0, description="PSI at or above: an alert drift event.")
    ks_alpha: float = Field(
        0.01, gt=0, lt=1, description="Continuous metrics also need a KS p-value below this."
    )
    rate_alpha: float = Field(
        0.01, gt=0, lt=1, description="Rates: two-proportion z-test p-value below this."
    )
    rate_min_delta: float = Field(
        0.02, gt=0, lt=1, description="Rates: and an absolute change of at least this."
    )
    embedding_alpha: float = Field(
        0.01, gt=0, lt=1, description="Prompt embeddings: permutation-test p-value below this."
    )
    embedding_min_distance: float = Field(
        0.05, ge=0, description="Prompt embeddings: and a mean-vector distance of at least this."
    )
    permutations: int = Field(500, ge=50, le=10_000, description="Permutations per test.")
    embedding_samples: int = Field(
        200, ge=10, le=5000, description="Sampled prompts embedded per window."
    )
    repeat_after: Duration = Field(
        "6h", description="No new event for the same scope and metric within this."
    )

    @model_validator(mode="after")
    def _coherent(self) -> DriftSettings:
        if self.psi_warn >= self.psi_alert:
            raise ValueError("psi_warn must be below psi_alert")
        if seconds(self.current) > seconds(self.baseline):
            raise ValueError("the baseline window must be at least as long as the current one")
        if self.max_samples < self.min_samples:
            raise ValueError("max_samples must be at least min_samples")
        return self


__all__ = ["ALL_METRICS", "DriftMetric", "DriftSettings"]
