"""The audit events and notifications of budgets and rate limits."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from steward.events.ids import new_id
from steward.usage.budgets.periods import iso
from steward.usage.budgets.spec import BudgetSpec, from_nano


def _row(
    action: str,
    outcome: str,
    *,
    target_type: str,
    target_id: str | None,
    reason: str | None,
    details: dict[str, Any],
    request_id: str | None = None,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "ts": datetime.now(UTC),
        "actor_type": "system",
        "actor_id": "steward",
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "outcome": outcome,
        "reason": reason,
        "request_id": request_id,
        "details": details,
    }


def budget_payload(
    spec: BudgetSpec, spent: int, period_start: int, resets_at: int, percent: int | None
) -> dict[str, Any]:
    """What an alert says about a budget (the audit details and the notification payload)."""
    amount = float(spec.amount_usd)
    spent_usd = float(from_nano(spent))
    return {
        "budget_id": spec.id,
        "budget": spec.name,
        "scope": spec.scope,
        "target_id": spec.target_id,
        "target": spec.target_name,
        "model": spec.model,
        "provider": spec.provider,
        "amount_usd": amount,
        "spent_usd": round(spent_usd, 6),
        "percent": percent,
        "used_percent": round(100 * spent_usd / amount, 2) if amount else None,
        "period": spec.period,
        "window_s": spec.window_s,
        "period_start": iso(period_start),
        "resets_at": iso(resets_at),
        "hard": spec.hard,
    }


def _usd(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def threshold_row(payload: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    reason = (
        f"budget '{payload['budget']}' reached {payload['percent']}% of "
        f"{_usd(payload['amount_usd'])} USD ({_usd(payload['spent_usd'])} USD spent)"
    )
    return _row(
        "budget.threshold",
        "succeeded",
        target_type="budget",
        target_id=payload["budget_id"],
        reason=reason,
        details=payload,
        request_id=request_id,
    )


def exhausted_row(payload: dict[str, Any], message: str, request_id: str | None) -> dict[str, Any]:
    return _row(
        "budget.exhausted",
        "denied",
        target_type="budget",
        target_id=payload["budget_id"],
        reason=message,
        details=payload,
        request_id=request_id,
    )


def redis_row(down: bool, where: str, mode: str, detail: str) -> dict[str, Any]:
    """`limits.redis_unavailable` when an outage starts, `limits.redis_recovered` at its end."""
    return _row(
        "limits.redis_unavailable" if down else "limits.redis_recovered",
        "failed" if down else "succeeded",
        target_type="redis",
        target_id=where,
        reason=detail,
        details={"mode": mode, "pid": os.getpid()},
    )


__all__ = ["budget_payload", "exhausted_row", "redis_row", "threshold_row"]
