"""Configuration of the model catalogue (`catalogue:` in the YAML): enforcement and the default
promotion gate. Documented in docs/catalogue.md."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class PromotionSettings(BaseModel):
    """The default gate of `steward deploy promote`: which golden dataset to run on the
    candidate, with which evaluators, and the pass rate each metric needs."""

    model_config = ConfigDict(extra="forbid")

    dataset: str | None = Field(
        None, description="Golden dataset (JSONL) run on a candidate before promotion."
    )
    evaluators: list[str] = Field(
        default_factory=list,
        description="Metrics to compute: answered, expected, evaluation kinds or evaluator "
        "names; empty: answered, refusal, empty, truncated, expected.",
    )
    thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="Minimum pass rate (0-1) per metric (evaluator name); others use "
        "`default_threshold`.",
    )
    default_threshold: float = Field(
        0.9, ge=0, le=1, description="Minimum pass rate of a metric without its own threshold."
    )
    min_items: int = Field(
        1, ge=1, description="Refuse a promotion whose run evaluated fewer items than this."
    )

    @field_validator("thresholds")
    @classmethod
    def _rates(cls, value: dict[str, float]) -> dict[str, float]:
        for name, rate in value.items():
            if not 0 <= rate <= 1:
                raise ValueError(f"threshold of '{name}' is {rate}; give a pass rate from 0 to 1")
        return value


class CatalogueSettings(BaseModel):
    """The model catalogue: whether only approved models may be routed to, and the gate."""

    model_config = ConfigDict(extra="forbid")

    enforce: bool = Field(
        False,
        description="true: only models the catalogue lists as approved (or deprecated) are "
        "routed to. false: models absent from the catalogue are routed as before; listed "
        "models still follow their state.",
    )
    promotion: PromotionSettings = Field(default_factory=PromotionSettings)


__all__ = ["CatalogueSettings", "PromotionSettings"]
