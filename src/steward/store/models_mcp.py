"""ORM for the MCP gateway's pinned tools (migration 0009)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from steward.store.models import Base


class McpTool(Base):
    """A tool an upstream MCP server offers, pinned by the hash of its name, description and
    input schema. `approved_hash` is the definition agents may call; a tool whose current
    definition differs, or that shadows another's name, is `quarantined` until an admin
    approves it."""

    __tablename__ = "mcp_tools"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    server: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(256))  # the upstream tool name
    status: Mapped[str] = mapped_column(String(20))  # approved | quarantined
    reason: Mapped[str | None] = mapped_column(String(20))  # changed | shadows | new | admin
    detail: Mapped[str | None] = mapped_column(Text)
    current_hash: Mapped[str] = mapped_column(String(64))
    approved_hash: Mapped[str | None] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)  # current name/description/schema
    approved_definition: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    changed_at: Mapped[datetime]
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        UniqueConstraint("server", "name", name="uq_mcp_tools_server_name"),
        Index("ix_mcp_tools_status", "status"),
    )


__all__ = ["McpTool"]
