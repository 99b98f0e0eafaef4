"""Request contexts as the pipeline leaves them, for the observability tests."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from steward.config.models import ModelConfig, ProviderConfig
from steward.gateway.context import Deployment, Endpoint, RequestContext
from steward.identity.snapshot import Principal
from steward.providers.base import Usage

NAMES = {"team-1": "payments", "app-1": "checkout-bot", "user-1": "alice@example.com"}


def principal(team: str | None = "team-1", app: str | None = "app-1") -> Principal:
    return Principal(
        key_id="key-secret-id-1",
        key_prefix="sk-stw-abc",
        kind="app",
        user_id="user-1",
        team_id=team,
        app_id=app,
        agent_id=None,
        service_account_id=None,
        allowed_models=None,
        expires_at=None,
        suspended=None,
    )


def deployment(alias: str = "gpt", provider: str = "up", kind: str = "openai") -> Deployment:
    base = None if kind == "sim" else "http://127.0.0.1:9/v1"
    return Deployment(
        model=ModelConfig(name=alias, provider=provider, upstream_model="gpt-4o-mini"),
        provider_name=provider,
        provider=ProviderConfig.model_validate({"kind": kind, "base_url": base}),
        adapter=None,  # type: ignore[arg-type]  # the stage never calls the adapter
    )


def finished(
    *,
    endpoint: Endpoint = "chat",
    alias: str | None = "gpt",
    status: int = 200,
    usage: Usage | None = None,
    cost: str | None = "0.0012",
    team: str | None = "team-1",
    app: str | None = "app-1",
    dep: Deployment | None = None,
    authenticated: bool = True,
    **fields: Any,
) -> RequestContext:
    ctx = RequestContext(
        request_id="req-" + str(time.perf_counter_ns()),
        endpoint=endpoint,
        wire="anthropic" if endpoint == "messages" else "openai",
        started=time.perf_counter() - 0.25,
        received_at=datetime.now(UTC),
        headers={},
    )
    ctx.principal = principal(team, app) if authenticated else None
    ctx.model_alias = alias
    if alias is not None and status < 400:
        ctx.deployment = dep or deployment(alias)
        ctx.usage = usage or Usage(input_tokens=100, output_tokens=20, cached_tokens=40)
        ctx.cost_usd = Decimal(cost) if cost is not None else None
        ctx.finish_reason = "stop"
    ctx.status = status
    ctx.latency_ms = 250.0
    ctx.upstream_ms = 249.0
    ctx.overhead_ms = 1.0
    for k, v in fields.items():
        setattr(ctx, k, v)
    return ctx
