"""The `slos:` and `slo_worker:` sections of the configuration: what "wrong" means per app or
model, how much of it is acceptable, and how often the scheduler evaluates it."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from steward.identity.durations import parse_duration
from steward.identity.errors import Invalid


def check_duration(text: str) -> str:
    """Validate a duration such as `5m`, `1h` or `28d` (kept as written)."""
    try:
        parse_duration(text)
    except Invalid as exc:
        raise ValueError(exc.message) from None
    return text


def seconds(text: str) -> float:
    """A validated duration in seconds."""
    return parse_duration(text).total_seconds()


def delta(text: str) -> timedelta:
    return parse_duration(text)


Duration = Annotated[str, AfterValidator(check_duration)]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][\w.:-]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BurnAlert(_Strict):
    """One multi-window burn-rate alert: it fires when the burn rate over BOTH windows exceeds
    `factor` (the long window proves it is significant, the short one that it is still going)."""

    long: Duration
    short: Duration
    factor: float = Field(gt=0, description="Burn rate (multiple of the sustainable rate).")
    severity: Literal["page", "ticket"] = "page"

    @model_validator(mode="after")
    def _short_is_shorter(self) -> BurnAlert:
        if seconds(self.short) >= seconds(self.long):
            raise ValueError(f"short window {self.short} must be shorter than long {self.long}")
        return self


# The Google SRE workbook's recommendation for a 30-day SLO: 2% of the budget in 1 h, 5% in
# 6 h (both paging) and 10% in 3 days (a ticket).
DEFAULT_ALERTS = (
    BurnAlert(long="1h", short="5m", factor=14.4, severity="page"),
    BurnAlert(long="6h", short="30m", factor=6.0, severity="page"),
    BurnAlert(long="3d", short="6h", factor=1.0, severity="ticket"),
)


class SLOConfig(_Strict):
    """A service level objective on one app and/or model alias (neither: all traffic)."""

    name: Name
    description: str = ""
    kind: Literal["quality", "availability", "latency"] = Field(
        description="quality: share of evaluated answers labelled pass; availability: share "
        "of requests not answered 5xx; latency: share of successful requests under "
        "latency_threshold_ms."
    )
    objective: float = Field(gt=0, lt=1, description="Target share of good events, e.g. 0.97.")
    window: Duration = Field("28d", description="The SLO (error budget) window.")
    app: str | None = Field(None, description="App name (or id) the SLO is about.")
    model: str | None = Field(None, description="Model alias the SLO is about.")
    latency_threshold_ms: float | None = Field(
        None, gt=0, description="latency SLOs: a good request is answered within this."
    )
    evaluator: str | None = Field(
        None, description="quality SLOs: only records of this evaluator (default: all)."
    )
    min_events: int = Field(
        30, ge=1, description="A burn-rate window with fewer events never alerts."
    )
    confidence: float = Field(
        0.95, gt=0, lt=1, description="Confidence level of the interval for sampled SLIs."
    )
    interval: Literal["auto", "wilson", "clopper_pearson", "none"] = Field(
        "auto",
        description="Interval on the bad-event share; auto: wilson for quality (sampled), "
        "none for availability and latency (every request counted).",
    )
    alerts: list[BurnAlert] = Field(default_factory=lambda: list(DEFAULT_ALERTS))

    @model_validator(mode="after")
    def _coherent(self) -> SLOConfig:
        if self.kind == "latency" and self.latency_threshold_ms is None:
            raise ValueError("latency SLOs need latency_threshold_ms")
        if self.kind != "latency" and self.latency_threshold_ms is not None:
            raise ValueError("latency_threshold_ms applies to latency SLOs only")
        if self.evaluator is not None and self.kind != "quality":
            raise ValueError("evaluator applies to quality SLOs only")
        if not self.alerts:
            raise ValueError("list at least one burn-rate alert")
        return self

    @property
    def interval_method(self) -> str:
        """The interval actually used: `auto` resolved by kind."""
        if self.interval != "auto":
            return self.interval
        return "wilson" if self.kind == "quality" else "none"


class SloWorkerSettings(_Strict):
    """The scheduler that evaluates SLOs, drift and remediation rules."""

    interval_s: float = Field(60.0, gt=0, description="Seconds between evaluations.")
    drift_interval_s: float = Field(
        900.0, gt=0, description="Seconds between drift evaluations (heavier than SLOs)."
    )
    in_serve: bool = Field(
        False, description="Run the scheduler inside `steward serve` (one replica at a time)."
    )
    lock_id: int = Field(
        74110012, description="PostgreSQL advisory lock key that elects the running replica."
    )


__all__ = [
    "DEFAULT_ALERTS",
    "BurnAlert",
    "Duration",
    "Name",
    "SLOConfig",
    "SloWorkerSettings",
    "check_duration",
    "delta",
    "seconds",
]
