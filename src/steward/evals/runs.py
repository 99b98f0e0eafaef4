"""Offline evaluation runs: a golden dataset through a model, every item scored by the chosen
evaluators, the run, its items and records stored, and runs compared metric by metric.
`run_dataset` is the entry point for other code (deployment gates use `RunResult.failing`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from steward.evals.datasets import Dataset, Item
from steward.evals.evaluators import Evaluator, Outcome, Subject
from steward.evals.records import insert_records, record_row
from steward.evals.targets import Completion, Target, TargetError
from steward.evals.worker import judge_subject
from steward.events.ids import new_id
from steward.store.models_evals import EvalRun, EvalRunItem


@dataclass(frozen=True, slots=True)
class Metric:
    """One evaluator's results over a run."""

    name: str
    evaluated: int  # items with a pass or fail label
    passed: int
    errors: int  # the evaluator could not score the item
    mean_score: float | None

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.evaluated if self.evaluated else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "evaluated": self.evaluated,
            "passed": self.passed,
            "errors": self.errors,
            "pass_rate": self.pass_rate,
            "mean_score": self.mean_score,
        }

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> Metric:
        return cls(name, d["evaluated"], d["passed"], d["errors"], d.get("mean_score"))


@dataclass(slots=True)
class RunResult:
    """What a run measured: per-evaluator metrics, and items the model failed to answer."""

    run_id: str
    model: str
    dataset: str
    items: int
    errors: int  # items the model could not answer
    metrics: dict[str, Metric] = field(default_factory=dict)

    @property
    def pass_rates(self) -> dict[str, float]:
        """Evaluator name -> share of evaluated items that passed (evaluators that scored no
        item are left out). Matches the promotion gate's `RunOutcome` protocol."""
        return {n: m.pass_rate for n, m in self.metrics.items() if m.pass_rate is not None}

    def failing(self, min_pass_rate: float | dict[str, float]) -> dict[str, float | None]:
        """Evaluators whose pass rate is below the minimum (one for all, or per name), with
        their rate; an evaluator that scored nothing fails too. Empty: the run passes."""
        out: dict[str, float | None] = {}
        for name, m in self.metrics.items():
            need = (
                min_pass_rate
                if isinstance(min_pass_rate, (int, float))
                else min_pass_rate.get(name)
            )
            if need is None:
                continue
            rate = m.pass_rate
            if rate is None or rate < need:
                out[name] = rate
        if self.errors and isinstance(min_pass_rate, (int, float)):
            out["answered"] = (self.items - self.errors) / self.items if self.items else None
        return out


def summarise(outcomes: list[list[Outcome]]) -> dict[str, Metric]:
    """Per-evaluator metrics from each item's outcomes."""
    acc: dict[str, list[Outcome]] = {}
    for per_item in outcomes:
        for o in per_item:
            acc.setdefault(o.name, []).append(o)
    out = {}
    for name, os_ in acc.items():
        scored = [o.score for o in os_ if o.score is not None]
        out[name] = Metric(
            name=name,
            evaluated=sum(1 for o in os_ if o.label in ("pass", "fail")),
            passed=sum(1 for o in os_ if o.label == "pass"),
            errors=sum(1 for o in os_ if o.label == "error"),
            mean_score=round(sum(scored) / len(scored), 6) if scored else None,
        )
    return out


def _subject(item: Item, c: Completion, model: str) -> Subject:
    question = next((m["content"] for m in reversed(item.messages) if m["role"] == "user"), "")
    return Subject(
        question=question,
        answer=c.answer,
        messages=list(item.messages),
        finish_reason=c.finish_reason,
        response_format=item.response_format,
        latency_ms=c.latency_ms,
        expected=item.expected,
        model=model,
    )


