"""SQL tables of human approvals and of the suspensions that have no flag of their own (migration
0010). Users, apps, agents, service accounts and keys keep their `suspended` flags; the
`suspensions` table holds models, tool servers and the all-agents freeze, and the reason given
for any suspension made through `steward suspend`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from steward.store.models import Base


class ApprovalRow(Base):
    """One request for a human decision on one exact action (see steward.agents.approvals)."""

    __tablename__ = "approvals"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    binding: Mapped[str] = mapped_column(String(64))  # sha256 hex of action+resource+args+who
    status: Mapped[str] = mapped_column(String(20))  # pending|approved|denied|expired|...
    action: Mapped[str] = mapped_column(String(40))  # call_tool | invoke_model | ...
    resource: Mapped[str] = mapped_column(String(300))  # the tool or model
    arguments: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    reason: Mapped[str] = mapped_column(Text, default="")
    policies: Mapped[list[str] | None] = mapped_column(JSON, default=list)
    request_id: Mapped[str | None] = mapped_column(String(64))
    # the requester, as the gateway resolved it (no foreign keys: the audit outlives principals)
    key_id: Mapped[str | None] = mapped_column(String(40))
    principal_kind: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str | None] = mapped_column(String(40))
    app_id: Mapped[str | None] = mapped_column(String(40))
    agent_id: Mapped[str | None] = mapped_column(String(40))
    service_account_id: Mapped[str | None] = mapped_column(String(40))
    on_behalf_of: Mapped[str | None] = mapped_column(String(40))
    owner_id: Mapped[str | None] = mapped_column(String(40))
    chain: Mapped[list[str] | None] = mapped_column(JSON, default=list)
    token_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(200))  # the actor (admin key, cli)
    approver_id: Mapped[str | None] = mapped_column(String(40))  # the human user who decided
    note: Mapped[str | None] = mapped_column(Text)
    consumed_at: Mapped[datetime | None]
    uses: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        Index("ix_approvals_binding_status", "binding", "status"),
        Index("ix_approvals_status_expires", "status", "expires_at"),
        Index("ix_approvals_agent_status", "agent_id", "status"),
    )


class SuspensionRow(Base):
    """A suspension by `steward suspend` / the admin API: kind, target and why."""

    __tablename__ = "suspensions"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # model | tool_server | all_agents | agent | app | user | key | service_account
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(200))  # a name (model, tool server) or an id
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("kind", "target", name="uq_suspensions_kind_target"),)


__all__ = ["ApprovalRow", "SuspensionRow"]
