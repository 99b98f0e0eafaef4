"""GET /v1/usage/self: a key reads its own usage (today and this UTC month) and its budgets.

Authenticated like an inference request (the pipeline's authenticate and authorize stages, from
the in-memory snapshot). The totals come from the rollups in a worker thread: this endpoint is
not the hot path, and the event loop never waits on the database. Events reach the rollups
when they are shipped, so the figures trail live traffic by about `spool.ship_interval_ms`."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import orjson
from sqlalchemy.exc import SQLAlchemyError

from steward.gateway.asgi import Receive, Scope, Send, base_headers, send_body, send_error
from steward.gateway.errors import GatewayError, method_not_allowed
from steward.gateway.handlers import new_context
from steward.gateway.pipeline import fail
from steward.gateway.stages.record import AUDITED, audit_row
from steward.identity.snapshot import Principal
from steward.usage.service import key_usage

if TYPE_CHECKING:
    from steward.gateway.state import Gateway

log = logging.getLogger("steward.gateway")

_STORE_DOWN = GatewayError(
    503,
    "usage figures are unavailable while the store is unreachable; retry shortly",
    type="api_error",
    code="store_unavailable",
)


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


async def _budgets(gw: Gateway, principal: Principal) -> list[dict[str, Any]]:
    """The budgets that bind the caller, if the gateway tracks any (`gw.budget_status`,
    plain or async)."""
    hook = getattr(gw, "budget_status", None)
    if hook is None:
        return []
    found = cast(Callable[[Principal], Any], hook)(principal)
    if inspect.isawaitable(found):
        found = await found
    return list(found)


def _read(gw: Gateway, principal: Principal) -> dict[str, Any]:
    with gw.sessions() as session:
        today, month = key_usage(session, principal.key_id)
    return {
        "object": "usage.self",
        "key": {"id": principal.key_id, "prefix": principal.key_prefix},
        "organisation": gw.config.organisation,
        "today": today.as_json(),
        "month": month.as_json(),
    }


async def usage_self(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    """GET /v1/usage/self."""
    ctx = new_context(scope, "models", "openai")
    try:
        if scope["method"] != "GET":
            raise method_not_allowed(scope["method"], scope["path"])
        for name in ("authenticate", "authorize"):
            await gw.pipeline.stage(name).on_request(ctx)
        principal = ctx.principal
        assert principal is not None
        try:
            body = await asyncio.to_thread(_read, gw, principal)
        except SQLAlchemyError as exc:
            log.warning("GET /v1/usage/self: the store is unreachable: %s", exc)
            raise _STORE_DOWN from None
        body["budgets"] = await _budgets(gw, principal)
    except GatewayError as err:
        fail(ctx, err)
        action = AUDITED.get(err.status)
        if action:  # reading one's usage is not usage; a refusal is still an audited decision
            await gw.sink.emit(gw.sink.audit_record(audit_row(ctx, action)))
        await send_error(send, err, ctx.wire, ctx.request_id, _elapsed_ms(ctx.started))
        return
    headers = base_headers(ctx.request_id, _elapsed_ms(ctx.started))
    await send_body(send, 200, orjson.dumps(body), headers)


__all__ = ["usage_self"]
