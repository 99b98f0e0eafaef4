"""record: one usage event per request and audit events for decisions, durable before the
response completes."""

from __future__ import annotations

import time
from typing import Any

from steward.events.attribution import delegation_fields
from steward.events.ids import new_id
from steward.events.sink import EventSink
from steward.gateway.context import RequestContext
from steward.gateway.stages.base import Stage

AUDITED = {401: "gateway.authenticate", 403: "gateway.authorize"}


def usage_row(ctx: RequestContext) -> dict[str, Any]:
    p, u, dep = ctx.principal, ctx.usage, ctx.deployment
    first = ctx.route[0] if ctx.route else None
    return {
        "id": new_id(),
        "ts": ctx.received_at,
        "request_id": ctx.request_id,
        "endpoint": ctx.endpoint,
        "key_id": p.key_id if p else None,
        "user_id": p.user_id if p else None,
        "team_id": p.team_id if p else None,
        "app_id": p.app_id if p else None,
        "agent_id": p.agent_id if p else None,
        "service_account_id": p.service_account_id if p else None,
        "model": ctx.model_alias,
        "provider": dep.provider_name if dep else (first.provider_name if first else None),
        "upstream_model": dep.model.target if dep else None,
        "attempts": ctx.attempts,
        "stream": ctx.stream,
        "input_tokens": u.input_tokens if u else 0,
        "output_tokens": u.output_tokens if u else 0,
        "cached_tokens": u.cached_tokens if u else 0,
        "cache_write_tokens": u.cache_write_tokens if u else 0,
        "reasoning_tokens": u.reasoning_tokens if u else 0,
        "cost_usd": ctx.cost_usd,
        "price_source": ctx.price_source,
        "latency_ms": round(ctx.latency_ms, 3),
        "ttft_ms": round(ctx.ttft_ms, 3) if ctx.ttft_ms is not None else None,
        "overhead_ms": round(ctx.overhead_ms, 3),
        "status": ctx.status,
        "error_type": ctx.error_type,
        "tags": ctx.tags or None,
        "end_user": ctx.end_user,
        "guard_action": ctx.guard.worst if ctx.guard is not None else None,
        **delegation_fields(p),  # acting agent, on whose behalf, accountable owner, chain
        "token_id": p.token_id if p else None,
    }


def audit_row(ctx: RequestContext, action: str) -> dict[str, Any]:
    p = ctx.principal
    err = ctx.error
    return {
        "id": new_id(),
        "ts": ctx.received_at,
        "actor_type": "key",
        "actor_id": p.key_id if p else None,
        "action": action,
        "target_type": "model" if ctx.model_alias else "endpoint",
        "target_id": ctx.model_alias or ctx.endpoint,
        "outcome": "denied",
        "reason": err.message if err else None,
        "request_id": ctx.request_id,
        "details": {
            "code": err.code if err else None,
            "user_id": p.user_id if p else None,
            "team_id": p.team_id if p else None,
            "app_id": p.app_id if p else None,
            "agent_id": p.agent_id if p else None,
            "key_prefix": p.key_prefix if p else None,
        },
        **delegation_fields(p),
    }


class Record(Stage):
    name = "record"

    def __init__(self, sink: EventSink) -> None:
        self._sink = sink

    async def on_finish(self, ctx: RequestContext) -> None:
        ctx.latency_ms = (time.perf_counter() - ctx.started) * 1000.0
        ctx.overhead_ms = max(0.0, ctx.latency_ms - ctx.upstream_ms)
        records = [self._sink.usage_record(usage_row(ctx))]
        action = AUDITED.get(ctx.status)
        if action:
            records.append(self._sink.audit_record(audit_row(ctx, action)))
        records.extend(ctx.extra_events)
        await self._sink.emit(*records)