async def run_dataset(
    sessions: sessionmaker[Session],
    dataset: Dataset,
    target: Target,
    evaluators: list[Evaluator],
    *,
    model: str,
    upstream_model: str | None = None,
    label: str | None = None,
    concurrency: int = 4,
) -> RunResult:
    """Run every item of `dataset` through `target`, score the answers with `evaluators`, and
    store the run, its items and its records. Returns the per-evaluator metrics."""
    run_id = new_id()
    names = [e.name for e in evaluators]
    started = datetime.now(UTC)
    await asyncio.to_thread(
        _create_run,
        sessions,
        run_id,
        dataset,
        model,
        upstream_model,
        target.name,
        names,
        label,
        started,
    )
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(item: Item) -> tuple[dict[str, Any], list[Outcome]]:
        async with gate:
            try:
                c = await target.complete(item.messages, item.response_format)
            except TargetError as exc:
                return _item_row(run_id, item, None, str(exc)), []
            outcomes = await judge_subject(evaluators, _subject(item, c, model), None)
        return _item_row(run_id, item, c, None), outcomes

    results = await asyncio.gather(*(one(i) for i in dataset.items))
    now = datetime.now(UTC)
    records = [
        record_row(
            o,
            subject_key=f"run:{run_id}:{item.index}",
            ts=now,
            run_id=run_id,
            item_index=item.index,
            model=model,
        )
        for item, (_, outcomes) in zip(dataset.items, results, strict=True)
        for o in outcomes
    ]
    metrics = summarise([outcomes for _, outcomes in results])
    errors = sum(1 for row, _ in results if row["error"])
    await asyncio.to_thread(
        _finish_run, sessions, run_id, [row for row, _ in results], records, metrics, errors, now
    )
    return RunResult(run_id, model, dataset.name, len(dataset.items), errors, metrics)


def _item_row(run_id: str, item: Item, c: Completion | None, error: str | None) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "item_index": item.index,
        "item_id": item.id,
        "messages": item.messages,
        "expected": item.expected,
        "answer": c.answer if c else "",
        "finish_reason": c.finish_reason if c else None,
        "latency_ms": c.latency_ms if c else 0.0,
        "error": error,
        "item_metadata": item.metadata or None,
    }


def _create_run(
    sessions: sessionmaker[Session],
    run_id: str,
    dataset: Dataset,
    model: str,
    upstream_model: str | None,
    target: str,
    names: list[str],
    label: str | None,
    started: datetime,
) -> None:
    with sessions.begin() as s:
        s.add(
            EvalRun(
                id=run_id,
                created_at=started,
                finished_at=None,
                dataset=dataset.name[:500],
                dataset_sha256=dataset.sha256,
                model=model,
                upstream_model=upstream_model,
                target=target,
                evaluators=names,
                items=len(dataset.items),
                errors=0,
                status="running",
                summary=None,
                label=label,
            )
        )


def _finish_run(
    sessions: sessionmaker[Session],
    run_id: str,
    items: list[dict[str, Any]],
    records: list[dict[str, Any]],
    metrics: dict[str, Metric],
    errors: int,
    now: datetime,
) -> None:
    with sessions.begin() as s:
        s.add_all(EvalRunItem(**row) for row in items)
        insert_records(s.connection(), records)
        run = s.get(EvalRun, run_id)
        if run is not None:
            run.status = "done"
            run.finished_at = now
            run.errors = errors
            run.summary = {name: m.as_dict() for name, m in metrics.items()}


def load_result(sessions: sessionmaker[Session], run_id: str) -> RunResult | None:
    """A stored run's result (None if there is no such run; a prefix of the id is enough)."""
    with sessions() as s:
        run = s.get(EvalRun, run_id)
        if run is None and len(run_id) >= 6:
            matches = list(s.scalars(select(EvalRun).where(EvalRun.id.startswith(run_id)).limit(2)))
            run = matches[0] if len(matches) == 1 else None
        if run is None:
            return None
        metrics = {n: Metric.from_dict(n, d) for n, d in (run.summary or {}).items()}
        return RunResult(run.id, run.model, run.dataset, run.items, run.errors, metrics)


@dataclass(frozen=True, slots=True)
class Delta:
    """One evaluator compared between two runs (B minus A)."""

    name: str
    a: Metric | None
    b: Metric | None

    @property
    def pass_rate_delta(self) -> float | None:
        ra = self.a.pass_rate if self.a else None
        rb = self.b.pass_rate if self.b else None
        return None if ra is None or rb is None else round(rb - ra, 6)

    @property
    def mean_score_delta(self) -> float | None:
        ma = self.a.mean_score if self.a else None
        mb = self.b.mean_score if self.b else None
        return None if ma is None or mb is None else round(mb - ma, 6)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "a": self.a.as_dict() if self.a else None,
            "b": self.b.as_dict() if self.b else None,
            "pass_rate_delta": self.pass_rate_delta,
            "mean_score_delta": self.mean_score_delta,
        }


def compare(a: RunResult, b: RunResult) -> list[Delta]:
    """Every evaluator of either run, with its metrics in both and the differences."""
    names = list(a.metrics) + [n for n in b.metrics if n not in a.metrics]
    return [Delta(n, a.metrics.get(n), b.metrics.get(n)) for n in names]
