"""A budget's spend as recorded in the usage ledger (`usage_events`): what a fresh counter is
seeded with, and what `steward budgets show` reports. Reads only; never on the request path."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Integer, Select, cast, extract, func, select
from sqlalchemy.orm import Session

from steward.store.models import UsageEvent
from steward.usage.budgets.spec import BudgetSpec

_COLUMN: dict[str, Any] = {
    "key": UsageEvent.key_id,
    "user": UsageEvent.user_id,
    "team": UsageEvent.team_id,
    "app": UsageEvent.app_id,
    "agent": UsageEvent.agent_id,
}


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _where(stmt: Select[Any], spec: BudgetSpec, start: float, before: float) -> Select[Any]:
    """The events a budget counts: its principal, model and provider, priced, in [start, before)."""
    stmt = stmt.where(
        UsageEvent.ts >= _utc(start),
        UsageEvent.ts < _utc(before),
        UsageEvent.cost_usd.is_not(None),
    )
    column = _COLUMN.get(spec.scope)
    if column is not None:
        stmt = stmt.where(column == spec.target_id)
    if spec.model:
        stmt = stmt.where(UsageEvent.model == spec.model)
    if spec.provider:
        stmt = stmt.where(UsageEvent.provider == spec.provider)
    return stmt


def _decimal(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value))


def ledger_spend(session: Session, spec: BudgetSpec, start: float, before: float) -> Decimal:
    """USD the budget's requests cost between `start` and `before` (unix seconds)."""
    stmt = _where(select(func.sum(UsageEvent.cost_usd)), spec, start, before)
    return _decimal(session.scalar(stmt))


def ledger_buckets(
    session: Session, spec: BudgetSpec, start: float, before: float, bucket_s: int
) -> dict[int, Decimal]:
    """The same spend per time bucket (bucket index = unix seconds // bucket_s), for rolling
    windows."""
    if session.get_bind().dialect.name == "sqlite":
        epoch: Any = cast(func.strftime("%s", UsageEvent.ts), Integer)
    else:
        epoch = cast(func.floor(extract("epoch", UsageEvent.ts)), BigInteger)
    bucket = (epoch // bucket_s).label("bucket")
    stmt = _where(select(bucket, func.sum(UsageEvent.cost_usd)), spec, start, before)
    rows = session.execute(stmt.group_by(bucket))
    return {int(b): _decimal(total) for b, total in rows if b is not None}


__all__ = ["ledger_buckets", "ledger_spend"]
