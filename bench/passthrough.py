"""A bare pass-through proxy: the floor for a Python gateway in the benchmark.

Raw ASGI on uvicorn with the same server settings as `steward serve` (uvloop, httptools, one
worker, no access log). Every request's body is read and forwarded unchanged, with the same
method and path, to the upstream through ONE pooled `httpx.AsyncClient` configured like
Steward's provider client (`steward/providers/_http.py`: same limits, timeouts and default
headers; --max-connections follows the benchmarked Steward's provider setting); the upstream's
status and body are returned. No parsing, no auth, no accounting.

The answer is sent as Steward's `send_body` sends it (content-type only, no content-length), so
uvicorn frames both the same way and the difference measured is Steward's own work.

    python bench/passthrough.py --port 9002 --upstream http://127.0.0.1:9001
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx
import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Steward's provider defaults (config/models.py ProviderConfig).
MAX_CONNECTIONS = 100
TIMEOUT_S = 60.0
CONNECT_TIMEOUT_S = 5.0
MAX_BODY_BYTES = 4 * 1024 * 1024

JSON_TYPE = (b"content-type", b"application/json")


class PassThrough:
    def __init__(self, upstream: str, max_connections: int = MAX_CONNECTIONS) -> None:
        self.upstream = upstream.rstrip("/")
        self.max_connections = max_connections
        self.client: httpx.AsyncClient | None = None

    def _make_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            headers={"user-agent": "steward-bench-passthrough", "content-type": "application/json"},
            timeout=httpx.Timeout(TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            limits=httpx.Limits(
                max_connections=self.max_connections,
                max_keepalive_connections=self.max_connections,
            ),
            follow_redirects=False,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:  # bounded by MAX_BODY_BYTES
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            part = msg.get("body", b"")
            if part:
                size += len(part)
                if size > MAX_BODY_BYTES:
                    await _send(send, 413, b'{"error":{"message":"request too large"}}')
                    return
                chunks.append(part)
            more = bool(msg.get("more_body", False))
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        assert self.client is not None
        try:
            resp = await self.client.request(
                scope["method"], self.upstream + scope["path"], content=body
            )
        except httpx.RequestError as exc:
            await _send(send, 502, b'{"error":{"message":"%s"}}' % type(exc).__name__.encode())
            return
        await _send(send, resp.status_code, resp.content)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        for _ in range(2):  # startup, then shutdown
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                self.client = self._make_client()
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                if self.client is not None:
                    await self.client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _send(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [JSON_TYPE]})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:9001")
    parser.add_argument("--max-connections", type=int, default=MAX_CONNECTIONS)
    args = parser.parse_args()
    uvicorn.run(
        PassThrough(args.upstream, args.max_connections),
        host=args.host,
        port=args.port,
        workers=1,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
