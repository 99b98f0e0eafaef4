"""Evaluation records: rows of eval_records shaped after OpenTelemetry's
`gen_ai.evaluation.result` event, written idempotently (the id is derived from what was
evaluated and by which evaluator), and exported as spans when OTLP export is configured."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from steward.evals.evaluators.base import Outcome
from steward.store.models_evals import EvalRecord

if TYPE_CHECKING:
    from steward.observability.tracing import Telemetry

log = logging.getLogger("steward.evals")

_NAMESPACE = uuid.UUID("5b1e7a52-6c1d-4f0e-9a57-2f6f1d0c3e11")
EVENT_NAME = "gen_ai.evaluation.result"


def record_id(subject_key: str, evaluator: str) -> str:
    """The same subject judged by the same evaluator always gets the same record id."""
    return str(uuid.uuid5(_NAMESPACE, f"{subject_key}\x00{evaluator}"))


def record_row(
    outcome: Outcome,
    *,
    subject_key: str,
    ts: datetime,
    request_id: str | None = None,
    response_id: str | None = None,
    sample_id: str | None = None,
    sample_ts: datetime | None = None,
    run_id: str | None = None,
    item_index: int | None = None,
    app_id: str | None = None,
    team_id: str | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """An eval_records row for one labelled outcome."""
    return {
        "id": record_id(subject_key, outcome.name),
        "ts": ts,
        "name": outcome.name,
        "evaluator": outcome.kind,
        "score_value": outcome.score,
        "score_label": outcome.label,
        "explanation": outcome.explanation[:4000],
        "threshold": outcome.threshold,
        "request_id": request_id,
        "response_id": response_id,
        "sample_id": sample_id,
        "sample_ts": sample_ts,
        "run_id": run_id,
        "item_index": item_index,
        "app_id": app_id,
        "team_id": team_id,
        "model": model,
    }


def insert_records(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert records, skipping those already there (a re-evaluation changes nothing)."""
    if not rows:
        return
    table: Table = EvalRecord.__table__  # type: ignore[assignment]
    if conn.dialect.name == "postgresql":
        conn.execute(postgresql.insert(table).on_conflict_do_nothing(index_elements=["id"]), rows)
    else:
        conn.execute(sqlite.insert(table).on_conflict_do_nothing(index_elements=["id"]), rows)


def otel_attributes(row: dict[str, Any]) -> dict[str, Any]:
    """The record as OpenTelemetry attributes (GenAI semantic conventions, plus steward.*)."""
    attrs: dict[str, Any] = {
        "gen_ai.evaluation.name": row["name"],
        "gen_ai.evaluation.score.label": row["score_label"],
        "gen_ai.evaluation.explanation": row["explanation"][:1000],
        "steward.evaluation.evaluator": row["evaluator"],
    }
    optional = (
        ("score_value", "gen_ai.evaluation.score.value"),
        ("response_id", "gen_ai.response.id"),
        ("request_id", "steward.request_id"),
        ("model", "gen_ai.request.model"),
        ("app_id", "steward.app.id"),
        ("run_id", "steward.evaluation.run_id"),
        ("threshold", "steward.evaluation.threshold"),
    )
    for key, attr in optional:
        if row.get(key) is not None:
            attrs[attr] = row[key]
    return attrs


def export(telemetry: Telemetry | None, rows: Iterable[dict[str, Any]]) -> None:
    """One span per record carrying a `gen_ai.evaluation.result` event, to the OTLP exporter.
    Never raises: telemetry must not stop evaluation."""
    if telemetry is None:
        return
    try:
        tracer = telemetry.tracer_provider.get_tracer("steward.evals")
        for row in rows:
            attrs = otel_attributes(row)
            with tracer.start_as_current_span(f"evaluation {row['name']}", attributes=attrs) as s:
                s.add_event(EVENT_NAME, attributes=attrs)
    except Exception:
        log.exception("could not export evaluation records")
