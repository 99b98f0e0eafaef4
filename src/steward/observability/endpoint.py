"""GET /metrics on the gateway port: the Prometheus text exposition (raw ASGI)."""

from __future__ import annotations

import asyncio
import hmac
from typing import TYPE_CHECKING

from steward.events.ids import new_id
from steward.gateway.asgi import Receive, Scope, Send, header_dict, send_error
from steward.gateway.errors import GatewayError, method_not_allowed, not_found, unauthorized
from steward.observability.metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from steward.gateway.state import Gateway


def _authorized(token: str | None, scope: Scope) -> bool:
    if token is None:
        return True
    given = header_dict(scope).get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


async def metrics_endpoint(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer a scrape. The exposition is built off the event loop (it reads the spool
    directory and walks every series)."""
    settings = gw.config.observability
    err: GatewayError | None = None
    if not settings.metrics:
        err = not_found("metrics are off (observability.metrics: false)", "metrics_disabled")
    elif scope["method"] not in ("GET", "HEAD"):
        err = method_not_allowed(scope["method"], scope["path"])
    elif not _authorized(settings.metrics_token, scope):
        err = unauthorized(
            "GET /metrics needs `Authorization: Bearer <observability.metrics_token>`",
            code="invalid_metrics_token",
        )
    if err is not None:
        await send_error(send, err, "openai", new_id(), 0.0)
        return
    body = await asyncio.to_thread(gw.metrics.render)
    headers = [(b"content-type", CONTENT_TYPE.encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
