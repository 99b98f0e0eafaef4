"""Read access to evaluation records and runs, shared by the admin API and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from steward.evals.runs import RunResult, compare, load_result
from steward.store.models import App
from steward.store.models_evals import EvalRecord, EvalRun, EvalRunItem

MAX_LIMIT = 1000


class NotFound(LookupError):
    """No such run (or app)."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def record_json(r: EvalRecord) -> dict[str, Any]:
    """A record as JSON, with the OpenTelemetry attribute names alongside."""
    return {
        "id": r.id,
        "time": _iso(r.ts),
        "name": r.name,
        "evaluator": r.evaluator,
        "score": {"value": r.score_value, "label": r.score_label},
        "explanation": r.explanation,
        "threshold": r.threshold,
        "request_id": r.request_id,
        "response_id": r.response_id,
        "sample_id": r.sample_id,
        "run_id": r.run_id,
        "item_index": r.item_index,
        "app_id": r.app_id,
        "model": r.model,
        "request_time": _iso(r.sample_ts),
    }


def run_json(r: EvalRun) -> dict[str, Any]:
    """A run's row as JSON."""
    return {
        "id": r.id,
        "created_at": _iso(r.created_at),
        "finished_at": _iso(r.finished_at),
        "status": r.status,
        "dataset": r.dataset,
        "dataset_sha256": r.dataset_sha256,
        "model": r.model,
        "upstream_model": r.upstream_model,
        "target": r.target,
        "evaluators": r.evaluators,
        "items": r.items,
        "errors": r.errors,
        "label": r.label,
        "summary": r.summary or {},
    }


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Which records to list (all given conditions must hold)."""

    app: str | None = None  # name or id
    model: str | None = None
    name: str | None = None
    label: str | None = None
    request_id: str | None = None
    run_id: str | None = None
    live: bool | None = None  # True: live samples only; False: dataset runs only
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100


class EvalQueries:
    """Queries over eval_records and eval_runs."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def _app_id(self, s: Session, app: str) -> str:
        found = s.scalar(select(App.id).where((App.name == app) | (App.id == app)))
        if found is None:
            raise NotFound(f"no app named '{app}'")
        return found

    def records(self, f: RecordFilter) -> list[dict[str, Any]]:
        """Records, newest first."""
        limit = max(1, min(f.limit, MAX_LIMIT))
        with self.sessions() as s:
            q = select(EvalRecord)
            if f.app:
                q = q.where(EvalRecord.app_id == self._app_id(s, f.app))
            for column, value in (
                (EvalRecord.model, f.model),
                (EvalRecord.name, f.name),
                (EvalRecord.score_label, f.label),
                (EvalRecord.request_id, f.request_id),
                (EvalRecord.run_id, f.run_id),
            ):
                if value is not None:
                    q = q.where(column == value)
            if f.live is True:
                q = q.where(EvalRecord.run_id.is_(None))
            elif f.live is False:
                q = q.where(EvalRecord.run_id.is_not(None))
            if f.since is not None:
                q = q.where(EvalRecord.ts >= f.since)
            if f.until is not None:
                q = q.where(EvalRecord.ts < f.until)
            q = q.order_by(EvalRecord.ts.desc(), EvalRecord.id).limit(limit)
            return [record_json(r) for r in s.scalars(q)]

    def runs(self, limit: int = 50, model: str | None = None) -> list[dict[str, Any]]:
        """Runs, newest first."""
        with self.sessions() as s:
            q = select(EvalRun).order_by(EvalRun.created_at.desc())
            if model is not None:
                q = q.where(EvalRun.model == model)
            return [run_json(r) for r in s.scalars(q.limit(max(1, min(limit, MAX_LIMIT))))]

    def result(self, run_id: str) -> RunResult:
        """A run's result, by id or unique prefix; NotFound otherwise."""
        found = load_result(self.sessions, run_id)
        if found is None:
            raise NotFound(f"no evaluation run '{run_id}' (or the prefix matches several runs)")
        return found

    def run(self, run_id: str, items: bool = False) -> dict[str, Any]:
        """A run with its summary and, if asked, each item with its records."""
        result = self.result(run_id)
        with self.sessions() as s:
            run = s.get(EvalRun, result.run_id)
            assert run is not None
            out = run_json(run)
            if items:
                by_item: dict[int, list[dict[str, Any]]] = {}
                for r in s.scalars(select(EvalRecord).where(EvalRecord.run_id == run.id)):
                    by_item.setdefault(r.item_index or 0, []).append(record_json(r))
                rows = s.scalars(
                    select(EvalRunItem)
                    .where(EvalRunItem.run_id == run.id)
                    .order_by(EvalRunItem.item_index)
                )
                out["items"] = [
                    {
                        "index": i.item_index,
                        "id": i.item_id,
                        "messages": i.messages,
                        "expected": i.expected,
                        "answer": i.answer,
                        "finish_reason": i.finish_reason,
                        "latency_ms": i.latency_ms,
                        "error": i.error,
                        "metadata": i.item_metadata,
                        "records": sorted(by_item.get(i.item_index, []), key=lambda r: r["name"]),
                    }
                    for i in rows
                ]
            return out

    def compare(self, run_a: str, run_b: str) -> dict[str, Any]:
        """Metric deltas of run B against run A."""
        a, b = self.result(run_a), self.result(run_b)
        return {
            "a": {"id": a.run_id, "model": a.model, "dataset": a.dataset, "items": a.items},
            "b": {"id": b.run_id, "model": b.model, "dataset": b.dataset, "items": b.items},
            "metrics": [d.as_dict() for d in compare(a, b)],
        }
