"""The budgets service: create, list, show, change and delete budgets. The admin API and the CLI
are thin front ends over it. Every change commits with its audit event and a state-version bump,
so every gateway process picks the budget up within `server.state_poll_ms`."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from steward.events.ids import short_id
from steward.identity._api_keys import find_key
from steward.identity._base import ServiceBase, find, must_utc, utcnow
from steward.identity._validate import choice, clean_name
from steward.identity.durations import parse_duration
from steward.identity.errors import Conflict, Invalid, NotFound
from steward.identity.records import SYSTEM_ACTOR, Actor
from steward.store.models import Agent, App, Budget, Team, User
from steward.usage.budgets.ledger import ledger_spend
from steward.usage.budgets.periods import CALENDAR, MAX_WINDOW_S, MIN_WINDOW_S, span
from steward.usage.budgets.records import BudgetInfo, TargetNames, spec_of, window_text
from steward.usage.budgets.spec import SCOPES

DEFAULT_ALERTS: tuple[int, ...] = (50, 80, 100)
MAX_AMOUNT = Decimal(1_000_000_000)
_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


def clean_amount(amount: Decimal | float | str) -> Decimal:
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise Invalid(
            f"amount '{amount}' is not a number; give USD, e.g. 100 or 12.50",
            code="invalid_amount",
        ) from None
    if not value.is_finite() or value <= 0 or value > MAX_AMOUNT:
        raise Invalid(
            f"amount {amount} is out of range; give more than 0 and at most {MAX_AMOUNT} USD",
            code="invalid_amount",
        )
    if value != value.quantize(Decimal("0.000001")):
        raise Invalid(f"amount {amount} has more than 6 decimal places", code="invalid_amount")
    return value


def clean_alerts(alerts: Sequence[int] | None) -> list[int]:
    """Alert thresholds in percent of the amount: sorted, unique, each 1-1000."""
    values = list(DEFAULT_ALERTS if alerts is None else alerts)
    for a in values:
        if not 1 <= int(a) <= 1000:
            raise Invalid(
                f"alert threshold {a} is out of range; give percentages from 1 to 1000, "
                "e.g. 50,80,100",
                code="invalid_alerts",
            )
    return sorted({int(a) for a in values})


def clean_period(period: str | None, window: str | None) -> tuple[str, int | None]:
    """(period, window seconds): a calendar period, or `rolling` with its window."""
    if window is None:
        if period == "rolling":
            raise Invalid(
                "a rolling budget needs a window, e.g. --window 7d", code="invalid_period"
            )
        return choice("period", period or "month", CALENDAR), None
    if period not in (None, "rolling"):
        raise Invalid(
            f"give either a calendar period ({period}) or a rolling window ({window}), not both",
            code="invalid_period",
        )
    seconds = int(parse_duration(window).total_seconds())
    if not MIN_WINDOW_S <= seconds <= MAX_WINDOW_S:
        raise Invalid(
            f"window {window} is out of range; give 1m to {MAX_WINDOW_S // 86400}d",
            code="invalid_window",
        )
    return "rolling", seconds


def _resolve_target(s: Session, scope: str, target: str | None) -> str | None:
    if scope == "org":
        if target:
            raise Invalid(
                "an organisation budget has no target; drop the principal or pick another scope",
                code="invalid_target",
            )
        return None
    if not target:
        raise Invalid(
            f"a {scope} budget needs the {scope} it limits (name or id)", code="invalid_target"
        )
    if scope == "key":
        return find_key(s, target).id
    if scope == "user":
        return find(s, User, target).id
    if scope == "team":
        return find(s, Team, target).id
    if scope == "app":
        return find(s, App, target).id
    return find(s, Agent, target).id


def _default_name(
    s: Session,
    scope: str,
    target: str | None,
    period: str,
    window: str | None,
    model: str | None,
    provider: str | None,
) -> str:
    parts = [scope, target or "", window or period, model or "", provider or ""]
    base = _UNSAFE.sub("-", "-".join(p for p in parts if p)).strip("-._@")[:90] or "budget"
    name, n = base, 1
    while s.scalar(select(Budget.id).where(Budget.name == name)) is not None:
        n += 1
        name = f"{base}-{n}"
    return name


def _find(s: Session, ref: str) -> Budget:
    row = s.get(Budget, ref) or s.scalar(select(Budget).where(Budget.name == ref))
    if row is None:
        raise NotFound(
            f"budget '{ref}' does not exist; check the name or id (list budgets to see them)",
            code="budget_not_found",
        )
    return row


def _ts(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class BudgetService(ServiceBase):
    """Budgets in the store. `models` and `providers`, when given (the configured names),
    let a budget's model or provider filter be checked when it is created."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        models: Sequence[str] | None = None,
        providers: Sequence[str] | None = None,
        engine: Engine | None = None,
    ) -> None:
        super().__init__(session_factory, engine=engine)
        self._models = None if models is None else set(models)
        self._providers = None if providers is None else set(providers)

    @classmethod
    def sharing(cls, other: ServiceBase) -> BudgetService:
        """A budget service over another service's store (the admin API's identity service)."""
        return cls(other._sessions)

    def _check_filters(self, model: str | None, provider: str | None) -> None:
        if model and self._models is not None and model not in self._models:
            known = ", ".join(sorted(self._models)) or "none"
            raise Invalid(
                f"model '{model}' is not a configured model alias (models: {known})",
                code="model_not_found",
            )
        if provider and self._providers is not None and provider not in self._providers:
            known = ", ".join(sorted(self._providers)) or "none"
            raise Invalid(
                f"provider '{provider}' is not configured (providers: {known})",
                code="provider_not_found",
            )

    def _info(self, row: Budget, names: TargetNames, spend: Session | None = None) -> BudgetInfo:
        spec = spec_of(row, names)
        now = time.time()
        sp = span(spec.period, spec.window_s, now)
        spent = None
        if spend is not None:
            spent = float(ledger_spend(spend, spec, sp.start, now + 1))
        return BudgetInfo(
            id=row.id,
            name=row.name,
            scope=row.scope,
            target=spec.target_name,
            target_id=row.target_id,
            amount_usd=float(spec.amount_usd),
            period=row.period,
            window=window_text(row.window_s),
            model=row.model,
            provider=row.provider,
            alerts=list(spec.alerts),
            hard=spec.hard,
            created_at=must_utc(row.created_at),
            created_by=row.created_by,
            period_start=_ts(sp.start),
            resets_at=_ts(sp.end),
            spent_usd=spent,
        )

    def create_budget(
        self,
        scope: str,
        target: str | None,
        amount: Decimal | float | str,
        *,
        period: str | None = None,
        window: str | None = None,
        model: str | None = None,
        provider: str | None = None,
        alerts: Sequence[int] | None = None,
        hard: bool = True,
        name: str | None = None,
        actor: Actor = SYSTEM_ACTOR,
    ) -> BudgetInfo:
        """Create a budget on a principal (`org`: every request) for a period or window."""
        scope = choice("scope", scope, SCOPES)
        value = clean_amount(amount)
        period_, window_s = clean_period(period, window)
        thresholds = clean_alerts(alerts)
        model, provider = (model or None), (provider or None)
        self._check_filters(model, provider)
        with self._write() as s:
            target_id = _resolve_target(s, scope, target)
            names = TargetNames(s)
            if name:
                name = clean_name("budget", name)
                if s.scalar(select(Budget.id).where(Budget.name == name)) is not None:
                    raise Conflict(
                        f"a budget named '{name}' already exists; choose another name",
                        code="budget_exists",
                    )
            else:
                name = _default_name(
                    s,
                    scope,
                    names.name(scope, target_id),
                    period_,
                    window_text(window_s),
                    model,
                    provider,
                )
            row = Budget(
                id=short_id("bgt"),
                name=name,
                scope=scope,
                target_id=target_id,
                model=model,
                provider=provider,
                amount_usd=value,
                period=period_,
                window_s=window_s,
                alerts=thresholds,
                hard=hard,
                created_at=utcnow(),
                created_by=actor.label(),
            )
            s.add(row)
            s.flush()
            info = self._info(row, names)
            self._changed(s, actor, "budget.create", "budget", row.id, details=_details(info))
            return info

    def list_budgets(self, scope: str | None = None, target: str | None = None) -> list[BudgetInfo]:
        with self._read() as s:
            stmt = select(Budget).order_by(Budget.name)
            if scope is not None:
                stmt = stmt.where(Budget.scope == choice("scope", scope, SCOPES))
                if target is not None:
                    stmt = stmt.where(Budget.target_id == _resolve_target(s, scope, target))
            names = TargetNames(s)
            return [self._info(row, names) for row in s.scalars(stmt)]

    def get_budget(self, ref: str) -> BudgetInfo:
        """One budget with its ledger spend in the current period."""
        with self._read() as s:
            return self._info(_find(s, ref), TargetNames(s), spend=s)

    def update_budget(
        self,
        ref: str,
        *,
        amount: Decimal | float | str | None = None,
        alerts: Sequence[int] | None = None,
        hard: bool | None = None,
        name: str | None = None,
        actor: Actor = SYSTEM_ACTOR,
    ) -> BudgetInfo:
        """Change a budget's amount, alerts, hardness or name (not what it applies to)."""
        with self._write() as s:
            row = _find(s, ref)
            changes: dict[str, object] = {}
            if amount is not None:
                row.amount_usd = clean_amount(amount)  # type: ignore[assignment]
                changes["amount_usd"] = str(row.amount_usd)
            if alerts is not None:
                row.alerts = clean_alerts(alerts)
                changes["alerts"] = row.alerts
            if hard is not None:
                row.hard = hard
                changes["hard"] = hard
            if name is not None and name != row.name:
                name = clean_name("budget", name)
                if s.scalar(select(Budget.id).where(Budget.name == name)) is not None:
                    raise Conflict(
                        f"a budget named '{name}' already exists; choose another name",
                        code="budget_exists",
                    )
                row.name = name
                changes["name"] = name
            s.flush()
            info = self._info(row, TargetNames(s))
            if changes:
                self._changed(s, actor, "budget.update", "budget", row.id, details=changes)
            return info

    def delete_budget(self, ref: str, *, actor: Actor = SYSTEM_ACTOR) -> BudgetInfo:
        with self._write() as s:
            row = _find(s, ref)
            info = self._info(row, TargetNames(s))
            s.delete(row)
            self._changed(s, actor, "budget.delete", "budget", row.id, details=_details(info))
            return info


def _details(info: BudgetInfo) -> dict[str, object]:
    return {
        "name": info.name,
        "scope": info.scope,
        "target": info.target,
        "target_id": info.target_id,
        "amount_usd": info.amount_usd,
        "period": info.period,
        "window": info.window,
        "model": info.model,
        "provider": info.provider,
        "alerts": info.alerts,
        "hard": info.hard,
    }


__all__ = ["DEFAULT_ALERTS", "BudgetService", "clean_alerts", "clean_amount", "clean_period"]
