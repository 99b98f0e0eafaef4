"""In-process counters for a single gateway process: the same rules as the Redis scripts, in
plain Python. Each call runs without awaiting, so it is atomic on the event loop (no lock)."""

from __future__ import annotations

import time
from collections.abc import Callable

from steward.usage.counters.base import (
    Alert,
    BudgetSlot,
    BudgetState,
    Outcome,
    RateSlot,
    Settled,
)

_GC_EVERY_MS = 60_000


class _Budget:
    __slots__ = (
        "buckets",
        "created_ms",
        "expire_at",
        "leases",
        "local",
        "reserved",
        "res_lo",
        "seeded",
        "slot",
        "spent",
        "spent_lo",
    )

    def __init__(self, slot: BudgetSlot, now_ms: int) -> None:
        self.slot = slot
        self.spent = 0
        self.spent_lo: int | None = None
        self.buckets: dict[int, int] = {}
        self.reserved = 0
        self.res_lo: int | None = None
        self.leases: dict[int, int] = {}
        self.seeded = False
        self.created_ms = now_ms
        self.expire_at = 0
        self.local = 0  # spend settled here (not seeded): pushed to Redis after an outage

    def expire_leases(self, new_lo: int) -> None:
        if self.res_lo is None or self.res_lo >= new_lo:
            return
        for minute in [m for m in self.leases if m < new_lo]:
            self.reserved -= self.leases.pop(minute)
        self.res_lo = new_lo

    def expire_buckets(self, new_lo: int) -> None:
        if self.spent_lo is None or self.spent_lo >= new_lo:
            return
        for b in [b for b in self.buckets if b < new_lo]:
            self.spent -= self.buckets.pop(b)
        self.spent_lo = new_lo

    def housekeep(self, slot: BudgetSlot, now_s: int, minute: int, lease_minutes: int) -> None:
        if slot.bucket_s:
            lo = now_s // slot.bucket_s - slot.buckets + 1
            if self.spent_lo is not None and self.spent_lo < lo:
                self.expire_buckets(lo)
        lo = minute - lease_minutes
        if self.res_lo is not None and self.res_lo < lo:
            self.expire_leases(lo)

    def state(self) -> BudgetState:
        return BudgetState(
            self.spent, self.reserved, self.seeded, self.created_ms, self.spent_lo or 0
        )


def _rate_use(counts: dict[int, int] | None, slot: RateSlot) -> tuple[int, int]:
    if not counts:
        return 0, 0
    return counts.get(slot.window - 1, 0), counts.get(slot.window, 0)


def sliding_use(prev: int, cur: int, slot: RateSlot) -> int:
    """The sliding window's use: the previous window weighted by its overlap, plus this one."""
    return prev * (slot.window_ms - slot.elapsed_ms) // slot.window_ms + cur


def refuses(used: int, cost: int, limit: int) -> bool:
    """`>=` everywhere: a limit that is reached refuses, and so does one the cost would pass."""
    return used >= limit or used + cost > limit


