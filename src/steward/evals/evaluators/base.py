"""The evaluator interface: what is evaluated (a Subject), what comes out (a Verdict), and how a
score becomes the pass/fail label against the evaluator's threshold."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from steward.evals.settings import EvaluatorConfig


@dataclass(frozen=True, slots=True)
class Subject:
    """One answer to evaluate, with its question (a live sample or a dataset item)."""

    question: str
    answer: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    response_format: dict[str, Any] | None = None
    latency_ms: float | None = None
    answer_findings: dict[str, int] | None = None
    expected: str | None = None
    model: str | None = None
    app_id: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """An evaluator's result: a score (None when it could not evaluate) and why."""

    score: float | None
    explanation: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """A verdict labelled against the threshold: pass, fail, or error (no score)."""

    name: str
    kind: str
    score: float | None
    label: str
    explanation: str
    threshold: float


class Evaluator(ABC):
    """An evaluator kind. Subclasses set `kind` and `default_threshold`, and implement
    `evaluate`; by default a score at or above the threshold passes."""

    kind: ClassVar[str]
    default_threshold: ClassVar[float] = 0.5
    higher_is_better: ClassVar[bool] = True

    def __init__(self, config: EvaluatorConfig) -> None:
        self.config = config
        self.name = config.name
        self.threshold = (
            config.threshold if config.threshold is not None else self.default_threshold
        )

    def applies(self, subject: Subject, app_name: str | None) -> bool:
        """Whether this evaluator is configured for the subject's app and model."""
        cfg = self.config
        if cfg.apps and app_name not in cfg.apps:
            return False
        return not (cfg.models and subject.model not in cfg.models)

    @abstractmethod
    async def evaluate(self, subject: Subject) -> Verdict | None:
        """Score the subject; None when the evaluator does not apply to it (no record)."""

    def label(self, verdict: Verdict) -> Outcome:
        """Turn a verdict into a labelled outcome."""
        if verdict.score is None:
            label = "error"
        elif self.higher_is_better:
            label = "pass" if verdict.score >= self.threshold else "fail"
        else:
            label = "pass" if verdict.score <= self.threshold else "fail"
        return Outcome(
            self.name, self.kind, verdict.score, label, verdict.explanation, self.threshold
        )
