"""Tables of continuous evaluation (migration 0011): sampled requests (redacted content, kept
`evaluation.retention_days`), evaluation records (after OpenTelemetry `gen_ai.evaluation.result`),
and offline runs of golden datasets with their items."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from steward.store.models import Base


class EvalSample(Base):
    """One sampled request: redacted messages and answer, written by the event shipper."""

    __tablename__ = "eval_samples"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ts: Mapped[datetime]
    request_id: Mapped[str] = mapped_column(String(64))
    response_id: Mapped[str | None] = mapped_column(String(200))
    endpoint: Mapped[str] = mapped_column(String(40))
    stream: Mapped[bool] = mapped_column(Boolean, default=False)
    key_id: Mapped[str | None] = mapped_column(String(40))
    team_id: Mapped[str | None] = mapped_column(String(40))
    app_id: Mapped[str | None] = mapped_column(String(40))
    agent_id: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(200))
    upstream_model: Mapped[str | None] = mapped_column(String(200))
    messages: Mapped[list[Any]] = mapped_column(JSON)  # [{role, content}], redacted
    answer: Mapped[str] = mapped_column(Text, default="")  # redacted
    finish_reason: Mapped[str | None] = mapped_column(String(40))
    response_format: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    redactions: Mapped[int] = mapped_column(Integer, default=0)
    answer_findings: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    evaluated_at: Mapped[datetime | None]  # None: waiting for the worker

    __table_args__ = (
        Index("ix_eval_samples_pending", "evaluated_at", "ts"),
        Index("ix_eval_samples_ts", "ts"),
    )


class EvalRecord(Base):
    """One evaluator's verdict on one answer (a live sample's or a dataset item's)."""

    __tablename__ = "eval_records"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ts: Mapped[datetime]  # when the evaluation was made
    name: Mapped[str] = mapped_column(String(100))  # gen_ai.evaluation.name
    evaluator: Mapped[str] = mapped_column(String(40))  # its kind
    score_value: Mapped[float | None] = mapped_column(Float)  # gen_ai.evaluation.score.value
    score_label: Mapped[str] = mapped_column(String(10))  # pass | fail | error
    explanation: Mapped[str] = mapped_column(Text, default="")
    threshold: Mapped[float | None] = mapped_column(Float)
    request_id: Mapped[str | None] = mapped_column(String(64))
    response_id: Mapped[str | None] = mapped_column(String(200))  # gen_ai.response.id
    sample_id: Mapped[str | None] = mapped_column(String(36))
    run_id: Mapped[str | None] = mapped_column(String(36))
    item_index: Mapped[int | None] = mapped_column(Integer)
    app_id: Mapped[str | None] = mapped_column(String(40))
    team_id: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(200))
    sample_ts: Mapped[datetime | None]  # when the evaluated request was made

    __table_args__ = (
        Index("ix_eval_records_ts", "ts"),
        Index("ix_eval_records_app_ts", "app_id", "ts"),
        Index("ix_eval_records_model_ts", "model", "ts"),
        Index("ix_eval_records_run", "run_id", "item_index"),
        Index("ix_eval_records_request", "request_id"),
    )


class EvalRun(Base):
    """One run of a golden dataset against a model: its summary per evaluator."""

    __tablename__ = "eval_runs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    dataset: Mapped[str] = mapped_column(String(500))
    dataset_sha256: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    upstream_model: Mapped[str | None] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(20))  # direct | gateway
    evaluators: Mapped[list[str]] = mapped_column(JSON)
    items: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20))  # running | done | failed
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    label: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_eval_runs_created", "created_at"),)


class EvalRunItem(Base):
    """One dataset item in a run: what was asked, expected and answered."""

    __tablename__ = "eval_run_items"
    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    item_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str | None] = mapped_column(String(200))
    messages: Mapped[list[Any]] = mapped_column(JSON)
    expected: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text, default="")
    finish_reason: Mapped[str | None] = mapped_column(String(40))
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    item_metadata: Mapped[dict[str, Any] | None] = mapped_column(
        "metadata", JSON(none_as_null=True)
    )