class MemoryCounters:
    """Counters in this process's memory."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._budgets: dict[str, _Budget] = {}
        self._rates: dict[str, dict[int, int]] = {}
        self._marks: dict[str, int] = {}
        self._next_gc = 0

    def _gc(self, now_ms: int) -> None:
        self._next_gc = now_ms + _GC_EVERY_MS
        now_s = now_ms // 1000
        for key in [k for k, b in self._budgets.items() if 0 < b.expire_at < now_s]:
            del self._budgets[key]
        for key in [k for k, e in self._marks.items() if e < now_s]:
            del self._marks[key]
        oldest = now_ms // 60_000 - 1  # windows are minutes: older ones no longer count
        for key, counts in list(self._rates.items()):
            for w in [w for w in counts if w < oldest]:
                del counts[w]
            if not counts:
                del self._rates[key]

    async def admit(
        self,
        rates: list[RateSlot],
        budgets: list[BudgetSlot],
        cost: int,
        now_ms: int,
        lease_minutes: int,
    ) -> Outcome:
        if now_ms >= self._next_gc:
            self._gc(now_ms)
        out = Outcome(ok=True, refused=-1)
        if rates:
            self._check_rates(rates, out)
        if budgets:
            self._check_budgets(budgets, cost, now_ms, lease_minutes, len(rates), out)
        if out.ok:
            self._commit(rates, budgets, cost, now_ms, lease_minutes)
        return out

    def _check_rates(self, rates: list[RateSlot], out: Outcome) -> None:
        counts_of = self._rates.get
        for i, slot in enumerate(rates):
            counts = counts_of(slot.key)
            if counts:
                prev, cur = counts.get(slot.window - 1, 0), counts.get(slot.window, 0)
            else:
                prev = cur = 0
            out.rates.append((prev, cur))
            if out.ok:
                use = prev * (slot.window_ms - slot.elapsed_ms) // slot.window_ms + cur
                if use >= slot.limit or use + slot.cost > slot.limit:
                    out.ok, out.refused = False, i

    def _check_budgets(
        self,
        budgets: list[BudgetSlot],
        cost: int,
        now_ms: int,
        lease_minutes: int,
        first: int,
        out: Outcome,
    ) -> None:
        now_s, minute = now_ms // 1000, now_ms // 60_000
        states = out.budgets
        for j, slot in enumerate(budgets):
            b = self._budgets.get(slot.key)
            if b is None:
                state = BudgetState(created_ms=now_ms)
            else:
                b.housekeep(slot, now_s, minute, lease_minutes)
                state = BudgetState(b.spent, b.reserved, b.seeded, b.created_ms, b.spent_lo or 0)
            states.append(state)
            if out.ok and slot.hard:
                use = state.spent + state.reserved
                if use >= slot.amount or use + cost > slot.amount:
                    out.ok, out.refused = False, first + j

    def _commit(
        self,
        rates: list[RateSlot],
        budgets: list[BudgetSlot],
        cost: int,
        now_ms: int,
        lease_minutes: int,
    ) -> None:
        for slot in rates:
            if slot.cost:
                counts = self._rates.get(slot.key)
                if counts is None:
                    counts = self._rates[slot.key] = {}
                counts[slot.window] = counts.get(slot.window, 0) + slot.cost
        minute = now_ms // 60_000
        for bslot in budgets:
            b = self._budgets.get(bslot.key) or self._counter(bslot, now_ms, lease_minutes)
            b.reserved += cost
            b.leases[minute] = b.leases.get(minute, 0) + cost

    def _counter(self, slot: BudgetSlot, now_ms: int, lease_minutes: int) -> _Budget:
        b = self._budgets.get(slot.key)
        if b is None:
            b = self._budgets[slot.key] = _Budget(slot, now_ms)
            b.res_lo = now_ms // 60_000 - lease_minutes
            if slot.bucket_s:
                b.spent_lo = now_ms // 1000 // slot.bucket_s - slot.buckets + 1
        b.expire_at = max(b.expire_at, slot.expire_at)
        return b

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
        if token_delta:
            for key, window in tokens:
                counts = self._rates.get(key)
                if counts is not None and window in counts:
                    counts[window] += token_delta
        now_s, minute = now_ms // 1000, now_ms // 60_000
        out = Settled(spent=[], crossed=[])
        for j, slot in enumerate(budgets):
            b = self._counter(slot, now_ms, lease_minutes)
            b.housekeep(slot, now_s, minute, lease_minutes)
            if reserved and b.res_lo is not None and lease_minute >= b.res_lo:
                b.reserved -= reserved
                left = b.leases.get(lease_minute, 0) - reserved
                if left > 0:
                    b.leases[lease_minute] = left
                else:
                    b.leases.pop(lease_minute, None)
            if actual > 0:
                if slot.bucket_s:
                    bucket = now_s // slot.bucket_s
                    b.buckets[bucket] = b.buckets.get(bucket, 0) + actual
                b.spent += actual
                b.local += actual
            out.spent.append(b.spent)
            for alert in alerts[j] if j < len(alerts) else ():
                if b.spent >= alert.threshold and self._set_mark(
                    f"{slot.marks}:{alert.percent}", slot.expire_at, now_s
                ):
                    out.crossed.append((j, alert.percent))
        return out

    async def peek(
        self, budgets: list[BudgetSlot], now_ms: int, lease_minutes: int
    ) -> list[BudgetState]:
        out = []
        for slot in budgets:
            b = self._budgets.get(slot.key)
            if b is None:
                out.append(BudgetState(created_ms=now_ms))
                continue
            b.housekeep(slot, now_ms // 1000, now_ms // 60_000, lease_minutes)
            out.append(b.state())
        return out

    async def seed(
        self, budget: BudgetSlot, amounts: dict[int, int], now_ms: int, add: bool = False
    ) -> bool:
        b = self._counter(budget, now_ms, 0)
        if b.seeded and not add:
            return False
        b.seeded = True
        for bucket, amount in amounts.items():
            if budget.bucket_s:
                if b.spent_lo is not None and bucket < b.spent_lo:
                    continue
                b.buckets[bucket] = b.buckets.get(bucket, 0) + amount
            b.spent += amount
        return True

    async def mark(self, key: str, expire_at: int) -> bool:
        return self._set_mark(key, expire_at, int(self._clock()))

    def _set_mark(self, key: str, expire_at: int, now_s: int) -> bool:
        current = self._marks.get(key)
        if current is not None and current >= now_s:
            return False
        self._marks[key] = expire_at
        return True

    def local_spend(self, now_s: int) -> list[tuple[BudgetSlot, dict[int, int]]]:
        """Spend settled in this process (not seeded) per counter: what an outage kept from
        Redis. Rolling windows get it in the current bucket."""
        out = []
        for b in self._budgets.values():
            if b.local > 0:
                bucket = now_s // b.slot.bucket_s if b.slot.bucket_s else 0
                out.append((b.slot, {bucket: b.local}))
        return out

    def clear(self) -> None:
        """Forget every counter (they are re-seeded from the ledger when next used)."""
        self._budgets.clear()
        self._rates.clear()

    async def aclose(self) -> None:
        return None


__all__ = ["MemoryCounters", "refuses", "sliding_use"]
