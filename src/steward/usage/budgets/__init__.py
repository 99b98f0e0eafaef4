"""Budgets: spending limits on a principal (or the whole organisation) over a UTC calendar
period or a rolling window, optionally per model or provider, with alert thresholds."""

from steward.usage.budgets.periods import PERIODS, Span, calendar_bounds, span
from steward.usage.budgets.records import BudgetInfo, load_budgets
from steward.usage.budgets.service import DEFAULT_ALERTS, BudgetService
from steward.usage.budgets.spec import SCOPES, BudgetSpec, from_nano, to_nano

__all__ = [
    "DEFAULT_ALERTS",
    "PERIODS",
    "SCOPES",
    "BudgetInfo",
    "BudgetService",
    "BudgetSpec",
    "Span",
    "calendar_bounds",
    "from_nano",
    "load_budgets",
    "span",
    "to_nano",
]
