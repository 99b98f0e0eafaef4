"""Usage totals grouped by team, app, user, key or model, with names resolved. Reads the usage
ledger; rollup-backed reports over long ranges come with the reporting work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, String, case, cast, func, select
from sqlalchemy.orm import Session

from steward.store.models import Agent, ApiKey, App, Team, UsageEvent, User

DIMENSIONS: dict[str, tuple[Any, Any]] = {
    "team": (UsageEvent.team_id, Team),
    "app": (UsageEvent.app_id, App),
    "user": (UsageEvent.user_id, User),
    "agent": (UsageEvent.agent_id, Agent),
    "key": (UsageEvent.key_id, ApiKey),
    "model": (UsageEvent.model, None),
    "provider": (UsageEvent.provider, None),
    "status": (UsageEvent.status, None),
}


@dataclass(frozen=True, slots=True)
class UsageRow:
    group: dict[str, str | None]
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: Decimal
    unpriced_requests: int


def _label(column: Any, table: Any) -> ColumnElement[Any]:
    if table is None:
        return func.coalesce(cast(column, String), "(none)")
    name = table.prefix if table is ApiKey else table.name
    return func.coalesce(name, "(none)")


def summarize(
    session: Session, by: list[str], *, since: datetime | None = None, until: datetime | None = None
) -> list[UsageRow]:
    """Totals per combination of the `by` dimensions, largest cost first."""
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown dimension(s) {', '.join(unknown)}; use {', '.join(DIMENSIONS)}")
    labels = [_label(*DIMENSIONS[dim]).label(dim) for dim in by]
    priced = case((UsageEvent.cost_usd.is_(None), 0), else_=1)
    stmt = select(
        *labels,
        func.count().label("requests"),
        func.sum(case((UsageEvent.status >= 400, 1), else_=0)).label("errors"),
        func.coalesce(func.sum(UsageEvent.input_tokens), 0),
        func.coalesce(func.sum(UsageEvent.output_tokens), 0),
        func.coalesce(func.sum(UsageEvent.cached_tokens), 0),
        func.coalesce(func.sum(UsageEvent.cost_usd), 0),
        func.sum(case((UsageEvent.status < 400, 1 - priced), else_=0)),
    ).select_from(UsageEvent)
    for dim in by:
        column, table = DIMENSIONS[dim]
        if table is not None:
            stmt = stmt.outerjoin(table, table.id == column)
    if since is not None:
        stmt = stmt.where(UsageEvent.ts >= since)
    if until is not None:
        stmt = stmt.where(UsageEvent.ts < until)
    if labels:
        stmt = stmt.group_by(*labels)
    rows = []
    for r in session.execute(stmt):
        n = len(by)
        rows.append(
            UsageRow(
                group={d: (None if r[i] is None else str(r[i])) for i, d in enumerate(by)},
                requests=int(r[n]),
                errors=int(r[n + 1] or 0),
                input_tokens=int(r[n + 2]),
                output_tokens=int(r[n + 3]),
                cached_tokens=int(r[n + 4]),
                cost_usd=Decimal(str(r[n + 5] or 0)),
                unpriced_requests=int(r[n + 6] or 0),
            )
        )
    rows.sort(key=lambda row: (-row.cost_usd, -row.requests))
    return rows
