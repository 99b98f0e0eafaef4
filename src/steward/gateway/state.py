"""The gateway's long-lived parts, built once per process from the Runtime (the app factory's
argument): store, snapshot, providers, routes, pricer, event spool and shipper, pipeline."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from steward.agents.approvals._redact import secret_redactor
from steward.agents.approvals.service import Approvals
from steward.agents.live import LiveSessions
from steward.catalogue.routing import CatalogueRouting
from steward.config.settings import Runtime
from steward.evals.runtime import EvalRuntime
from steward.events import Shipper, Spool
from steward.events.sink import EventSink
from steward.gateway.context import Deployment
from steward.gateway.pipeline import build_pipeline
from steward.guard.runtime import GuardRuntime
from steward.identity.credentials import BearerResolver
from steward.identity.snapshot import Principal, SnapshotHolder
from steward.identity.tokens_issuer import TokenIssuer
from steward.notify import Notifier
from steward.observability.setup import build_metrics, build_telemetry
from steward.policy.runtime import build_engine
from steward.providers.registry import ProviderRegistry
from steward.store.db import make_engine, session_factory
from steward.usage.limits.engine import Limits
from steward.usage.pricing import Pricer

if TYPE_CHECKING:
    from steward.slo.worker import Scheduler

log = logging.getLogger("steward.gateway")


def build_routes(runtime: Runtime, registry: ProviderRegistry) -> dict[str, list[Deployment]]:
    """alias -> [its deployment, then each fallback's], resolved once at start."""
    config = runtime.config
    single: dict[str, Deployment] = {
        m.name: Deployment(
            model=m,
            provider_name=m.provider,
            provider=config.providers[m.provider],
            adapter=registry.get(m.provider),
        )
        for m in config.models
    }
    return {m.name: [single[m.name], *(single[f] for f in m.fallbacks)] for m in config.models}


class Gateway:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.config = runtime.config
        self.engine = make_engine(runtime.database_url)
        self.sessions = session_factory(self.engine)
        self.registry = ProviderRegistry(self.config.providers)
        self.routes = build_routes(runtime, self.registry)
        self.snapshots = SnapshotHolder(
            self.sessions,
            runtime.data_dir / "snapshot.json",
            self.config.server.state_poll_ms / 1000,
        )
        self.credentials = BearerResolver(self.config.agents)  # API keys and delegation tokens
        self.token_issuer = TokenIssuer(self.config.agents, self.sessions)  # /v1/agents/token
        self.policy = build_engine(self.config)  # Cedar: gw.policy.decide_model / decide_tool
        self.snapshots.on_change(self.policy.on_snapshot)
        self.catalogue = CatalogueRouting(self.config, self.registry, self.snapshots)
        spool_cfg = self.config.spool
        self.spool = Spool(
            runtime.spool_dir, sync=spool_cfg.sync, segment_bytes=spool_cfg.segment_bytes
        )
        self.sink = EventSink(self.spool)
        self.shipper = Shipper(
            runtime.spool_dir,
            self.engine,
            interval_s=spool_cfg.ship_interval_ms / 1000,
            batch=spool_cfg.ship_batch,
            own_spool=self.spool,
        )
        self.pricer = Pricer(self.config.pricing)
        self.guard = GuardRuntime(self.config.guard, runtime.data_dir)
        self.snapshots.on_change(self.guard.on_snapshot)
        self.metrics = build_metrics(self)  # Prometheus; gw.metrics.rate_limited(...) etc.
        self.telemetry = build_telemetry(self.config.observability)  # None: no OTLP export
        self.notifier = Notifier(
            self.config.notifications, self.sink, on_outcome=self.metrics.notification
        )
        self.notify = self.notifier.notify  # await gw.notify("budget.threshold", {...})
        self.limits = Limits(
            self.config.budgets,
            self.config.rate_limits,
            self.routes,
            self.pricer,
            self.sessions,
            redis_url=runtime.redis_url,
            sink=self.sink,
            hooks=self,  # budget alerts go to self.notify, counts to self.metrics
            workers=self.config.server.workers,
        )
        self.snapshots.on_change(self.limits.on_snapshot)
        self.live = LiveSessions(self.snapshots)  # streams and MCP sessions, closed on suspension
        self.snapshots.on_change(self.live.on_snapshot)
        self.approvals = Approvals(
            self.sessions,
            self.config.approvals,
            notify=self.notify,
            redact=secret_redactor(self.guard),
        )
        self.snapshots.on_change(self.approvals.on_snapshot)
        self.evals = EvalRuntime(self)  # live sampling and the in-process worker, if configured
        self.slo: Scheduler | None = None  # the SLO scheduler here, when slo_worker.in_serve
        if self.config.slo_worker.in_serve:  # imported only then: drift statistics need SciPy
            from steward.slo.service import in_serve as slo_in_serve

            self.slo = slo_in_serve(self)
        self.pipeline = build_pipeline(self)

    async def start(self) -> None:
        await self.spool.start()
        await self.snapshots.start()
        await self.shipper.start()
        await self.limits.start()
        await self.notifier.start()
        await self.evals.start()
        if self.slo is not None:
            self.slo.start()  # ticks only while this process holds the leader lock
        await self.approvals.start()

    async def budget_status(self, principal: Principal) -> list[dict[str, Any]]:
        """The budgets that bind `principal`, with live spend and when each resets."""
        return await self.limits.budget_status(principal)

    async def stop(self) -> None:
        await self.approvals.close()
        await self.limits.stop()
        if self.slo is not None:
            await self.slo.stop()  # before the notifier: its notices go through it
        await self.notifier.close()  # before the spool: delivery outcomes are audit events
        if self.telemetry is not None:
            await asyncio.to_thread(self.telemetry.shutdown)  # export pending spans, metrics
        self.metrics.close()
        await self.snapshots.close()
        await self.evals.close()  # queued samples go to the spool before it closes
        await self.spool.close()  # release the segment first so the final flush ships it
        await self.shipper.close()
        await self.registry.aclose()
        self.engine.dispose()
