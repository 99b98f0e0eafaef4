"""The `policy.decision` audit event: one per decision that denies, requires approval, or
denies in shadow mode, written with the request's usage event (see docs/events.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from steward.events.ids import new_id
from steward.identity.snapshot import Principal
from steward.policy.engine import Decision

ACTION = "policy.decision"


def decision_row(
    decision: Decision,
    principal: Principal | None,
    *,
    action: str,
    target_type: str,
    target_id: str,
    request_id: str | None,
    ts: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An audit row (for `EventSink.audit_record`) describing `decision` on `target`."""
    p = principal
    details: dict[str, Any] = {
        "action": action,
        **decision.details(),
        "key_prefix": p.key_prefix if p else None,
        "user_id": p.user_id if p else None,
        "team_id": p.team_id if p else None,
        "app_id": p.app_id if p else None,
        "agent_id": p.agent_id if p else None,
        "owner_id": p.owner_id if p else None,
        "on_behalf_of": p.on_behalf_of if p else None,
        "chain": list(p.chain) if p else [],
        "token_id": p.token_id if p else None,
    }
    if extra:
        details.update(extra)
    if decision.verdict == "deny":
        outcome = "allowed" if decision.allowed else "denied"
    else:
        outcome = "pending" if decision.approval else "allowed"
    return {
        "id": new_id(),
        "ts": ts or datetime.now(UTC),
        "actor_type": "key",
        "actor_id": p.key_id if p else None,
        "action": ACTION,
        "target_type": target_type,
        "target_id": target_id,
        "outcome": outcome,
        "reason": decision.reason,
        "request_id": request_id,
        "details": details,
    }


__all__ = ["ACTION", "decision_row"]
