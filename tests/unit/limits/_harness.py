"""A Limits engine over a real SQLite store with principals and budgets, and request contexts
that look like the ones the pipeline hands the limit stage."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from steward.config.models import StewardConfig
from steward.config.settings import Runtime, Settings
from steward.events.ids import new_id
from steward.gateway.context import RequestContext
from steward.gateway.state import build_routes
from steward.identity import IdentityService
from steward.identity.snapshot import Principal, Snapshot, load_snapshot
from steward.providers.base import Usage
from steward.providers.registry import ProviderRegistry
from steward.store.models import UsageEvent
from steward.usage.budgets.service import BudgetService
from steward.usage.limits.engine import Limits
from steward.usage.pricing import Pricer
from tests.unit.limits.conftest import Clock

CONFIG: dict[str, Any] = {
    "providers": {"sim": {"kind": "sim"}, "other": {"kind": "sim"}},
    "models": [
        # 1 USD / 2 USD per million tokens = 1000 / 2000 nano-USD per token
        {"name": "priced", "provider": "sim", "price": {"input_per_mtok": 1, "output_per_mtok": 2}},
        {
            "name": "elsewhere",
            "provider": "other",
            "price": {"input_per_mtok": 1, "output_per_mtok": 2},
        },
        {"name": "free", "provider": "sim"},
        {
            "name": "emb",
            "provider": "sim",
            "kind": "embedding",
            "price": {"input_per_mtok": 1, "output_per_mtok": 0},
        },
    ],
}


class Hooks:
    """Stands in for the Gateway's optional `notify` and `metrics`."""

    def __init__(self) -> None:
        self.notified: list[tuple[str, dict[str, Any]]] = []
        self.metrics = self

    async def notify(self, event: str, payload: dict[str, Any]) -> None:
        self.notified.append((event, payload))

    def rate_limited(self, scope: str, limit: str) -> None:
        pass

    def budget_usage(self, budget: str, ratio: float) -> None:
        pass

    def budget_rejected(self, budget: str) -> None:
        pass


class Sink:
    """Collects the audit events emitted off the request path."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def audit_record(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"kind": "audit", "row": row}

    async def emit(self, *records: dict[str, Any]) -> None:
        self.rows += [r["row"] for r in records]


@dataclass
class Harness:
    sessions: sessionmaker[Session]
    engine: Engine
    identity: IdentityService
    budgets: BudgetService
    config: StewardConfig
    clock: Clock
    hooks: Hooks = field(default_factory=Hooks)
    sink: Sink = field(default_factory=Sink)
    limits: Limits | None = None
    snapshot: Snapshot | None = None

    def build(self, redis_url: str | None = None, **settings: Any) -> Limits:
        """A fresh engine (as a gateway process would start) over the current store."""
        raw = {**CONFIG, **settings.pop("config", {})}
        raw["budgets"] = {**raw.get("budgets", {}), **settings}
        self.config = StewardConfig.model_validate(raw)
        runtime = Runtime(self.config, Settings(), None)
        routes = build_routes(runtime, ProviderRegistry(self.config.providers))
        self.limits = Limits(
            self.config.budgets,
            self.config.rate_limits,
            routes,
            Pricer(),
            self.sessions,
            redis_url=redis_url,
            sink=self.sink,  # type: ignore[arg-type]
            hooks=self.hooks,
            clock=self.clock,
        )
        self.routes = routes
        self.refresh()
        return self.limits

    def refresh(self) -> None:
        with self.sessions() as s:
            self.snapshot = load_snapshot(s)
        assert self.limits is not None
        self.limits.on_snapshot(self.snapshot)

    def principal(self, key_id: str) -> Principal:
        assert self.snapshot is not None
        return next(p for p in self.snapshot.keys.values() if p.key_id == key_id)

    def ctx(
        self,
        key_id: str,
        model: str = "priced",
        body: dict[str, Any] | None = None,
        endpoint: str = "chat",
    ) -> RequestContext:
        body = body or {"model": model, "messages": [{"role": "user", "content": "hi there"}]}
        ctx = RequestContext(
            request_id=new_id(),
            endpoint=endpoint,  # type: ignore[arg-type]
            wire="openai",
            started=time.perf_counter(),
            received_at=datetime.fromtimestamp(self.clock(), UTC),
            headers={},
            body=body,
        )
        ctx.principal = self.principal(key_id)
        ctx.model_alias = model
        ctx.route = self.routes[model]
        return ctx

    def served(self, ctx: RequestContext, input_tokens: int, output_tokens: int) -> None:
        """What the upstream call and the stages after it leave in the context."""
        ctx.deployment = ctx.route[0]
        ctx.attempts = 1
        ctx.usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens)

    def ledger(self, cost_usd: str, ts: float, **who: str | None) -> None:
        """A usage event already in the store (from before this process started)."""
        with self.sessions() as s, s.begin():
            s.add(
                UsageEvent(
                    id=new_id(),
                    ts=datetime.fromtimestamp(ts, UTC),
                    request_id=new_id(),
                    endpoint="chat",
                    model=who.pop("model", "priced"),
                    provider=who.pop("provider", "sim"),
                    cost_usd=Decimal(cost_usd),
                    status=200,
                    **who,
                )
            )
