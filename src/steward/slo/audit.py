"""Audit rows and notifications written by the SLO, drift and remediation jobs. The jobs run
outside the request path (no spool): they add audit rows in the transaction that makes the
change, so the evidence commits with the change or not at all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from steward.events.ids import new_id
from steward.store.models import AuditEvent

# (event type, payload) -> delivered to the webhooks subscribed to it; None: notifications off
Notify = Callable[[str, dict[str, Any]], Awaitable[None]]


def add_audit(
    session: Session,
    now: datetime,
    action: str,
    *,
    target_type: str | None,
    target_id: str | None,
    reason: str,
    details: dict[str, Any],
    actor: str = "steward",
    actor_type: str = "system",
    outcome: str = "succeeded",
) -> None:
    """Add one audit row (committed with the caller's transaction)."""
    session.add(
        AuditEvent(
            id=new_id(),
            ts=now,
            actor_type=actor_type,
            actor_id=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            outcome=outcome,
            reason=reason or None,
            request_id=None,
            details=jsonable(details),
        )
    )


def aware(value: datetime) -> datetime:
    """Aware UTC: SQLite hands datetimes back naive (they were written as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def jsonable(value: Any) -> Any:
    """Datetimes to ISO strings, recursively, so evidence fits a JSON column."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


__all__ = ["Notify", "add_audit", "aware", "jsonable"]
