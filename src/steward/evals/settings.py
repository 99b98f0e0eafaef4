"""The `evaluation` configuration section: live sampling, retention, evaluators, the worker and
the LLM judge (docs/evaluation.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

EvaluatorKind = Literal[
    "refusal",
    "empty",
    "truncated",
    "json",
    "guard_findings",
    "language",
    "latency",
    "relevance",
    "topic",
    "judge",
]
# the evaluators used when `evaluation.evaluators` is empty: cheap, local, no model needed
DEFAULT_KINDS: tuple[EvaluatorKind, ...] = (
    "refusal",
    "empty",
    "truncated",
    "json",
    "guard_findings",
    "language",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SamplingSettings(_Strict):
    """Which successful chat requests are kept for evaluation: a share of request ids."""

    default_rate: float = Field(
        0.0, ge=0, le=1, description="Share of requests sampled when no app or model rate applies."
    )
    apps: dict[str, float] = Field(
        default_factory=dict, description="App name -> rate; wins over the model and default rate."
    )
    models: dict[str, float] = Field(
        default_factory=dict, description="Model alias -> rate; wins over the default rate."
    )
    max_chars: int = Field(
        20_000, ge=100, description="Characters kept of the answer and of the messages in all."
    )
    queue: int = Field(
        1000, ge=1, description="Samples waiting for redaction in memory; beyond it, dropped."
    )

    @model_validator(mode="after")
    def _rates(self) -> SamplingSettings:
        for where, rates in (("apps", self.apps), ("models", self.models)):
            for name, rate in rates.items():
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"sampling.{where}.{name}: rate {rate} is not in [0, 1]")
        return self

    @property
    def enabled(self) -> bool:
        """Whether any request can be sampled at all."""
        return (
            self.default_rate > 0
            or any(r > 0 for r in self.apps.values())
            or any(r > 0 for r in self.models.values())
        )


class EvaluatorConfig(_Strict):
    """One evaluator: a kind, the score needed to pass, and where it applies."""

    name: str = Field(min_length=1, max_length=100)
    kind: EvaluatorKind
    threshold: float | None = Field(
        None, description="Score at or above which an answer passes (default per kind)."
    )
    apps: list[str] = Field(default_factory=list, description="Only these apps (empty: all).")
    models: list[str] = Field(default_factory=list, description="Only these models (empty: all).")
    topics: list[str] = Field(
        default_factory=list, description="topic: descriptions of the topics answers should be on."
    )
    rubric: str = Field(
        "helpfulness", description="judge: a rubric name (built-in or evaluation.judge.rubrics)."
    )
    model_dir: str | None = Field(
        None, description="relevance, topic: sentence-embedding model directory (default: package)."
    )


class WorkerSettings(_Strict):
    """The evaluation worker (`steward eval worker`, or inside `steward serve`)."""

    in_process: bool = Field(
        False, description="Run the worker inside each gateway process (one at a time holds it)."
    )
    interval_s: float = Field(5.0, gt=0, description="Pause between passes when idle.")
    batch: int = Field(100, ge=1, le=10_000, description="Samples evaluated per transaction.")


class JudgeSettings(_Strict):
    """LLM-as-judge: a chat model called through Steward itself, with a key of `steward-evals`."""

    base_url: str | None = Field(
        None, description="Gateway URL (default: http://<server.host>:<server.port>)."
    )
    api_key: str | None = Field(
        None, repr=False, description="Key of the steward-evals app; use ${ENV_VAR}."
    )
    model: str | None = Field(None, description="Model alias of the judge.")
    timeout_s: float = Field(60.0, gt=0)
    rubrics: dict[str, str] = Field(
        default_factory=dict,
        description="Rubric name -> template with {question}, {answer} and {reference}.",
    )


class EvaluationSettings(_Strict):
    """Continuous evaluation of live traffic and golden datasets."""

    sampling: SamplingSettings = Field(default_factory=SamplingSettings)
    retention_days: int = Field(
        30, ge=1, description="Days sampled content is kept before the worker purges it."
    )
    records_retention_days: int = Field(
        400, ge=1, description="Days evaluation records (scores, no content) are kept."
    )
    redact_classes: list[str] = Field(
        default_factory=lambda: ["pii", "secret", "confidential", "financial", "health"],
        description="Guard data classes replaced by [ENTITY] marks before content is kept.",
    )
    evaluators: list[EvaluatorConfig] = Field(default_factory=list)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    judge: JudgeSettings = Field(default_factory=JudgeSettings)

    @model_validator(mode="after")
    def _unique(self) -> EvaluationSettings:
        seen: set[str] = set()
        for i, e in enumerate(self.evaluators):
            if e.name in seen:
                raise ValueError(f"evaluators[{i}]: name '{e.name}' is used twice")
            seen.add(e.name)
            if e.kind == "topic" and not e.topics:
                raise ValueError(f"evaluators[{i}] ('{e.name}'): a topic evaluator needs topics")
            if e.kind == "judge" and not self.judge.model:
                raise ValueError(
                    f"evaluators[{i}] ('{e.name}'): a judge evaluator needs evaluation.judge.model"
                )
        return self

    def effective_evaluators(self) -> list[EvaluatorConfig]:
        """The configured evaluators, or the default heuristic set when none is configured."""
        if self.evaluators:
            return list(self.evaluators)
        return [EvaluatorConfig(name=k, kind=k) for k in DEFAULT_KINDS]
