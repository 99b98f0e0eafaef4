"""Budgets read from the store: as hot-path specs (for the gateway's snapshot) and as plain
records (for the admin API and the CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from steward.store.models import Agent, ApiKey, App, Budget, Team, User
from steward.usage.budgets.periods import describe_window
from steward.usage.budgets.spec import BudgetSpec

_NAMED: dict[str, Any] = {"user": User, "team": Team, "app": App, "agent": Agent}


@dataclass(frozen=True)
class BudgetInfo:
    """A budget as the admin API and the CLI show it. `spent_usd` is the ledger's spend in the
    current period (shown by `show`/GET of one budget; None in listings)."""

    id: str
    name: str
    scope: str
    target: str | None
    target_id: str | None
    amount_usd: float
    period: str
    window: str | None
    model: str | None
    provider: str | None
    alerts: list[int]
    hard: bool
    created_at: datetime
    created_by: str
    period_start: datetime | None = None
    resets_at: datetime | None = None
    spent_usd: float | None = None


class TargetNames:
    """Display names of budget targets, loaded once per call: principals by name, keys by
    name (or their display prefix when unnamed)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._maps: dict[str, dict[str, str]] = {}

    def name(self, scope: str, target_id: str | None) -> str | None:
        if target_id is None:
            return None
        if scope not in self._maps:
            if scope == "key":
                keys = self._session.execute(select(ApiKey.id, ApiKey.name, ApiKey.prefix))
                self._maps[scope] = {i: n or p for i, n, p in keys}
            elif scope in _NAMED:
                model = _NAMED[scope]
                named = self._session.execute(select(model.id, model.name))
                self._maps[scope] = {str(i): str(n) for i, n in named}
            else:
                self._maps[scope] = {}
        return self._maps[scope].get(target_id)


def spec_of(row: Budget, names: TargetNames) -> BudgetSpec:
    return BudgetSpec(
        id=row.id,
        name=row.name,
        scope=row.scope,
        target_id=row.target_id,
        target_name=names.name(row.scope, row.target_id),
        amount_usd=Decimal(str(row.amount_usd)),
        period=row.period,
        window_s=row.window_s,
        model=row.model,
        provider=row.provider,
        alerts=tuple(sorted(int(a) for a in row.alerts or ())),
        hard=bool(row.hard),
    )


def load_budgets(session: Session) -> tuple[BudgetSpec, ...]:
    """Every budget, for the gateway's snapshot."""
    names = TargetNames(session)
    return tuple(spec_of(row, names) for row in session.scalars(select(Budget).order_by(Budget.id)))


def window_text(window_s: int | None) -> str | None:
    return None if window_s is None else describe_window(window_s)


__all__ = ["BudgetInfo", "TargetNames", "load_budgets", "spec_of", "window_text"]
