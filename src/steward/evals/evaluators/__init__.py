"""Evaluator kinds and the factory that builds the configured set."""

from __future__ import annotations

import logging
from typing import get_args

from steward.evals.evaluators.base import Evaluator, Outcome, Subject, Verdict
from steward.evals.evaluators.heuristic import (
    Empty,
    GuardFindings,
    JsonValid,
    Latency,
    Refusal,
    Truncated,
)
from steward.evals.evaluators.language import LanguageMismatch
from steward.evals.settings import EvaluationSettings, EvaluatorConfig, EvaluatorKind

log = logging.getLogger("steward.evals")

_SIMPLE: dict[str, type[Evaluator]] = {
    c.kind: c
    for c in (Refusal, Empty, Truncated, JsonValid, GuardFindings, Latency, LanguageMismatch)
}


class EvaluatorUnavailable(RuntimeError):
    """An evaluator cannot be built here (model not installed, judge not configured)."""


def build_evaluator(
    config: EvaluatorConfig, settings: EvaluationSettings, judge_url: str
) -> Evaluator:
    """One evaluator from its configuration; raises EvaluatorUnavailable with the reason."""
    simple = _SIMPLE.get(config.kind)
    if simple is not None:
        return simple(config)
    try:
        if config.kind in ("relevance", "topic"):
            from steward.evals.evaluators.embedding import Relevance, Topic

            return (Relevance if config.kind == "relevance" else Topic)(config)
        from steward.evals.evaluators.judge import Judge

        return Judge(config, settings.judge, settings.judge.base_url or judge_url)
    except Exception as exc:
        raise EvaluatorUnavailable(f"evaluator '{config.name}' ({config.kind}): {exc}") from exc


def build_evaluators(
    settings: EvaluationSettings,
    judge_url: str,
    names: list[str] | None = None,
    strict: bool = False,
) -> list[Evaluator]:
    """The configured evaluators (or those named). An unavailable one is skipped with a logged
    reason, or raises EvaluatorUnavailable when `strict`."""
    configs = settings.effective_evaluators()
    if names:
        by_name = {c.name: c for c in configs}
        kinds = get_args(EvaluatorKind)
        unknown = [n for n in names if n not in by_name and n not in kinds]
        if unknown:
            raise EvaluatorUnavailable(
                f"unknown evaluator(s) {', '.join(unknown)}: name configured evaluators "
                f"({', '.join(by_name)}) or kinds ({', '.join(kinds)})"
            )
        # a kind that is not configured by name runs with its defaults
        configs = [by_name.get(n) or EvaluatorConfig(name=n, kind=n) for n in names]
    out = []
    for config in configs:
        try:
            out.append(build_evaluator(config, settings, judge_url))
        except EvaluatorUnavailable as exc:
            if strict:
                raise
            log.error("%s; it is skipped", exc)
    return out


async def close_evaluators(evaluators: list[Evaluator]) -> None:
    """Release what evaluators hold (the judge's HTTP client)."""
    for e in evaluators:
        close = getattr(e, "aclose", None)
        if close is not None:
            await close()


__all__ = [
    "Evaluator",
    "EvaluatorUnavailable",
    "Outcome",
    "Subject",
    "Verdict",
    "build_evaluator",
    "build_evaluators",
    "close_evaluators",
]
