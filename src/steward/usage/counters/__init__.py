"""Counters for budgets and rate limits: in-process (one gateway process) or Redis (shared)."""

from steward.usage.counters.base import (
    Alert,
    BudgetSlot,
    BudgetState,
    Counters,
    Outcome,
    RateSlot,
    Settled,
)
from steward.usage.counters.memory import MemoryCounters
from steward.usage.counters.redis import RedisCounters

__all__ = [
    "Alert",
    "BudgetSlot",
    "BudgetState",
    "Counters",
    "MemoryCounters",
    "Outcome",
    "RateSlot",
    "RedisCounters",
    "Settled",
]
