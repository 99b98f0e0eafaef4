"""Notification payloads for approvers: `approval.requested` and `approval.decided`, in the
notifier's generic shape (rendered as Slack Block Kit for `format: slack` webhooks)."""

from __future__ import annotations

from typing import Any

import orjson

from steward.agents.approvals.records import Approval

REQUESTED = "approval.requested"
DECIDED = "approval.decided"
_ARGS_CHARS = 1500


def _name(a: Approval, ident: str | None) -> str | None:
    if ident is None:
        return None
    name = a.names.get(ident)
    return f"{name} ({ident})" if name else ident


def _args(a: Approval) -> str:
    text = orjson.dumps(a.arguments or {}, option=orjson.OPT_SORT_KEYS).decode()
    return text if len(text) <= _ARGS_CHARS else text[: _ARGS_CHARS - 1] + "…"


def _who(a: Approval) -> str:
    if a.agent_id:
        who = f"agent {a.names.get(a.agent_id, a.agent_id)}"
        if a.on_behalf_of:
            who += f" on behalf of {a.names.get(a.on_behalf_of, a.on_behalf_of)}"
        return who
    if a.user_id:
        return f"user {a.names.get(a.user_id, a.user_id)}"
    if a.app_id:
        return f"app {a.names.get(a.app_id, a.app_id)}"
    return a.principal_kind


def _common(a: Approval) -> dict[str, Any]:
    return {
        "approval_id": a.id,
        "status": a.status,
        "action": a.action,
        "resource": a.resource,
        "agent": _name(a, a.agent_id),
        "on_behalf_of": _name(a, a.on_behalf_of),
        "owner": _name(a, a.owner_id),
        "user": _name(a, a.user_id) if not a.agent_id else None,
        "arguments": _args(a),
        "policies": ", ".join(a.policies) or None,
        "binding": a.binding,
        "expires_at": a.expires_at.isoformat(),
    }


def requested_payload(a: Approval) -> dict[str, Any]:
    """What approvers receive when an action is held for them."""
    return {
        "title": f"Approval needed: {a.action} {a.resource}",
        "message": (
            f"{_who(a)} asks to {a.action.replace('_', ' ')} `{a.resource}`"
            + (f": {a.reason}" if a.reason else "")
            + f". Approve with `steward approvals approve {a.id} --as <you>` or deny with "
            f"`steward approvals deny {a.id}` (admin API: POST /admin/v1/approvals/{a.id}/approve)."
        ),
        **_common(a),
        "reason": a.reason or None,
    }


def decided_payload(a: Approval) -> dict[str, Any]:
    """What approvers receive when an approval is approved, denied, expired or cancelled."""
    by = _name(a, a.approver_id) or a.decided_by
    verb = {
        "approved": "approved",
        "denied": "denied",
        "expired": "expired",
        "cancelled": "cancelled",
    }.get(a.status, a.status)
    return {
        "title": f"Approval {verb}: {a.action} {a.resource}",
        "message": f"Approval {a.id} for {_who(a)} was {verb}"
        + (f" by {by}" if by and a.status in ("approved", "denied", "cancelled") else "")
        + (f": {a.note}" if a.note else "."),
        **_common(a),
        "decided_by": a.decided_by,
        "approver": _name(a, a.approver_id),
        "note": a.note,
    }


__all__ = ["DECIDED", "REQUESTED", "decided_payload", "requested_payload"]
