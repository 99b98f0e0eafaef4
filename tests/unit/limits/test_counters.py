"""The counters' rules, run against the in-process implementation and the Redis Lua scripts
alike: all-or-nothing admission, `>=` comparisons, settlement, leases, rolling windows, sliding
rate windows, token corrections, once-only thresholds and seeds."""

from __future__ import annotations

import asyncio

from steward.usage.counters import Alert, BudgetSlot, Counters, RateSlot
from tests.unit.limits.conftest import Clock

LEASE = 15  # minutes


def budget(
    key: str = "b:x:1",
    amount: int = 100,
    hard: bool = True,
    expire_at: int = 4_000_000_000,
    bucket_s: int = 0,
    buckets: int = 0,
) -> BudgetSlot:
    return BudgetSlot(key, amount, hard, bucket_s, buckets, expire_at, f"bt:{key[2:]}")


def rate(key: str, limit: int, cost: int, clock: Clock) -> RateSlot:
    now_ms = int(clock() * 1000)
    return RateSlot(key, limit, cost, now_ms // 60_000, now_ms % 60_000)


def ms(clock: Clock) -> int:
    return int(clock() * 1000)


async def settle(
    c: Counters,
    slots: list[BudgetSlot],
    reserved: int,
    actual: int,
    clock: Clock,
    alerts: list[list[Alert]] | None = None,
    lease_minute: int | None = None,
) -> list[int]:
    now = ms(clock)
    out = await c.settle(
        slots,
        reserved,
        actual,
        now // 60_000 if lease_minute is None else lease_minute,
        now,
        LEASE,
        [],
        0,
        alerts or [[] for _ in slots],
    )
    return out.spent


async def test_a_hard_budget_admits_while_the_maximum_fits(
    counters: Counters, clock: Clock
) -> None:
    b = budget(amount=100)
    for _ in range(4):
        assert (await counters.admit([], [b], 25, ms(clock), LEASE)).ok
    out = await counters.admit([], [b], 1, ms(clock), LEASE)
    assert not out.ok and out.refused == 0
    assert (out.budgets[0].spent, out.budgets[0].reserved) == (0, 100)


async def test_reaching_the_amount_refuses_even_a_free_request(
    counters: Counters, clock: Clock
) -> None:
    b = budget(amount=100)
    assert (await counters.admit([], [b], 100, ms(clock), LEASE)).ok
    assert await settle(counters, [b], 100, 100, clock) == [100]
    # spent >= amount: refused, even at zero cost (an unpriced model)
    assert not (await counters.admit([], [b], 0, ms(clock), LEASE)).ok


async def test_a_request_that_would_pass_the_amount_is_refused(
    counters: Counters, clock: Clock
) -> None:
    b = budget(amount=100)
    assert (await counters.admit([], [b], 60, ms(clock), LEASE)).ok
    await settle(counters, [b], 60, 60, clock)
    assert not (await counters.admit([], [b], 41, ms(clock), LEASE)).ok
    assert (await counters.admit([], [b], 40, ms(clock), LEASE)).ok


async def test_soft_budgets_never_refuse(counters: Counters, clock: Clock) -> None:
    b = budget(amount=10, hard=False)
    for _ in range(3):
        assert (await counters.admit([], [b], 10, ms(clock), LEASE)).ok


async def test_admission_is_all_or_nothing(counters: Counters, clock: Clock) -> None:
    roomy, tight = budget("b:roomy:1", 1000), budget("b:tight:1", 50)
    r = rate("rl:key:k:r", 100, 1, clock)
    assert (await counters.admit([r], [roomy, tight], 40, ms(clock), LEASE)).ok
    out = await counters.admit([r], [roomy, tight], 40, ms(clock), LEASE)
    assert not out.ok and out.refused == 2  # rate slot 0, budgets 1 and 2
    peek = await counters.peek([roomy, tight], ms(clock), LEASE)
    assert [p.reserved for p in peek] == [40, 40]  # the refused request reserved nothing
    again = await counters.admit([r], [], 0, ms(clock), LEASE)
    assert again.rates[0] == (0, 1)  # nor was it counted by the rate limit


async def test_settling_replaces_the_reservation_by_the_actual_cost(
    counters: Counters, clock: Clock
) -> None:
    b = budget(amount=1000)
    await counters.admit([], [b], 300, ms(clock), LEASE)
    await counters.admit([], [b], 300, ms(clock), LEASE)
    assert await settle(counters, [b], 300, 120, clock) == [120]
    assert await settle(counters, [b], 300, 0, clock) == [120]  # failed: released, nothing spent
    (state,) = await counters.peek([b], ms(clock), LEASE)
    assert (state.spent, state.reserved) == (120, 0)


async def test_concurrent_admissions_never_overbook(counters: Counters, clock: Clock) -> None:
    b = budget(amount=10 * 7)
    results = await asyncio.gather(
        *(counters.admit([], [b], 7, ms(clock), LEASE) for _ in range(100))
    )
    assert sum(o.ok for o in results) == 10


async def test_a_lease_lapses_when_its_request_never_settles(
    counters: Counters, clock: Clock
) -> None:
    b = budget(amount=100)
    assert (await counters.admit([], [b], 100, ms(clock), LEASE)).ok
    lease_minute = ms(clock) // 60_000
    assert not (await counters.admit([], [b], 1, ms(clock), LEASE)).ok
    clock.advance((LEASE + 1) * 60)
    assert (await counters.admit([], [b], 100, ms(clock), LEASE)).ok  # the old lease lapsed
    # a late settlement of the lapsed lease releases nothing it no longer holds
    await settle(counters, [b], 100, 0, clock, lease_minute=lease_minute)
    (state,) = await counters.peek([b], ms(clock), LEASE)
    assert state.reserved == 100


async def test_rolling_window_forgets_spend_as_it_ages(counters: Counters, clock: Clock) -> None:
    b = budget("b:roll:roll", amount=100, bucket_s=3600, buckets=24)  # a rolling day
    await counters.admit([], [b], 60, ms(clock), LEASE)
    await settle(counters, [b], 60, 60, clock)
    clock.advance(12 * 3600)
    await counters.admit([], [b], 30, ms(clock), LEASE)
    await settle(counters, [b], 30, 30, clock)
    assert not (await counters.admit([], [b], 20, ms(clock), LEASE)).ok
    clock.advance(12 * 3600 + 1)  # the first spend left the window
    (state,) = await counters.peek([b], ms(clock), LEASE)
    assert state.spent == 30
    assert (await counters.admit([], [b], 70, ms(clock), LEASE)).ok
    clock.advance(30 * 86400)  # a long idle gap: everything has left
    (state,) = await counters.peek([b], ms(clock), LEASE)
    assert (state.spent, state.reserved) == (0, 0)


async def test_sliding_rate_window(counters: Counters, clock: Clock) -> None:
    clock.now = (int(clock()) // 60) * 60 + 30  # half-way through a minute
    for _ in range(10):
        assert (await counters.admit([rate("rl:k:r", 10, 1, clock)], [], 0, ms(clock), 0)).ok
    assert not (await counters.admit([rate("rl:k:r", 10, 1, clock)], [], 0, ms(clock), 0)).ok
    clock.advance(45)  # 15 s into the next minute: 10 * 45/60 = 7.5 -> 7 still count
    for _ in range(3):
        assert (await counters.admit([rate("rl:k:r", 10, 1, clock)], [], 0, ms(clock), 0)).ok
    out = await counters.admit([rate("rl:k:r", 10, 1, clock)], [], 0, ms(clock), 0)
    assert not out.ok and out.rates[0] == (10, 3)


async def test_token_counts_are_corrected_at_settlement(counters: Counters, clock: Clock) -> None:
    t = rate("rl:k:t", 1000, 400, clock)
    assert (await counters.admit([t], [], 0, ms(clock), LEASE)).ok
    now = ms(clock)
    await counters.settle([], 0, 0, now // 60_000, now, LEASE, [(t.key, t.window)], 500, [])
    out = await counters.admit([rate("rl:k:t", 1000, 100, clock)], [], 0, ms(clock), LEASE)
    assert out.ok and out.rates[0][1] == 900
    assert not (await counters.admit([rate("rl:k:t", 1000, 1, clock)], [], 0, ms(clock), 0)).ok


async def test_thresholds_are_crossed_once_per_period(counters: Counters, clock: Clock) -> None:
    b = budget(amount=100)
    alerts = [[Alert(50, 50), Alert(80, 80), Alert(100, 100)]]
    crossed = []
    for _ in range(10):
        await counters.admit([], [b], 10, ms(clock), LEASE)
        now = ms(clock)
        out = await counters.settle([b], 10, 10, now // 60_000, now, LEASE, [], 0, alerts)
        crossed += out.crossed
    assert crossed == [(0, 50), (0, 80), (0, 100)]
    other = budget("b:x:2", amount=100)  # the next period: a new counter and new marks
    await counters.admit([], [other], 60, ms(clock), LEASE)
    now = ms(clock)
    out = await counters.settle([other], 60, 60, now // 60_000, now, LEASE, [], 0, alerts)
    assert out.crossed == [(0, 50)]


async def test_a_counter_is_seeded_once(counters: Counters, clock: Clock) -> None:
    b = budget(amount=100)
    out = await counters.admit([], [b], 10, ms(clock), LEASE)
    assert not out.budgets[0].seeded
    assert await counters.seed(b, {0: 70}, ms(clock))
    assert not await counters.seed(b, {0: 70}, ms(clock))
    (state,) = await counters.peek([b], ms(clock), LEASE)
    assert (state.spent, state.reserved, state.seeded) == (70, 10, True)
    assert not (await counters.admit([], [b], 25, ms(clock), LEASE)).ok
    assert await counters.seed(b, {0: 5}, ms(clock), add=True)  # catching up after an outage
    (state,) = await counters.peek([b], ms(clock), LEASE)
    assert state.spent == 75


async def test_seeding_a_rolling_window_drops_buckets_outside_it(
    counters: Counters, clock: Clock
) -> None:
    b = budget("b:roll:roll", amount=100, bucket_s=3600, buckets=24)
    now_bucket = int(clock()) // 3600
    await counters.seed(b, {now_bucket - 30: 50, now_bucket - 2: 20, now_bucket: 5}, ms(clock))
    (state,) = await counters.peek([b], ms(clock), LEASE)
    assert state.spent == 25
    clock.advance(23 * 3600)
    (state,) = await counters.peek([b], ms(clock), LEASE)
    assert state.spent == 5


async def test_marks_are_set_once(counters: Counters, clock: Clock) -> None:
    assert await counters.mark("bt:x:1:exhausted", int(clock()) + 3600)
    assert not await counters.mark("bt:x:1:exhausted", int(clock()) + 3600)


async def test_large_amounts_stay_exact(counters: Counters, clock: Clock) -> None:
    """Amounts are written to Redis as integers, never as 1e+16; they are exact to the nano-USD
    up to 2**53 (9 million USD) and to a few nano-USD beyond (Lua's numbers are doubles)."""
    b = budget(amount=10**17)
    assert await counters.seed(b, {0: 10**15}, ms(clock))  # a million USD
    assert (await counters.admit([], [b], 123_456_789, ms(clock), LEASE)).ok
    assert await settle(counters, [b], 123_456_789, 123_456_789, clock) == [10**15 + 123_456_789]
    assert await counters.seed(b, {0: 2 * 10**16}, ms(clock), add=True)  # 20 million more
    (spent,) = await settle(counters, [b], 0, 1, clock)
    assert abs(spent - (21 * 10**15 + 123_456_790)) <= 4
