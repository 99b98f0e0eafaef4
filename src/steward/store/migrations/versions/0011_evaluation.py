"""evaluation: sampled requests, evaluation records, golden-dataset runs and their items

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "eval_samples",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("ts", _TS, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("response_id", sa.String(200)),
        sa.Column("endpoint", sa.String(40), nullable=False),
        sa.Column("stream", sa.Boolean(), nullable=False),
        sa.Column("key_id", sa.String(40)),
        sa.Column("team_id", sa.String(40)),
        sa.Column("app_id", sa.String(40)),
        sa.Column("agent_id", sa.String(40)),
        sa.Column("model", sa.String(200)),
        sa.Column("provider", sa.String(200)),
        sa.Column("upstream_model", sa.String(200)),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("finish_reason", sa.String(40)),
        sa.Column("response_format", sa.JSON()),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("ttft_ms", sa.Float()),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("redactions", sa.Integer(), nullable=False),
        sa.Column("answer_findings", sa.JSON()),
        sa.Column("evaluated_at", _TS),
    )
    op.create_index("ix_eval_samples_pending", "eval_samples", ["evaluated_at", "ts"])
    op.create_index("ix_eval_samples_ts", "eval_samples", ["ts"])
    op.create_table(
        "eval_records",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("ts", _TS, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("evaluator", sa.String(40), nullable=False),
        sa.Column("score_value", sa.Float()),
        sa.Column("score_label", sa.String(10), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("threshold", sa.Float()),
        sa.Column("request_id", sa.String(64)),
        sa.Column("response_id", sa.String(200)),
        sa.Column("sample_id", sa.String(36)),
        sa.Column("run_id", sa.String(36)),
        sa.Column("item_index", sa.Integer()),
        sa.Column("app_id", sa.String(40)),
        sa.Column("team_id", sa.String(40)),
        sa.Column("model", sa.String(200)),
        sa.Column("sample_ts", _TS),
    )
    op.create_index("ix_eval_records_ts", "eval_records", ["ts"])
    op.create_index("ix_eval_records_app_ts", "eval_records", ["app_id", "ts"])
    op.create_index("ix_eval_records_model_ts", "eval_records", ["model", "ts"])
    op.create_index("ix_eval_records_run", "eval_records", ["run_id", "item_index"])
    op.create_index("ix_eval_records_request", "eval_records", ["request_id"])
    op.create_table(
        "eval_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("finished_at", _TS),
        sa.Column("dataset", sa.String(500), nullable=False),
        sa.Column("dataset_sha256", sa.String(64), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("upstream_model", sa.String(200)),
        sa.Column("target", sa.String(20), nullable=False),
        sa.Column("evaluators", sa.JSON(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("summary", sa.JSON()),
        sa.Column("label", sa.String(200)),
    )
    op.create_index("ix_eval_runs_created", "eval_runs", ["created_at"])
    op.create_table(
        "eval_run_items",
        sa.Column("run_id", sa.String(36), primary_key=True),
        sa.Column("item_index", sa.Integer(), primary_key=True),
        sa.Column("item_id", sa.String(200)),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("expected", sa.Text()),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("finish_reason", sa.String(40)),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("metadata", sa.JSON()),
    )


def downgrade() -> None:
    op.drop_table("eval_run_items")
    op.drop_index("ix_eval_runs_created", table_name="eval_runs")
    op.drop_table("eval_runs")
    for name in ("request", "run", "model_ts", "app_ts", "ts"):
        op.drop_index(f"ix_eval_records_{name}", table_name="eval_records")
    op.drop_table("eval_records")
    op.drop_index("ix_eval_samples_ts", table_name="eval_samples")
    op.drop_index("ix_eval_samples_pending", table_name="eval_samples")
    op.drop_table("eval_samples")
