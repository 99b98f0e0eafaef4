"""agent credentials: token signing keys, agent sponsors, delegation columns on events

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_DELEGATION = ("on_behalf_of", "owner_id", "chain")


def upgrade() -> None:
    op.create_table(
        "token_signing_keys",
        sa.Column("kid", sa.String(length=40), primary_key=True),
        sa.Column("algorithm", sa.String(length=20), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=True),
        sa.Column("encrypted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verify_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False, server_default=""),
    )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sponsor_id", sa.String(length=40), nullable=True))
        batch_op.create_foreign_key(
            "fk_agents_sponsor_id_users", "users", ["sponsor_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("on_behalf_of", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("owner_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("chain", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("token_id", sa.String(length=40), nullable=True))
        batch_op.create_index("ix_usage_agent_ts", ["agent_id", "ts"])
        batch_op.create_index("ix_usage_on_behalf_of_ts", ["on_behalf_of", "ts"])
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("on_behalf_of", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("owner_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("chain", sa.JSON(), nullable=True))
        batch_op.create_index("ix_audit_agent_ts", ["agent_id", "ts"])


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_agent_ts")
        for column in ("agent_id", *_DELEGATION):
            batch_op.drop_column(column)
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_on_behalf_of_ts")
        batch_op.drop_index("ix_usage_agent_ts")
        for column in (*_DELEGATION, "token_id"):
            batch_op.drop_column(column)
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_constraint("fk_agents_sponsor_id_users", type_="foreignkey")
        batch_op.drop_column("sponsor_id")
    op.drop_table("token_signing_keys")
