"""The SLO scheduler: a loop that runs one tick (SLOs, drift, rules) every `interval_s` on ONE
replica at a time. On PostgreSQL the replica that holds the advisory lock `lock_id` (taken with
pg_try_advisory_lock on a connection kept open while it leads) runs the ticks; the others retry
each interval and take over within one interval when the leader's connection goes away. On
SQLite (one host) an exclusive file lock next to the database plays the same role."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from steward.evals.lock import JobLock
from steward.slo.audit import Notify
from steward.slo.jobs import Jobs, TickResult

log = logging.getLogger("steward.slo.worker")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def sqlite_lock_file(database_url: str) -> Path | None:
    """The lock file beside a SQLite database file (None for an in-memory database)."""
    path = database_url.split("///", 1)[-1] if database_url.startswith("sqlite") else ""
    if not path or path == ":memory:":
        return None
    return Path(path).with_suffix(".slo-worker.lock")


class Scheduler:
    """Runs `jobs.tick` every `interval_s` while this replica leads; delivers the notices."""

    def __init__(
        self,
        jobs: Jobs,
        lock: JobLock,
        interval_s: float,
        *,
        clock: Clock | None = None,
        notify: Notify | None = None,
        on_tick: Callable[[TickResult], Any] | None = None,
    ) -> None:
        self.jobs = jobs
        self.lock = lock
        self.interval_s = interval_s
        self.clock = clock or SystemClock()
        self.notify = notify
        self.on_tick = on_tick
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def tick_once(self) -> TickResult | None:
        """One tick if this replica leads (None otherwise)."""
        if not await asyncio.to_thread(self.lock.acquire):
            return None
        result = await asyncio.to_thread(self.jobs.tick, self.clock.now())
        self.ticks += 1
        if self.notify is not None:
            for event, payload in result.notices:
                await self.notify(event, payload)
        if self.on_tick is not None:
            self.on_tick(result)
        return result

    async def run(self, max_ticks: int | None = None) -> None:
        """Loop until `stop()` (or `max_ticks` ticks run here); errors are logged, not fatal."""
        try:
            while not self._stop.is_set():
                try:
                    await self.tick_once()
                except Exception:
                    log.exception("SLO scheduler tick failed")
                if max_ticks is not None and self.ticks >= max_ticks:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.interval_s)
        finally:
            await asyncio.to_thread(self.lock.release)

    def start(self) -> None:
        """Run in the background of the current event loop (in-process in `steward serve`)."""
        self._task = asyncio.create_task(self.run(), name="slo-scheduler")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None


__all__ = ["Clock", "Scheduler", "SystemClock", "sqlite_lock_file"]
