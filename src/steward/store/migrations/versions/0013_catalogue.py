"""model catalogue: model states and owners; deployments of an alias (traffic splits, promotions)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalogue_models",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=True),
        sa.Column("data_classes", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False, server_default=""),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "name", name="uq_catalogue_models_kind_name"),
    )
    op.create_table(
        "catalogue_deployments",
        sa.Column("alias", sa.String(length=200), nullable=False),
        sa.Column("primary_model", sa.String(length=300), nullable=True),
        sa.Column("candidate_model", sa.String(length=300), nullable=True),
        sa.Column("percent", sa.Float(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("alias"),
    )
    op.create_table(
        "catalogue_deployment_changes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("alias", sa.String(length=200), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("rolled_back", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("evaluation", sa.JSON(none_as_null=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_catalogue_changes_alias_ts", "catalogue_deployment_changes", ["alias", "ts"]
    )


def downgrade() -> None:
    op.drop_index("ix_catalogue_changes_alias_ts", table_name="catalogue_deployment_changes")
    op.drop_table("catalogue_deployment_changes")
    op.drop_table("catalogue_deployments")
    op.drop_table("catalogue_models")
