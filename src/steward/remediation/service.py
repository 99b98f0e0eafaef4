"""What people do with remediation actions (the CLI is a thin front end over this): list them,
confirm or reject a proposal, revert an applied action. Each step is audited with the actor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from steward.identity.records import Actor
from steward.remediation.actions import ActionContext, ActionError, apply
from steward.remediation.engine import Notice, record, revert_action
from steward.store.models_slo import RemediationAction

STATUSES = ("proposed", "applied", "reverted", "rejected", "failed", "expired")


def list_actions(
    sessions: sessionmaker[Session], status: str | None = None, limit: int = 100
) -> list[RemediationAction]:
    """Actions newest first, optionally of one status."""
    if status is not None and status not in STATUSES:
        raise ActionError(f"unknown status '{status}'; one of {', '.join(STATUSES)}")
    stmt = select(RemediationAction).order_by(RemediationAction.created_at.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(RemediationAction.status == status)
    with sessions() as s:
        return list(s.scalars(stmt))


def _find(s: Session, action_id: str) -> RemediationAction:
    row = s.get(RemediationAction, action_id)
    if row is None:
        prefix = list(
            s.scalars(
                select(RemediationAction).where(RemediationAction.id.startswith(action_id)).limit(2)
            )
        )
        if len(prefix) == 1:
            return prefix[0]
        raise ActionError(
            f"remediation action '{action_id}' does not exist "
            "(`steward remediation proposals --all` lists them)"
        )
    return row


def confirm(
    sessions: sessionmaker[Session],
    action_id: str,
    ctx: ActionContext,
    actor: Actor,
    now: datetime,
    note: str = "",
) -> tuple[RemediationAction, list[Notice]]:
    """Apply a proposed action on a human's word (`remediation.confirmed`)."""
    notices: list[Notice] = []
    with sessions() as s, s.begin():
        row = _find(s, action_id)
        if row.status != "proposed":
            raise ActionError(f"action {row.id} is {row.status}; only proposals can be confirmed")
        row.applied_at, row.decided_by = now, actor.label()
        if row.action != "suspend":
            apply(s, row, ctx, actor)
        row.status = "applied"
        reason = note or f"confirmed by {actor.label()}"
        if row.action != "suspend":
            record(s, row, "remediation.confirmed", now, reason, notices, actor)
    if row.action == "suspend":
        apply(None, row, ctx, actor)
        with sessions() as s, s.begin():
            fresh = _find(s, row.id)
            record(s, fresh, "remediation.confirmed", now, reason, notices, actor)
    return row, notices


def reject(
    sessions: sessionmaker[Session], action_id: str, actor: Actor, now: datetime, note: str = ""
) -> tuple[RemediationAction, list[Notice]]:
    """Decline a proposal (`remediation.rejected`); the cooldown still applies to its rule."""
    notices: list[Notice] = []
    with sessions() as s, s.begin():
        row = _find(s, action_id)
        if row.status != "proposed":
            raise ActionError(f"action {row.id} is {row.status}; only proposals can be rejected")
        row.status, row.decided_by, row.note = "rejected", actor.label(), note or None
        record(s, row, "remediation.rejected", now, note or "rejected", notices, actor)
    return row, notices


def revert(
    sessions: sessionmaker[Session],
    action_id: str,
    ctx: ActionContext,
    actor: Actor,
    now: datetime,
    note: str = "",
) -> tuple[RemediationAction, list[Notice]]:
    """Undo an applied action by hand (`remediation.reverted`)."""
    with sessions() as s:
        full_id = _find(s, action_id).id
    notices: list[Notice] = []
    row = revert_action(
        sessions, full_id, ctx, actor, now, note or f"reverted by {actor.label()}", notices
    )
    return row, notices


__all__ = ["STATUSES", "confirm", "list_actions", "reject", "revert"]
