"""Which counters serve a call: Redis when it is configured and answers; during an outage the
in-process counters (`budgets.redis_failure: local`) or a refusal (`fail_closed`). An outage is
recorded once, when it starts, and once when Redis answers again."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from redis.exceptions import RedisError

from steward.usage.counters.base import Counters
from steward.usage.counters.memory import MemoryCounters
from steward.usage.counters.redis import RedisCounters
from steward.usage.limits.errors import unavailable
from steward.usage.limits.events import redis_row

log = logging.getLogger("steward.limits")

T = TypeVar("T")
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


def redis_where(url: str) -> str:
    """host:port/db of a Redis URL, without credentials (for logs and audit events)."""
    parts = urlsplit(url)
    db = parts.path.lstrip("/") or "0"
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}/{db}"


class Backends:
    def __init__(
        self,
        memory: MemoryCounters,
        redis: RedisCounters | None,
        *,
        mode: str,
        retry_s: float,
        where: str,
        emit: Callable[[dict[str, Any]], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.memory = memory
        self.redis = redis
        self.mode = mode
        self.down = False
        self._retry_s = retry_s
        self._retry_at = 0.0
        self._since = 0.0
        self._where = where
        self._emit = emit
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    def active(self) -> Counters | None:
        """The counters to use now; None: refuse (fail_closed while Redis is down)."""
        if self.redis is None:
            return self.memory
        if not self.down or self._clock() >= self._retry_at:
            return self.redis
        return self.memory if self.mode == "local" else None

    async def run(self, op: Callable[[Counters], Awaitable[T]]) -> tuple[T, Counters]:
        """Run `op` on the active counters; raise 503 limits_unavailable when there are none."""
        backend = self.active()
        if backend is None:
            raise unavailable()
        if backend is not self.memory:
            try:
                result = await op(backend)
            except REDIS_ERRORS as exc:
                self.failed(exc)
                if self.mode != "local":
                    raise unavailable() from exc
                backend = self.memory
            else:
                if self.down:
                    self.recovered()
                return result, backend
        return await op(backend), backend

    def failed(self, exc: BaseException) -> None:
        """Redis did not answer: start an outage (once) and wait before trying it again."""
        now = self._clock()
        self._retry_at = now + self._retry_s
        if self.down:
            return
        self.down = True
        self._since = now
        self.memory.clear()  # counted afresh from the ledger, not from a previous outage
        detail = f"{type(exc).__name__}: {exc}"
        log.warning(
            "Redis at %s is unavailable (%s); budgets.redis_failure=%s",
            self._where,
            detail,
            self.mode,
        )
        self._emit(redis_row(True, self._where, self.mode, detail))

    def recovered(self) -> None:
        """Redis answers again: record it and hand it the spend counted here meanwhile."""
        self.down = False
        down_s = self._clock() - self._since
        log.warning("Redis at %s is available again after %.1fs", self._where, down_s)
        self._emit(redis_row(False, self._where, self.mode, f"unavailable for {down_s:.1f}s"))
        carried = self.memory.local_spend(int(self._clock()))
        self.memory.clear()
        if carried and self.redis is not None:
            task = asyncio.create_task(self._carry(self.redis, carried))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _carry(self, redis: RedisCounters, carried: list[Any]) -> None:
        now_ms = int(self._clock() * 1000)
        try:
            for slot, amounts in carried:
                await redis.seed(slot, amounts, now_ms, add=True)
        except REDIS_ERRORS as exc:
            log.warning("could not hand the spend counted during the outage to Redis: %s", exc)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.redis is not None:
            await self.redis.aclose()


__all__ = ["REDIS_ERRORS", "Backends", "redis_where"]
