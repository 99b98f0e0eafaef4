"""SLOs, drift events, remediation rules and actions

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "slo_states",
        sa.Column("slo", sa.String(200), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("severity", sa.String(20), nullable=True),
        sa.Column("since", _TS, nullable=True),
        sa.Column("evaluated_at", _TS, nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
    )
    op.create_table(
        "drift_events",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("ts", _TS, nullable=False),
        sa.Column("app_id", sa.String(40), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("metric", sa.String(60), nullable=False),
        sa.Column("test", sa.String(20), nullable=False),
        sa.Column("statistic", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("baseline_start", _TS, nullable=False),
        sa.Column("baseline_end", _TS, nullable=False),
        sa.Column("current_start", _TS, nullable=False),
        sa.Column("current_end", _TS, nullable=False),
        sa.Column("baseline_n", sa.Integer(), nullable=False),
        sa.Column("current_n", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
    )
    op.create_index("ix_drift_ts", "drift_events", ["ts"])
    op.create_index(
        "ix_drift_scope_metric_ts", "drift_events", ["app_id", "model", "metric", "ts"]
    )
    op.create_table(
        "remediation_actions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("trigger", sa.String(40), nullable=False),
        sa.Column("trigger_key", sa.String(400), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target_type", sa.String(20), nullable=True),
        sa.Column("target_id", sa.String(200), nullable=True),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("applied_at", _TS, nullable=True),
        sa.Column("reverted_at", _TS, nullable=True),
        sa.Column("cleared_at", _TS, nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index(
        "ix_remediation_rule_key", "remediation_actions", ["rule", "trigger_key", "created_at"]
    )
    op.create_index("ix_remediation_status", "remediation_actions", ["status"])
    op.create_table(
        "runtime_overrides",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("action_id", sa.String(36), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False, server_default=""),
        sa.UniqueConstraint("kind", "target", name="uq_override_kind_target"),
    )
    op.create_table(
        "slo_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
    )
    op.create_index("ix_slo_runs_started", "slo_runs", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_slo_runs_started", table_name="slo_runs")
    op.drop_table("slo_runs")
    op.drop_table("runtime_overrides")
    op.drop_index("ix_remediation_status", table_name="remediation_actions")
    op.drop_index("ix_remediation_rule_key", table_name="remediation_actions")
    op.drop_table("remediation_actions")
    op.drop_index("ix_drift_scope_metric_ts", table_name="drift_events")
    op.drop_index("ix_drift_ts", table_name="drift_events")
    op.drop_table("drift_events")
    op.drop_table("slo_states")
