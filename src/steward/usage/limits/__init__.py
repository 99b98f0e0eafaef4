"""Enforcement of budgets and rate limits on the request path: `engine.Limits` (reserve and
settle), `stage.Limit` (the pipeline stage) and their configuration (`settings`). Only the
settings are exported here: the configuration models import them, and must not pull in the
engine."""

from steward.usage.limits.settings import BudgetSettings, RateLimitConfig

__all__ = ["BudgetSettings", "RateLimitConfig"]
