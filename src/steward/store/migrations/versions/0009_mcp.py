"""MCP gateway: tool servers and pinned tools

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mcp_tools",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("server", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("current_hash", sa.String(length=64), nullable=False),
        sa.Column("approved_hash", sa.String(length=64), nullable=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("approved_definition", sa.JSON(), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.UniqueConstraint("server", "name", name="uq_mcp_tools_server_name"),
    )
    op.create_index("ix_mcp_tools_status", "mcp_tools", ["status"])


def downgrade() -> None:
    op.drop_index("ix_mcp_tools_status", table_name="mcp_tools")
    op.drop_table("mcp_tools")
