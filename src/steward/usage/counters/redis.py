"""Counters in Redis, shared by every gateway process: each call is one Lua script (one round
trip; calls of concurrent requests share it, see `_coalesce`), so a check-and-reserve over many
counters is atomic across replicas. Numbers travel packed in one argument. Keys start with
`steward:`; they are built by the caller and passed in, except the threshold marks (one Redis
server or a Sentinel-managed primary; Redis Cluster is not supported)."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError

from steward.usage.counters import _lua
from steward.usage.counters._coalesce import Coalescer
from steward.usage.counters.base import (
    Alert,
    BudgetSlot,
    BudgetState,
    Outcome,
    RateSlot,
    Settled,
)

PREFIX = "steward:"


def _pack(values: list[int]) -> str:
    return ",".join(map(str, values))


def _unpack(reply: bytes | str) -> list[int]:
    text = reply.decode() if isinstance(reply, bytes) else str(reply)
    return [int(v) for v in text.split(",") if v]


def _states(values: list[int], start: int, n: int) -> list[BudgetState]:
    out = []
    for j in range(n):
        s, r, i, c, lo = values[start + 5 * j : start + 5 * j + 5]
        out.append(BudgetState(spent=s, reserved=r, seeded=bool(i), created_ms=c, oldest=lo))
    return out


class RedisCounters:
    """Counters in Redis (`redis_url`)."""

    def __init__(self, url: str, timeout_s: float = 0.25, prefix: str = PREFIX) -> None:
        self.prefix = prefix
        # One immediate retry on a broken connection (a pooled socket Redis closed while it was
        # restarting), none on timeouts: a script that may have run is never run twice.
        self.redis: Redis = Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[ConnectionError],
            retry_on_timeout=False,
        )
        self._admit = self.redis.register_script(_lua.ADMIT)
        self._settle = self.redis.register_script(_lua.SETTLE)
        self._peek = self.redis.register_script(_lua.PEEK)
        self._calls = Coalescer(self.redis)
        self._seed = self.redis.register_script(_lua.SEED)

    async def admit(
        self,
        rates: list[RateSlot],
        budgets: list[BudgetSlot],
        cost: int,
        now_ms: int,
        lease_minutes: int,
    ) -> Outcome:
        keys: list[str] = []
        args = [len(rates), len(budgets), cost, now_ms, lease_minutes]
        for r in rates:
            keys += [f"{self.prefix}{r.key}:{r.window}", f"{self.prefix}{r.key}:{r.window - 1}"]
            args += [r.limit, r.cost, r.elapsed_ms, r.window_ms]
        for b in budgets:
            keys.append(self.prefix + b.key)
            args += [b.amount, 1 if b.hard else 0, b.bucket_s, b.buckets, b.expire_at]
        values = _unpack(await self._calls.call(self._admit, keys, [_pack(args)]))
        n = len(rates)
        return Outcome(
            ok=values[0] == 1,
            refused=values[1],
            rates=[(values[2 + 2 * i], values[3 + 2 * i]) for i in range(n)],
            budgets=_states(values, 2 + 2 * n, len(budgets)),
        )

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
        keys = [f"{self.prefix}{key}:{window}" for key, window in tokens]
        args = [
            len(tokens),
            len(budgets),
            reserved,
            actual,
            lease_minute,
            now_ms,
            lease_minutes,
            token_delta,
        ]
        for j, b in enumerate(budgets):
            keys.append(self.prefix + b.key)
            wanted = alerts[j] if j < len(alerts) else []
            args += [b.bucket_s, b.buckets, b.expire_at, len(wanted)]
            for a in wanted:
                args += [a.percent, a.threshold]
        reply = await self._calls.call(self._settle, keys, [_pack(args), self.prefix])
        values = _unpack(reply)
        out = Settled(spent=[], crossed=[])
        p = 0
        for j in range(len(budgets)):
            out.spent.append(values[p])
            n = values[p + 1]
            out.crossed += [(j, pct) for pct in values[p + 2 : p + 2 + n]]
            p += 2 + n
        return out

    async def peek(
        self, budgets: list[BudgetSlot], now_ms: int, lease_minutes: int
    ) -> list[BudgetState]:
        if not budgets:
            return []
        args = [now_ms, lease_minutes]
        for b in budgets:
            args += [b.bucket_s, b.buckets]
        keys = [self.prefix + b.key for b in budgets]
        values = _unpack(await self._peek(keys=keys, args=[_pack(args)]))
        return _states(values, 0, len(budgets))

    async def seed(
        self, budget: BudgetSlot, amounts: dict[int, int], now_ms: int, add: bool = False
    ) -> bool:
        args = [now_ms, budget.bucket_s, budget.buckets, budget.expire_at, 1 if add else 0]
        for bucket, amount in amounts.items():
            args += [bucket, amount]
        reply = await self._seed(keys=[self.prefix + budget.key], args=[_pack(args)])
        return int(reply) == 1

    async def mark(self, key: str, expire_at: int) -> bool:
        return bool(await self.redis.set(self.prefix + key, b"1", nx=True, exat=expire_at))

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    async def aclose(self) -> None:
        await self._calls.aclose()
        await self.redis.aclose()


__all__ = ["PREFIX", "RedisCounters"]
