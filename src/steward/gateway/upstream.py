"""The upstream call: translate to the provider's wire format, retry with backoff on 429/5xx and
timeouts, then try the fallbacks in order. Time spent here is the upstream's, not Steward's."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from steward.gateway.context import Deployment, RequestContext
from steward.gateway.errors import GatewayError
from steward.gateway.relay import Relay, make_relay
from steward.providers.base import CallInfo, UpstreamError, UpstreamResponse
from steward.providers.translate import (
    TranslationError,
    chat_request_to_messages,
    chat_response_to_messages,
    messages_request_to_chat,
    messages_response_to_chat,
)

T = TypeVar("T")
_MAX_RETRY_AFTER_S = 5.0


def native_request(dep: Deployment, wire: str, body: dict[str, Any]) -> dict[str, Any]:
    native = dep.adapter.native
    target = dep.model.target
    try:
        if native == wire:
            if native == "openai" and body.get("stream") and not _asks_usage(body):
                # streamed requests are priced like any other: always ask for the usage chunk
                return {
                    **body,
                    "stream_options": {**(body.get("stream_options") or {}), "include_usage": True},
                }
            return body
        if native == "anthropic":
            return chat_request_to_messages(body, target)
        return messages_request_to_chat(body, target)
    except TranslationError as exc:
        raise GatewayError(
            400,
            f"cannot send this request to '{dep.model.name}': {exc}",
            code="untranslatable_request",
        ) from exc


def _asks_usage(body: dict[str, Any]) -> bool:
    opts = body.get("stream_options")
    return isinstance(opts, dict) and bool(opts.get("include_usage"))


def client_response(dep: Deployment, wire: str, body: dict[str, Any]) -> dict[str, Any]:
    native = dep.adapter.native
    if native == wire:
        return body
    model = str(body.get("model") or dep.model.target)
    if native == "anthropic":
        return messages_response_to_chat(body, model)
    return chat_response_to_messages(body, model)


def _call_info(ctx: RequestContext, dep: Deployment) -> CallInfo:
    return CallInfo(
        upstream_model=dep.model.target,
        timeout_s=dep.model.timeout_s or dep.provider.timeout_s,
        request_id=ctx.request_id,
    )


def _final_error(ctx: RequestContext, last: UpstreamError | None) -> GatewayError:
    tried = ", ".join(d.model.name for d in ctx.route)
    if last is not None and last.kind == "timeout":
        return GatewayError(
            504,
            f"upstream timed out ({last.message}); tried {tried} in {ctx.attempts} attempt(s); "
            f"request id {ctx.request_id}",
            type="api_error",
            code="upstream_timeout",
        )
    detail = f" (last error: {last.status} {last.message})" if last else ""
    return GatewayError(
        502,
        f"upstream failed after {ctx.attempts} attempt(s) across {tried}{detail}; "
        f"request id {ctx.request_id}",
        type="api_error",
        code="upstream_failed",
    )


def _rejected(dep: Deployment, err: UpstreamError) -> GatewayError:
    """A non-retryable upstream answer: the request was refused, or our credentials were."""
    if err.status in (401, 403):
        return GatewayError(
            502,
            f"provider '{dep.provider_name}' refused Steward's credentials ({err.message}); "
            f"an operator should check providers.{dep.provider_name}.api_key",
            type="api_error",
            code="upstream_auth_failed",
        )
    if err.kind == "bad_upstream_response" or err.status >= 500:
        return GatewayError(
            502,
            f"provider '{dep.provider_name}' sent an answer Steward cannot use: {err.message}",
            type="api_error",
            code="bad_upstream_response",
        )
    status = err.status
    return GatewayError(
        status,
        f"provider '{dep.provider_name}' rejected the request: {err.message}",
        type="invalid_request_error" if status < 500 else "api_error",
        code="upstream_rejected",
    )


async def _with_retries(
    ctx: RequestContext, attempt: Callable[[Deployment], Awaitable[T]]
) -> tuple[Deployment, T]:
    last: UpstreamError | None = None
    for dep in ctx.route:
        for n in range(dep.provider.retries + 1):
            ctx.attempts += 1
            t0 = time.perf_counter()
            try:
                result = await attempt(dep)
            except UpstreamError as err:
                ctx.upstream_ms += (time.perf_counter() - t0) * 1000.0
                if not err.retryable:
                    raise _rejected(dep, err) from err
                last = err
                if n < dep.provider.retries:
                    delay = dep.provider.backoff_ms / 1000.0 * (2**n)
                    if err.retry_after_s is not None:
                        delay = max(delay, min(err.retry_after_s, _MAX_RETRY_AFTER_S))
                    t1 = time.perf_counter()
                    await asyncio.sleep(delay)
                    ctx.upstream_ms += (time.perf_counter() - t1) * 1000.0
                continue
            ctx.upstream_ms += (time.perf_counter() - t0) * 1000.0
            ctx.deployment = dep
            return dep, result
    raise _final_error(ctx, last)


async def complete(ctx: RequestContext) -> None:
    """A non-streamed chat (either wire format) or embeddings call."""

    async def attempt(dep: Deployment) -> UpstreamResponse:
        info = _call_info(ctx, dep)
        try:
            # httpx bounds each read; this bounds the whole attempt (a slow drip included)
            async with asyncio.timeout(info.timeout_s):
                if ctx.endpoint == "embeddings":
                    return await dep.adapter.embed(ctx.body, info)
                return await dep.adapter.chat(native_request(dep, ctx.wire, ctx.body), info)
        except TimeoutError:
            raise UpstreamError(
                504, f"upstream timed out after {info.timeout_s}s", kind="timeout", retryable=True
            ) from None

    dep, resp = await _with_retries(ctx, attempt)
    ctx.usage = resp.usage
    ctx.response = client_response(dep, ctx.wire, resp.body)
    ctx.finish_reason = _finish_reason(ctx.response)


def _finish_reason(body: dict[str, Any]) -> str | None:
    choices = body.get("choices")
    if choices:
        reason = choices[0].get("finish_reason")
        return str(reason) if reason else None
    reason = body.get("stop_reason")
    return str(reason) if reason else None


async def open_stream(
    ctx: RequestContext,
) -> tuple[AsyncIterator[dict[str, Any]], Relay, dict[str, Any]]:
    """Open a stream with retries and fallbacks up to its first event. After the first event
    the answer is committed to that deployment."""

    async def attempt(dep: Deployment) -> tuple[AsyncIterator[dict[str, Any]], dict[str, Any]]:
        gen = dep.adapter.chat_stream(native_request(dep, ctx.wire, ctx.body), _call_info(ctx, dep))
        try:
            first = await gen.__anext__()
        except StopAsyncIteration:
            raise UpstreamError(
                502, "upstream closed the stream without an event", retryable=True
            ) from None
        except BaseException:
            await _aclose(gen)
            raise
        return gen, first

    dep, (gen, first) = await _with_retries(ctx, attempt)
    ctx.ttft_ms = (time.perf_counter() - ctx.started) * 1000.0
    relay = make_relay(
        dep.adapter.native,
        ctx.wire,
        model=dep.model.target,
        response_id=("msg_" if ctx.wire == "anthropic" else "chatcmpl-")
        + ctx.request_id.replace("-", ""),
        client_wants_usage=ctx.client_wants_usage,
    )
    return gen, relay, first


async def _aclose(gen: AsyncIterator[Any]) -> None:
    close = getattr(gen, "aclose", None)
    if close is not None:
        # closing a failed upstream stream must not mask its error
        with contextlib.suppress(Exception):
            await close()
