"""budgets: spending limits on principals (or the organisation) per period or rolling window

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 09:30:00

Budgets are configuration state (in the snapshot); their counters live in each gateway process
or in Redis, and a new counter is seeded from usage_events.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "budgets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.String(length=40), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("provider", sa.String(length=200), nullable=True),
        sa.Column("amount_usd", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("period", sa.String(length=20), nullable=False),
        sa.Column("window_s", sa.Integer(), nullable=True),
        sa.Column("alerts", sa.JSON(), nullable=False),
        sa.Column("hard", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.create_index("ix_budget_scope_target", ["scope", "target_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.drop_index("ix_budget_scope_target")
    op.drop_table("budgets")
