"""usage rollups: hour/day/month totals per dimension combination, and per label (end user, tag)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 09:00:00

Schema only: rollups of events already in usage_events are built with
`steward usage rebuild-rollups` (reports say so while the rollups are empty).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_SUMS = (
    "requests",
    "errors",
    "blocked",
    "priced_requests",
    "unpriced_requests",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "unpriced_input_tokens",
    "unpriced_output_tokens",
    "cost_usd_e10",
)
_LATENCY_BUCKETS = 64


def _metrics() -> list[sa.Column[object]]:
    cols: list[sa.Column[object]] = [
        sa.Column(name, sa.BigInteger(), nullable=False, server_default="0") for name in _SUMS
    ]
    cols.append(sa.Column("latency_ms_total", sa.Float(), nullable=False, server_default="0"))
    cols += [
        sa.Column(f"lat_{i:02d}", sa.BigInteger(), nullable=False, server_default="0")
        for i in range(_LATENCY_BUCKETS)
    ]
    return cols


def _dims(*spec: tuple[str, int]) -> list[sa.Column[object]]:
    return [sa.Column(name, sa.String(length=n), nullable=False) for name, n in spec]


def upgrade() -> None:
    op.create_table(
        "usage_rollups",
        *_dims(("grain", 5)),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        *_dims(
            ("team_id", 40),
            ("user_id", 40),
            ("app_id", 40),
            ("agent_id", 40),
            ("service_account_id", 40),
            ("key_id", 40),
            ("model", 200),
            ("provider", 200),
            ("upstream_model", 200),
        ),
        *_metrics(),
        sa.PrimaryKeyConstraint(
            "grain",
            "bucket",
            "team_id",
            "user_id",
            "app_id",
            "agent_id",
            "service_account_id",
            "key_id",
            "model",
            "provider",
            "upstream_model",
        ),
    )
    with op.batch_alter_table("usage_rollups", schema=None) as batch_op:
        batch_op.create_index("ix_usage_rollups_key", ["key_id", "grain", "bucket"], unique=False)

    op.create_table(
        "usage_label_rollups",
        *_dims(("grain", 5)),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        *_dims(("label", 210), ("value", 200), ("team_id", 40), ("app_id", 40), ("model", 200)),
        *_metrics(),
        sa.PrimaryKeyConstraint("grain", "bucket", "label", "value", "team_id", "app_id", "model"),
    )


def downgrade() -> None:
    op.drop_table("usage_label_rollups")
    with op.batch_alter_table("usage_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_rollups_key")
    op.drop_table("usage_rollups")
