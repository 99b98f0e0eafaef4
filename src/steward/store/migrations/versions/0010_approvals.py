"""approvals and suspensions

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(length=40), primary_key=True),
        sa.Column("binding", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("resource", sa.String(length=300), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("policies", sa.JSON(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("key_id", sa.String(length=40), nullable=True),
        sa.Column("principal_kind", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=True),
        sa.Column("app_id", sa.String(length=40), nullable=True),
        sa.Column("agent_id", sa.String(length=40), nullable=True),
        sa.Column("service_account_id", sa.String(length=40), nullable=True),
        sa.Column("on_behalf_of", sa.String(length=40), nullable=True),
        sa.Column("owner_id", sa.String(length=40), nullable=True),
        sa.Column("chain", sa.JSON(), nullable=True),
        sa.Column("token_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("decided_at", _TS, nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("approver_id", sa.String(length=40), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("consumed_at", _TS, nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_approvals_binding_status", "approvals", ["binding", "status"])
    op.create_index("ix_approvals_status_expires", "approvals", ["status", "expires_at"])
    op.create_index("ix_approvals_agent_status", "approvals", ["agent_id", "status"])
    op.create_table(
        "suspensions",
        sa.Column("id", sa.String(length=40), primary_key=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("actor", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("created_at", _TS, nullable=False),
        sa.UniqueConstraint("kind", "target", name="uq_suspensions_kind_target"),
    )


def downgrade() -> None:
    op.drop_table("suspensions")
    op.drop_index("ix_approvals_agent_status", table_name="approvals")
    op.drop_index("ix_approvals_status_expires", table_name="approvals")
    op.drop_index("ix_approvals_binding_status", table_name="approvals")
    op.drop_table("approvals")
