"""The `/mcp` endpoint as the app mounts it. The MCP SDK (and the whole MCP gateway) is loaded
only when `mcp.servers` names at least one server, so gateways without MCP start as fast as
before; without servers, or with `mcp.enabled: false`, `/mcp` answers 404 with a clear error."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from steward.events.ids import new_id
from steward.gateway.asgi import Receive, Scope, Send, send_body
from steward.gateway.errors import GatewayError

if TYPE_CHECKING:
    from steward.agents.mcp.gateway import McpServer
    from steward.gateway.state import Gateway


async def refuse(send: Send, err: GatewayError) -> str:
    """Answer an HTTP request to /mcp with an OpenAI-style error; returns its request id."""
    request_id = new_id()
    headers = [(b"x-steward-request-id", request_id.encode())]
    if err.status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="steward"'))
    await send_body(send, err.status, err.body("openai", request_id), headers)
    return request_id


class McpGateway:
    """`/mcp` for the app: the MCP server when servers are configured, a clear 404 otherwise."""

    def __init__(self, gw: Gateway) -> None:
        settings = gw.config.mcp
        self.server: McpServer | None = None
        self._off: GatewayError | None = None
        if not settings.enabled:
            self._off = GatewayError(
                404,
                "the MCP gateway is disabled (mcp.enabled: false)",
                type="not_found_error",
                code="mcp_disabled",
            )
        elif not settings.servers:
            self._off = GatewayError(
                404,
                "the MCP gateway has no servers: configure mcp.servers (see docs/mcp.md)",
                type="not_found_error",
                code="mcp_not_configured",
            )
        else:
            from steward.agents.mcp.gateway import McpServer

            self.server = McpServer(gw)

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Connect the upstreams and run the session manager (inside the app's lifespan)."""
        if self.server is None:
            yield
            return
        async with self.server.run():
            yield

    def status(self) -> list[dict[str, Any]]:
        """Each upstream server's connection state, as this process sees it."""
        return self.server.status() if self.server is not None else []

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry for /mcp."""
        if self.server is not None:
            await self.server.handle(scope, receive, send)
        elif self._off is not None:
            await refuse(send, self._off)


__all__ = ["McpGateway", "refuse"]
