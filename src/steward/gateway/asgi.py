"""Small raw-ASGI helpers for the hot path (no framework middleware)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from steward.gateway.errors import GatewayError, too_large

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_TYPE = (b"content-type", b"application/json")
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class ClientGone(Exception):
    """The client disconnected before the request body arrived."""


def header_dict(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


async def read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            raise ClientGone()
        part = msg.get("body", b"")
        if part:
            size += len(part)
            if size > limit:
                raise too_large(limit)
            chunks.append(part)
        if not msg.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def base_headers(request_id: str, overhead_ms: float) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-steward-request-id", request_id.encode()),
        (b"x-steward-overhead-ms", f"{overhead_ms:.3f}".encode()),
    ]


async def send_body(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [JSON_TYPE, *headers]})
    await send({"type": "http.response.body", "body": body})


async def send_error(
    send: Send,
    err: GatewayError,
    wire: str,
    request_id: str,
    overhead_ms: float,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = base_headers(request_id, overhead_ms)
    if extra:
        headers += extra
    headers += [(k.encode(), v.encode()) for k, v in err.headers.items()]
    await send_body(send, err.status, err.body(wire, request_id), headers)
