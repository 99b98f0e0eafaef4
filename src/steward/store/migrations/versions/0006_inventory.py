"""inventory: apps carry purpose, data classes, risk tier and whether they are managed; agents
carry data classes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purpose", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("data_classes", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("risk_tier", sa.String(length=20), nullable=True))
        # apps registered before discovery existed were all registered by hand: managed
        batch_op.add_column(
            sa.Column("managed", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("data_classes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("data_classes")
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_column("managed")
        batch_op.drop_column("risk_tier")
        batch_op.drop_column("data_classes")
        batch_op.drop_column("purpose")
