"""Wiring of the SLO scheduler: as its own process (`steward slo worker`) or in the background
of `steward serve` (slo_worker.in_serve), with notifications delivered by the notifier."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from steward.config.settings import Runtime
from steward.evals.lock import JobLock
from steward.identity.service import IdentityService
from steward.notify.notifier import Notifier
from steward.slo.jobs import Jobs, load_embedder
from steward.slo.worker import Scheduler, sqlite_lock_file
from steward.store.db import session_factory

if TYPE_CHECKING:
    from steward.gateway.state import Gateway

log = logging.getLogger("steward.slo")


def build_scheduler(
    runtime: Runtime, engine: Engine, interval_s: float, notifier: Notifier | None
) -> Scheduler:
    """A scheduler over the runtime's store and configuration."""
    config = runtime.config
    sessions = session_factory(engine)
    jobs = Jobs(
        sessions,
        config,
        identity=IdentityService(sessions),
        embed=load_embedder(config.drift.metrics) if config.drift.enabled else None,
    )
    lock = JobLock(
        engine,
        "slo-worker",
        key=config.slo_worker.lock_id,
        path=sqlite_lock_file(runtime.database_url),
    )
    return Scheduler(
        jobs, lock, interval_s, notify=notifier.notify if notifier is not None else None
    )


async def run_worker(
    runtime: Runtime, engine: Engine, interval_s: float, max_ticks: int | None
) -> None:
    """Run the scheduler in the foreground until interrupted (or `max_ticks` ticks)."""
    notifier = Notifier(runtime.config.notifications, None)
    await notifier.start()
    scheduler = build_scheduler(runtime, engine, interval_s, notifier)
    log.info("SLO worker %s: every %.3g s", scheduler.jobs.holder, interval_s)
    try:
        await scheduler.run(max_ticks=max_ticks)
    finally:
        await notifier.close()


def in_serve(gw: Gateway) -> Scheduler | None:
    """The scheduler to run inside a gateway process, when slo_worker.in_serve is set; every
    worker process may run one, the leader lock lets one replica tick at a time."""
    settings = gw.config.slo_worker
    if not settings.in_serve:
        return None
    return build_scheduler(gw.runtime, gw.engine, settings.interval_s, gw.notifier)


__all__ = ["build_scheduler", "in_serve", "run_worker"]
