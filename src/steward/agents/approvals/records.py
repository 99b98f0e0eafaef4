"""Plain records and errors of the approvals service (front ends never see ORM rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from steward.identity.errors import Conflict, ServiceError

Status = Literal["pending", "approved", "denied", "expired", "cancelled", "consumed"]
STATUSES: tuple[str, ...] = ("pending", "approved", "denied", "expired", "cancelled", "consumed")
OPEN: tuple[str, ...] = ("pending", "approved")  # may still change
ACTIONS: tuple[str, ...] = ("call_tool", "invoke_model")


@dataclass(frozen=True)
class Approval:
    """One approval request and its state.

    A record returned by `request()` or `wait()` with status `approved` means the caller holds
    the grant: the use was recorded (and, when approvals are single-use, the approval is now
    `consumed` in the store)."""

    id: str
    binding: str
    status: str
    action: str
    resource: str
    arguments: dict[str, Any] | None
    reason: str
    policies: list[str]
    request_id: str | None
    key_id: str | None
    principal_kind: str
    user_id: str | None
    app_id: str | None
    agent_id: str | None
    service_account_id: str | None
    on_behalf_of: str | None
    owner_id: str | None
    chain: list[str]
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    approver_id: str | None = None
    note: str | None = None
    consumed_at: datetime | None = None
    uses: int = 0
    names: dict[str, str] = field(default_factory=dict)  # id -> name of the ids above

    @property
    def granted(self) -> bool:
        """Whether the call that received this record may go on."""
        return self.status == "approved"


class ApproverRefused(ServiceError):
    """The named approver may not decide this approval (the requester, the agent itself...)."""

    code = "approver_refused"


class NotPending(Conflict):
    """The approval was already decided, expired, cancelled or used."""

    code = "approval_not_pending"


__all__ = ["ACTIONS", "OPEN", "STATUSES", "Approval", "ApproverRefused", "NotPending", "Status"]
