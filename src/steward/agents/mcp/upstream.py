"""Connections to the upstream MCP servers: one supervisor task per server keeps a client
session open (an HTTP client, or a child process over stdio), lists its tools, re-lists them
every `mcp.refresh_s`, and reconnects with capped back-off after a failure. A server that is
down is reported (state, error, since when) without affecting the others."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, Literal

import httpx2
import mcp_types as types
from mcp import Client, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED

from steward.agents.mcp.settings import McpServerConfig

log = logging.getLogger("steward.mcp")

State = Literal["connecting", "up", "down", "disabled"]
_MAX_PAGES = 100


class UpstreamUnavailable(Exception):
    """The server is not connected (or the connection broke during the call)."""


def is_transport_failure(exc: BaseException) -> bool:
    """True when the error means the connection is gone, not that the server refused."""
    if isinstance(exc, MCPError):
        return exc.code == CONNECTION_CLOSED
    return not isinstance(exc, TimeoutError | asyncio.CancelledError)


class Upstream:
    """One configured server and its live connection."""

    def __init__(
        self,
        name: str,
        config: McpServerConfig,
        *,
        on_tools: Callable[[Upstream, list[types.Tool]], Awaitable[None]],
        refresh_s: float,
        reconnect_max_s: float,
    ) -> None:
        self.name = name
        self.config = config
        self.state: State = "connecting" if config.enabled else "disabled"
        self.error: str | None = None
        self.since = time.time()
        self.tools: list[types.Tool] = []
        self.listed_at = 0.0  # monotonic time of the last successful listing
        self.protocol: str | None = None
        self._on_tools = on_tools
        self._refresh_s = refresh_s
        self._reconnect_max_s = reconnect_max_s
        self._client: Client | None = None
        self._broken = asyncio.Event()
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._list_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the supervisor task (connects in the background)."""
        if self.config.enabled and self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"steward-mcp-{self.name}")

    async def close(self) -> None:
        """Stop the supervisor and close the connection (stops a stdio child process)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def wait_ready(self, timeout_s: float) -> bool:
        """Wait (up to `timeout_s`) for the first connection attempt to finish."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout_s)
        return self.state == "up"

    def _set(self, state: State, error: str | None = None) -> None:
        if state != self.state:
            self.since = time.time()
            if state == "down":
                log.warning("MCP server '%s' is down: %s", self.name, error)
            elif state == "up":
                log.info("MCP server '%s' is connected (%s)", self.name, self.protocol)
        self.state = state
        self.error = error

    def _transport(self, stack: AsyncExitStack) -> Any:
        cfg = self.config
        if cfg.url is not None:
            http = create_mcp_http_client(
                headers=dict(cfg.headers),
                timeout=httpx2.Timeout(cfg.connect_timeout_s, read=cfg.call_timeout_s),
            )
            stack.push_async_callback(http.aclose)
            return streamable_http_client(cfg.url, http_client=http)
        assert cfg.command is not None
        params = StdioServerParameters(
            command=cfg.command, args=list(cfg.args), env=dict(cfg.env) or None, cwd=cfg.cwd
        )
        return stdio_client(params, errlog=sys.stderr)

    async def _connect(self, stack: AsyncExitStack) -> Client:
        client = Client(self._transport(stack), read_timeout_seconds=self.config.call_timeout_s)
        async with asyncio.timeout(self.config.connect_timeout_s):
            await stack.enter_async_context(client)
        self.protocol = client.protocol_version
        return client

    async def _supervise(self) -> None:
        delay = 0.5
        while True:
            self._broken.clear()
            try:
                async with AsyncExitStack() as stack:
                    self._client = await self._connect(stack)
                    await self.refresh()
                    self._set("up")
                    self._ready.set()
                    delay = 0.5
                    await self._serve()
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # noqa: BLE001 - any failure: report and reconnect
                self._set("down", _describe(exc))
            finally:
                self._client = None
            self._ready.set()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._reconnect_max_s)

    async def _serve(self) -> None:
        """Keep the connection until it breaks; re-list the tools every refresh_s."""
        while True:
            self._wake.clear()
            broken = asyncio.create_task(self._broken.wait())
            wake = asyncio.create_task(self._wake.wait())
            done, pending = await asyncio.wait(
                {broken, wake}, timeout=self._refresh_s, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            if self._broken.is_set():
                raise UpstreamUnavailable(self.error or "the connection broke")
            if not done or self._wake.is_set():
                await self.refresh()

    # -- requests -----------------------------------------------------------------------------

    def _live(self) -> Client:
        if self._client is None or self.state != "up":
            raise UpstreamUnavailable(self.unavailable_reason())
        return self._client

    def unavailable_reason(self) -> str:
        """Why the server cannot be reached, for agents and admins."""
        if self.state == "disabled":
            return f"MCP server '{self.name}' is disabled in the configuration"
        if self.state == "connecting":
            return f"MCP server '{self.name}' is still connecting"
        return f"MCP server '{self.name}' is unavailable: {self.error or 'not connected'}"

    def _failed(self, exc: BaseException) -> None:
        if is_transport_failure(exc):
            self.error = _describe(exc)
            self._broken.set()

    async def refresh(self) -> list[types.Tool]:
        """List the server's tools now (every page) and hand them to the gateway."""
        client = self._client
        if client is None:
            raise UpstreamUnavailable(self.unavailable_reason())
        async with self._list_lock:
            tools: list[types.Tool] = []
            cursor: str | None = None
            try:
                async with asyncio.timeout(self.config.list_timeout_s):
                    for _ in range(_MAX_PAGES):
                        page = await client.list_tools(cursor=cursor, cache_mode="bypass")
                        tools.extend(page.tools)
                        cursor = page.next_cursor
                        if not cursor:
                            break
            except BaseException as exc:
                self._failed(exc)
                raise
            self.tools = tools
            self.listed_at = time.monotonic()
        await self._on_tools(self, tools)
        return tools

    def request_refresh(self) -> None:
        """Ask the supervisor to re-list soon (without waiting)."""
        self._wake.set()

    async def call(self, tool: str, arguments: dict[str, Any]) -> types.CallToolResult:
        """Call an upstream tool (its own name) within `call_timeout_s`."""
        client = self._live()
        try:
            async with asyncio.timeout(self.config.call_timeout_s):
                return await client.call_tool(tool, arguments)
        except BaseException as exc:
            self._failed(exc)
            raise

    def status(self) -> dict[str, Any]:
        """State for admins: up/down/connecting/disabled, the error, since when, tool count."""
        return {
            "server": self.name,
            "transport": self.config.transport,
            "target": self.config.url or " ".join([self.config.command or "", *self.config.args]),
            "state": self.state,
            "error": self.error,
            "since": self.since,
            "protocol": self.protocol,
            "tools": len(self.tools),
        }


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        inner = exc.exceptions[0] if exc.exceptions else exc
        return _describe(inner)
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, MCPError):
        return f"MCP error {exc.code}: {exc.message}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


__all__ = ["State", "Upstream", "UpstreamUnavailable", "is_transport_failure"]
