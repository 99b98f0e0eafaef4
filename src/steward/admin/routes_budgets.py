"""Admin API routes for budgets: create, list, show (with the ledger's spend this period),
change and delete. A thin front end over `BudgetService`, like `steward budgets`."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from steward.admin.auth import ActorDep, get_identity
from steward.usage.budgets.records import BudgetInfo
from steward.usage.budgets.service import BudgetService

router = APIRouter(tags=["budgets"])

Scope = Literal["key", "user", "team", "app", "agent", "org"]


class BudgetCreate(BaseModel):
    """A budget: on a principal (`target`, a name or id; none for `org`), per UTC calendar
    `period` or rolling `window` (e.g. `7d`), optionally for one model alias or provider."""

    model_config = ConfigDict(extra="forbid")

    scope: Scope
    target: str | None = None
    amount_usd: Decimal = Field(gt=0, description="The limit in USD per period or window.")
    period: Literal["day", "week", "month"] | None = Field(
        None, description="UTC calendar period (weeks start on Monday); default month."
    )
    window: str | None = Field(None, description="A rolling window instead, e.g. 7d, 24h.")
    model: str | None = None
    provider: str | None = None
    alerts: list[int] | None = Field(
        None, description="Alert thresholds in percent of the amount; default [50, 80, 100]."
    )
    hard: bool = Field(True, description="Refuse requests over the budget (false: alert only).")
    name: str | None = Field(None, description="Unique name; generated when omitted.")


class BudgetUpdate(BaseModel):
    """Fields to change; what the budget applies to cannot change (delete and create)."""

    model_config = ConfigDict(extra="forbid")

    amount_usd: Decimal | None = Field(None, gt=0)
    alerts: list[int] | None = None
    hard: bool | None = None
    name: str | None = None


def get_budgets(request: Request) -> BudgetService:
    """The app's budget service, or one over the identity service's store."""
    service = getattr(request.app.state, "budgets", None)
    if service is None:
        service = BudgetService.sharing(get_identity(request))
        request.app.state.budgets = service
    return cast(BudgetService, service)


BudgetsDep = Annotated[BudgetService, Depends(get_budgets)]


@router.post("/budgets", status_code=201)
def create_budget(body: BudgetCreate, budgets: BudgetsDep, actor: ActorDep) -> BudgetInfo:
    """Create a budget; every gateway process enforces it within `server.state_poll_ms`."""
    return budgets.create_budget(
        body.scope,
        body.target,
        body.amount_usd,
        period=body.period,
        window=body.window,
        model=body.model,
        provider=body.provider,
        alerts=body.alerts,
        hard=body.hard,
        name=body.name,
        actor=actor,
    )


@router.get("/budgets")
def list_budgets(
    budgets: BudgetsDep, scope: Scope | None = None, target: str | None = None
) -> list[BudgetInfo]:
    """Budgets by name; `scope` (and `target`) narrow the list."""
    return budgets.list_budgets(scope, target)


@router.get("/budgets/{budget}")
def get_budget(budget: str, budgets: BudgetsDep) -> BudgetInfo:
    """A budget by name or id, with the ledger's spend in its current period."""
    return budgets.get_budget(budget)


@router.patch("/budgets/{budget}")
def update_budget(
    budget: str, body: BudgetUpdate, budgets: BudgetsDep, actor: ActorDep
) -> BudgetInfo:
    """Change a budget's amount, alerts, hardness or name."""
    return budgets.update_budget(
        budget,
        amount=body.amount_usd,
        alerts=body.alerts,
        hard=body.hard,
        name=body.name,
        actor=actor,
    )


@router.delete("/budgets/{budget}")
def delete_budget(budget: str, budgets: BudgetsDep, actor: ActorDep) -> BudgetInfo:
    """Delete a budget; requests stop being counted against it at once."""
    return budgets.delete_budget(budget, actor=actor)


__all__ = ["BudgetCreate", "BudgetUpdate", "get_budgets", "router"]
