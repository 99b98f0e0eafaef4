"""Approval rows as plain records, and the audit events of approvals and suspensions (written
in the caller's transaction, so a change and its audit commit together)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from steward.agents.approvals.records import Approval
from steward.events.ids import new_id
from steward.identity.records import Actor
from steward.store.models import Agent, App, AuditEvent, User
from steward.store.models_approvals import ApprovalRow


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _names(session: Session, row: ApprovalRow) -> dict[str, str]:
    names: dict[str, str] = {}
    for model, ids in (
        (User, (row.user_id, row.on_behalf_of, row.owner_id, row.approver_id)),
        (Agent, (row.agent_id, *(row.chain or ()))),
        (App, (row.app_id,)),
    ):
        wanted = [i for i in ids if i]
        if wanted:
            found = session.execute(select(model.id, model.name).where(model.id.in_(wanted)))
            names.update({row[0]: row[1] for row in found})
    return names


def to_record(session: Session | None, row: ApprovalRow, status: str | None = None) -> Approval:
    """The plain record of a row (names resolved when a session is given)."""
    expires = as_utc(row.expires_at)
    created = as_utc(row.created_at)
    assert expires is not None and created is not None
    return Approval(
        id=row.id,
        binding=row.binding,
        status=status or row.status,
        action=row.action,
        resource=row.resource,
        arguments=row.arguments,
        reason=row.reason,
        policies=list(row.policies or []),
        request_id=row.request_id,
        key_id=row.key_id,
        principal_kind=row.principal_kind,
        user_id=row.user_id,
        app_id=row.app_id,
        agent_id=row.agent_id,
        service_account_id=row.service_account_id,
        on_behalf_of=row.on_behalf_of,
        owner_id=row.owner_id,
        chain=list(row.chain or []),
        created_at=created,
        expires_at=expires,
        decided_at=as_utc(row.decided_at),
        decided_by=row.decided_by,
        approver_id=row.approver_id,
        note=row.note,
        consumed_at=as_utc(row.consumed_at),
        uses=row.uses,
        names=_names(session, row) if session is not None else {},
    )


def audit_change(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str,
    *,
    reason: str | None = None,
    **details: Any,
) -> None:
    """An audit event for a change made by an admin or operator (a suspension, a resume)."""
    if actor.role is not None:
        details["actor_role"] = actor.role
    session.add(
        AuditEvent(
            id=new_id(),
            ts=utcnow(),
            actor_type=actor.type,
            actor_id=actor.id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            outcome="succeeded",
            reason=reason or None,
            request_id=actor.request_id,
            details=details,
        )
    )


def _details(row: ApprovalRow, **extra: Any) -> dict[str, Any]:
    return {
        "approval_id": row.id,
        "binding": row.binding,
        "action": row.action,
        "resource": row.resource,
        "status": row.status,
        "key_id": row.key_id,
        "agent_id": row.agent_id,
        "on_behalf_of": row.on_behalf_of,
        "owner_id": row.owner_id,
        "chain": list(row.chain or []),
        "policies": list(row.policies or []),
        **extra,
    }


def audit(
    session: Session,
    actor_type: str,
    actor_id: str | None,
    action: str,
    row: ApprovalRow,
    *,
    reason: str | None = None,
    request_id: str | None = None,
    **extra: Any,
) -> None:
    """One audit event about an approval, in the caller's transaction."""
    session.add(
        AuditEvent(
            id=new_id(),
            ts=utcnow(),
            actor_type=actor_type,
            actor_id=actor_id,
            action=action,
            target_type="approval",
            target_id=row.id,
            outcome="succeeded",
            reason=reason or None,
            request_id=request_id,
            details=_details(row, **extra),
        )
    )


__all__ = ["as_utc", "audit", "audit_change", "to_record", "utcnow"]
