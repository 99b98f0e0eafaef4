"""The counters behind budgets and rate limits: a small interface with an in-process and a Redis
implementation that follow the same rules (the Redis one in Lua, one round trip per call).

Units: money in integer nano-USD (1e-9 USD), tokens and requests as integers, time in unix
seconds or milliseconds. Keys are plain strings; the Redis implementation prefixes them.

Rate limits are sliding windows: the use of a window is the previous fixed window's count,
weighted by how much of it still overlaps the sliding window, plus the current one's.

A budget counter holds what was spent in its period (`s`; for rolling windows the sum of the
live time buckets) and what requests in flight reserved (`r`). Reservations are kept per minute
(leases): one that is never settled (a gateway crashed) lapses after `lease_minutes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(slots=True)  # made per request: a plain dataclass initialises faster than a frozen one
class RateSlot:
    """One rate limit's counter as a request meets it."""

    key: str  # e.g. rl:team:team_01..:r (requests) or :t (tokens)
    limit: int
    cost: int  # 1 for a requests limit; the estimated input tokens for a tokens limit
    window: int  # index of the current fixed window (now_ms // window_ms)
    elapsed_ms: int  # time into the current window
    window_ms: int = 60_000


@dataclass(frozen=True, slots=True)
class BudgetSlot:
    """One budget's counter for the period a request falls in."""

    key: str  # b:<budget id>:<period start> (calendar) or b:<budget id>:roll
    amount: int  # nano-USD
    hard: bool
    bucket_s: int  # rolling windows: bucket length; 0 for calendar periods
    buckets: int  # rolling windows: buckets in the window
    expire_at: int  # unix seconds after which the counter may be forgotten
    marks: str  # key prefix of the once-per-period threshold marks


@dataclass(slots=True)
class BudgetState:
    spent: int = 0
    reserved: int = 0
    seeded: bool = False
    created_ms: int = 0  # when the counter was created (ledger spend before it is seeded in)
    oldest: int = 0  # rolling windows: the oldest bucket that may hold spend


@dataclass(slots=True)
class Outcome:
    """The answer to an admission: admitted, or the index of the first slot that refused
    (rate slots first, then budget slots); the counters as they were before it."""

    ok: bool
    refused: int
    rates: list[tuple[int, int]] = field(default_factory=list)  # (previous, current) window
    budgets: list[BudgetState] = field(default_factory=list)


@dataclass(slots=True)
class Settled:
    """Each budget's spend after a settlement, and the alert thresholds crossed for the first
    time in the period (budget index, percent)."""

    spent: list[int]
    crossed: list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Alert:
    percent: int
    threshold: int  # nano-USD: spend at or above this crosses it


class Counters(Protocol):
    """Atomic check-and-reserve over many counters, settlement, and the small extras."""

    async def admit(
        self,
        rates: list[RateSlot],
        budgets: list[BudgetSlot],
        cost: int,
        now_ms: int,
        lease_minutes: int,
    ) -> Outcome:
        """All or nothing: every rate slot has room for its cost and every hard budget for
        `cost`, then all are charged; otherwise nothing changes."""
        ...

    async def settle(
        self,
        budgets: list[BudgetSlot],
        reserved: int,
        actual: int,
        lease_minute: int,
        now_ms: int,
        lease_minutes: int,
        tokens: list[tuple[str, int]],
        token_delta: int,
        alerts: list[list[Alert]],
    ) -> Settled:
        """Release `reserved` (made in `lease_minute`) from each budget, add `actual` to its
        spend, correct the token counters (key, window) by `token_delta`, and mark the alert
        thresholds the new spend crossed (once per period, across every process)."""
        ...

    async def peek(
        self, budgets: list[BudgetSlot], now_ms: int, lease_minutes: int
    ) -> list[BudgetState]:
        """The budgets' counters now."""
        ...

    async def seed(
        self, budget: BudgetSlot, amounts: dict[int, int], now_ms: int, add: bool = False
    ) -> bool:
        """Add spend recorded elsewhere (the ledger) to a counter, once: returns False when it
        was already seeded. `amounts` maps bucket index -> nano-USD (key 0 for calendar
        periods). With `add`, add regardless (catching up after an outage)."""
        ...

    async def mark(self, key: str, expire_at: int) -> bool:
        """Set a once-only mark; True if this call set it."""
        ...

    async def aclose(self) -> None: ...


__all__ = [
    "Alert",
    "BudgetSlot",
    "BudgetState",
    "Counters",
    "Outcome",
    "RateSlot",
    "Settled",
]
