"""Endpoint handlers: parse, run the pipeline, write the answer (JSON or server-sent events)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from steward.agents.live import closed_error
from steward.events.ids import new_id
from steward.gateway import upstream
from steward.gateway.asgi import (
    SSE_HEADERS,
    ClientGone,
    Receive,
    Scope,
    Send,
    base_headers,
    header_dict,
    read_body,
    send_body,
    send_error,
)
from steward.gateway.context import Endpoint, RequestContext
from steward.gateway.errors import GatewayError, method_not_allowed
from steward.gateway.pipeline import RecordingFailed, fail, internal_error
from steward.gateway.relay import Relay
from steward.gateway.stages.record import AUDITED as _AUDITED
from steward.gateway.stages.record import audit_row
from steward.providers.base import UpstreamError
from steward.providers.translate import UpstreamStreamError

if TYPE_CHECKING:
    from steward.gateway.state import Gateway

log = logging.getLogger("steward.gateway")

_RECORDING_FAILED = GatewayError(
    503,
    "Steward could not record this request durably and did not complete it; retry shortly",
    type="api_error",
    code="recording_unavailable",
)


def new_context(scope: Scope, endpoint: Endpoint, wire: str) -> RequestContext:
    return RequestContext(
        request_id=new_id(),
        endpoint=endpoint,
        wire="anthropic" if wire == "anthropic" else "openai",
        started=time.perf_counter(),
        received_at=datetime.now(UTC),
        headers=header_dict(scope),
    )


def _overhead(ctx: RequestContext) -> float:
    return max(0.0, (time.perf_counter() - ctx.started) * 1000.0 - ctx.upstream_ms)


async def _finish_or_503(gw: Gateway, ctx: RequestContext) -> bool:
    try:
        await gw.pipeline.finish(ctx)
    except RecordingFailed:
        return False
    return True


async def inference(
    gw: Gateway, scope: Scope, receive: Receive, send: Send, endpoint: Endpoint, wire: str
) -> None:
    """POST /v1/chat/completions, /v1/messages, /v1/embeddings."""
    ctx = new_context(scope, endpoint, wire)
    try:
        if scope["method"] != "POST":
            raise method_not_allowed(scope["method"], scope["path"])
        ctx.raw_body = await read_body(receive, ctx.headers, gw.config.server.max_body_bytes)
        await gw.pipeline.before_upstream(ctx)
    except ClientGone:
        return
    except GatewayError as err:
        fail(ctx, err)
        ok = await _finish_or_503(gw, ctx)
        await send_error(
            send,
            err if ok else _RECORDING_FAILED,
            ctx.wire,
            ctx.request_id,
            _overhead(ctx),
            ctx.response_headers,
        )
        return
    except Exception:
        log.exception("unexpected error in request %s", ctx.request_id)
        internal = internal_error(ctx)
        fail(ctx, internal)
        await _finish_or_503(gw, ctx)
        await send_error(
            send, internal, ctx.wire, ctx.request_id, _overhead(ctx), ctx.response_headers
        )
        return
    if ctx.stream:
        await _stream(gw, ctx, receive, send)
        return
    try:
        await gw.pipeline.run(ctx, upstream.complete)
    except RecordingFailed:
        await send_error(
            send, _RECORDING_FAILED, ctx.wire, ctx.request_id, _overhead(ctx), ctx.response_headers
        )
        return
    if ctx.error is not None:
        await send_error(
            send, ctx.error, ctx.wire, ctx.request_id, _overhead(ctx), ctx.response_headers
        )
        return
    await send_body(
        send,
        200,
        orjson.dumps(ctx.response),
        base_headers(ctx.request_id, _overhead(ctx)) + ctx.response_headers,
    )


def _sse(wire: str, event: dict[str, Any]) -> bytes:
    data = orjson.dumps(event)
    if wire == "anthropic":
        return (
            b"event: " + str(event.get("type", "message")).encode() + b"\ndata: " + data + b"\n\n"
        )
    return b"data: " + data + b"\n\n"


def _stream_error_event(wire: str, err: GatewayError, request_id: str) -> bytes:
    payload = err.payload(wire, request_id)
    if wire == "anthropic":
        return b"event: error\ndata: " + orjson.dumps(payload) + b"\n\n"
    return b"data: " + orjson.dumps(payload) + b"\n\n"


async def _watch_disconnect(receive: Receive, gone: asyncio.Event) -> None:
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            gone.set()
            return


async def _stream(gw: Gateway, ctx: RequestContext, receive: Receive, send: Send) -> None:
    try:
        gen, relay, first = await upstream.open_stream(ctx)
    except GatewayError as err:
        fail(ctx, err)
        ok = await _finish_or_503(gw, ctx)
        await send_error(
            send,
            err if ok else _RECORDING_FAILED,
            ctx.wire,
            ctx.request_id,
            _overhead(ctx),
            ctx.response_headers,
        )
        return
    except Exception:
        log.exception("unexpected error opening stream %s", ctx.request_id)
        internal = internal_error(ctx)
        fail(ctx, internal)
        await _finish_or_503(gw, ctx)
        await send_error(
            send, internal, ctx.wire, ctx.request_id, _overhead(ctx), ctx.response_headers
        )
        return

    headers = [*SSE_HEADERS, *base_headers(ctx.request_id, _overhead(ctx)), *ctx.response_headers]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    gone = asyncio.Event()
    watcher = asyncio.create_task(_watch_disconnect(receive, gone))
    try:
        pumped, closed = await gw.live.run(  # ends the stream if its principal is suspended
            ctx.principal, _pump(gw, ctx, gen, relay, first, send, gone)
        )
        tail = pumped or b""
        if closed is not None:
            stopped = closed_error(closed)
            fail(ctx, stopped)
            tail = _stream_error_event(ctx.wire, stopped, ctx.request_id)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await upstream._aclose(gen)
    ctx.usage = relay.usage
    ctx.finish_reason = relay.finish_reason
    if not await _finish_or_503(gw, ctx):
        tail = _stream_error_event(ctx.wire, _RECORDING_FAILED, ctx.request_id)
    if not gone.is_set():
        with contextlib.suppress(OSError):
            await send({"type": "http.response.body", "body": tail, "more_body": False})


async def _pump(
    gw: Gateway,
    ctx: RequestContext,
    gen: AsyncIterator[dict[str, Any]],
    relay: Relay,
    first: dict[str, Any],
    send: Send,
    gone: asyncio.Event,
) -> bytes:
    """Relay events until the upstream ends; return the bytes that close the stream."""
    wire = ctx.wire
    done = b"data: [DONE]\n\n" if wire == "openai" else b""
    pending: dict[str, Any] | None = first
    t_up = time.perf_counter()
    try:
        while True:
            native = pending if pending is not None else await gen.__anext__()
            pending = None
            now = time.perf_counter()
            ctx.upstream_ms += (now - t_up) * 1000.0
            if gone.is_set():
                fail(ctx, GatewayError(499, "client closed the stream", code="client_disconnected"))
                return b""
            await _emit(gw, ctx, relay.feed(native), send)
            t_up = time.perf_counter()
    except StopAsyncIteration:
        ctx.upstream_ms += (time.perf_counter() - t_up) * 1000.0
    except GatewayError as err:  # a stage stopped the stream (e.g. the guard withheld it)
        fail(ctx, err)
        return _stream_error_event(wire, err, ctx.request_id)
    except (UpstreamError, UpstreamStreamError) as err:
        message = err.message if isinstance(err, UpstreamError) else str(err)
        ge = GatewayError(
            502,
            f"upstream stream failed: {message}",
            type="api_error",
            code="upstream_stream_error",
        )
        fail(ctx, ge)
        return _stream_error_event(wire, ge, ctx.request_id)
    except OSError:
        fail(ctx, GatewayError(499, "client closed the stream", code="client_disconnected"))
        return b""
    try:
        await _emit(gw, ctx, relay.finish(), send)
        await gw.pipeline.after_upstream(ctx)
    except GatewayError as err:
        fail(ctx, err)
        return _stream_error_event(wire, err, ctx.request_id)
    return done


async def _emit(gw: Gateway, ctx: RequestContext, events: list[dict[str, Any]], send: Send) -> None:
    out = [_sse(ctx.wire, c) for ev in events for c in await gw.pipeline.chunk(ctx, ev)]
    if out:
        await send({"type": "http.response.body", "body": b"".join(out), "more_body": True})


async def models(gw: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    """GET /v1/models: the models this caller may use (OpenAI or Anthropic list shape)."""
    ctx = new_context(
        scope, "models", "anthropic" if "anthropic-version" in header_dict(scope) else "openai"
    )
    try:
        if scope["method"] != "GET":
            raise method_not_allowed(scope["method"], scope["path"])
        for name in ("authenticate", "suspension", "authorize"):
            await gw.pipeline.stage(name).on_request(ctx)
    except GatewayError as err:
        fail(ctx, err)
        action = _AUDITED.get(err.status)
        if action:  # listing models is not usage; a refusal is still an audited decision
            await gw.sink.emit(gw.sink.audit_record(audit_row(ctx, action)))
        await send_error(send, err, ctx.wire, ctx.request_id, _overhead(ctx), ctx.response_headers)
        return
    p = ctx.principal
    assert p is not None, "authenticate set the principal"
    # what Cedar lets this caller invoke (the key's own model list included)
    names = [
        m
        for m in gw.config.models
        if gw.policy.decide_model(p, m.name, {"endpoint": "models"}).allowed
    ]
    if ctx.wire == "anthropic":
        data: list[dict[str, Any]] = [
            {
                "id": m.name,
                "type": "model",
                "display_name": m.name,
                "created_at": "1970-01-01T00:00:00Z",
            }
            for m in names
        ]
        body: dict[str, Any] = {
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }
    else:
        body = {
            "object": "list",
            "data": [
                {"id": m.name, "object": "model", "created": 0, "owned_by": m.provider}
                for m in names
            ],
        }
    await send_body(send, 200, orjson.dumps(body), base_headers(ctx.request_id, _overhead(ctx)))


async def unknown_path(scope: Scope, send: Send) -> None:
    """A /v1 path Steward does not serve: a clear 404 in the OpenAI shape."""
    ctx = new_context(scope, "models", "openai")
    err = GatewayError(
        404,
        f"Steward does not serve {scope['method']} {scope['path']}; it serves "
        "/v1/chat/completions, /v1/messages, /v1/embeddings, /v1/models and /v1/usage/self",
        type="not_found_error",
        code="unknown_endpoint",
    )
    await send_error(send, err, ctx.wire, ctx.request_id, _overhead(ctx), ctx.response_headers)
