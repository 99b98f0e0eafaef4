"""The MCP gateway at `/mcp`: one MCP server (the official SDK's low-level `Server` behind its
Streamable HTTP session manager) whose tools are the namespaced tools of every configured
upstream server, filtered per agent by policy, pins and suspensions. Every HTTP request is
authenticated (API key or delegation token) before the SDK sees it, and a session can only be
used with the credential that opened it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import mcp_types as types
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.caching import CacheHint
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError

from steward import __version__
from steward.agents.mcp.calls import call_tool
from steward.agents.mcp.catalog import Catalog
from steward.agents.mcp.guarding import ToolGuard
from steward.agents.mcp.hooks import blocked, may_list_tool
from steward.agents.mcp.limits import ToolRateLimits
from steward.agents.mcp.service import refuse
from steward.agents.mcp.upstream import Upstream
from steward.gateway.asgi import Receive, Scope, Send, header_dict
from steward.gateway.errors import GatewayError, forbidden, unauthorized
from steward.gateway.stages.authenticate import presented_key
from steward.identity.credentials import BearerResolver, UnknownSigningKey
from steward.identity.tokens_settings import AgentTokenSettings

if TYPE_CHECKING:
    from steward.gateway.state import Gateway
    from steward.identity.snapshot import Principal, Snapshot

log = logging.getLogger("steward.mcp")
SCOPE_KEY = "steward.mcp"
SESSION_HEADER = b"mcp-session-id"
INSTRUCTIONS = (
    "Steward MCP gateway: tools of several servers, named <server>__<tool>. Calls are "
    "authorized by policy and may need a human's approval; a stopped call returns isError "
    "with details under _meta['steward/call']."
)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent the MCP request being handled (an API key's or delegation token's principal)."""

    principal: Principal
    session_id: str | None


class McpServer:
    """The `/mcp` endpoint of one gateway process with MCP servers configured, and its upstream
    connections."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.settings = gw.config.mcp
        self.catalog = Catalog(gw.sessions, self.snapshot, self.settings.new_tools)
        self.upstreams: dict[str, Upstream] = {
            name: Upstream(
                name,
                cfg,
                on_tools=self.catalog.on_tools,
                refresh_s=self.settings.refresh_s,
                reconnect_max_s=self.settings.reconnect_max_s,
            )
            for name, cfg in self.settings.servers.items()
        }
        self.guard = ToolGuard(gw.guard)
        profiles = set(gw.config.guard.profiles) | {"default"}
        for where, name in [("mcp.guard_profile", self.settings.guard_profile)] + [
            (f"mcp.servers.{n}.guard_profile", c.guard_profile)
            for n, c in self.settings.servers.items()
        ]:
            if name and name not in profiles:
                raise ValueError(f"{where}: guard profile '{name}' is not defined")
        self.limits = ToolRateLimits(self.settings.rate_limits, gw.limits)
        self.server: Server[Any] = Server(
            "steward",
            version=__version__,
            instructions=INSTRUCTIONS,
            cache_hints={"tools/list": CacheHint(ttl_ms=0, scope="private")},
            get_tool_input_schema=self._input_schema,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )
        self.manager = StreamableHTTPSessionManager(
            self.server,
            json_response=True,  # one JSON body per POST: no per-call SSE stream to set up
            session_idle_timeout=self.settings.session_idle_timeout_s,
            max_request_body_size=gw.config.server.max_body_bytes,
        )
        resolver = getattr(gw, "credentials", None)
        self._resolver: BearerResolver = resolver or BearerResolver(
            getattr(gw.config, "agents", None) or AgentTokenSettings()
        )
        self._last_refresh = 0.0
        self._sessions: dict[str, Principal] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        gw.snapshots.on_change(self._on_snapshot)

    def snapshot(self) -> Snapshot:
        """The process's current snapshot (keys, pins, suspensions)."""
        return self.gw.snapshots.current

    # -- lifecycle ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Connect the upstreams and run the session manager (inside the app's lifespan)."""
        for upstream in self.upstreams.values():
            upstream.start()
        try:
            async with self.manager.run():
                yield
        finally:
            await asyncio.gather(*(u.close() for u in self.upstreams.values()))

    def status(self) -> list[dict[str, Any]]:
        """Each upstream server's connection state, as this process sees it."""
        return [u.status() for u in self.upstreams.values()]

    async def refresh_for(self, tool: str) -> None:
        """Re-list the server a tool name points to (an agent asked for a tool not seen yet)."""
        server = tool.partition("__")[0]
        upstream = self.upstreams.get(server)
        # at most once a second per server, so unknown names cannot hammer the upstream
        if (
            upstream is not None
            and upstream.state == "up"
            and (time.monotonic() - upstream.listed_at >= 1.0)
        ):
            with contextlib.suppress(Exception):
                await upstream.refresh()

    async def _refresh_stale(self) -> None:
        max_age = self.settings.list_max_age_s
        now = time.monotonic()
        stale = [
            u for u in self.upstreams.values() if u.state == "up" and now - u.listed_at >= max_age
        ]
        if stale:
            await asyncio.gather(*(u.refresh() for u in stale), return_exceptions=True)

    # -- MCP handlers -------------------------------------------------------------------------

    @staticmethod
    def _caller(ctx: ServerRequestContext[Any, Any]) -> Caller:
        request = ctx.request
        caller = request.scope.get(SCOPE_KEY) if request is not None else None
        if not isinstance(caller, Caller):  # never: /mcp is only reachable through handle()
            raise MCPError(types.INTERNAL_ERROR, "request without an authenticated caller")
        return caller

    def _input_schema(self, name: str) -> Mapping[str, Any] | None:
        entry = self.catalog.entries.get(name)
        return entry.listed.input_schema if entry is not None else None

    async def _list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        caller = self._caller(ctx)
        await self._refresh_stale()
        snapshot = self.snapshot()
        principal = caller.principal
        tools: list[types.Tool] = []
        servers: dict[str, Any] = {}
        for name, upstream in self.upstreams.items():
            if upstream.state != "up":
                servers[name] = {"state": upstream.state, "error": upstream.unavailable_reason()}
                continue
            reason = blocked(snapshot, principal, tool_server=name)
            if reason is not None:
                servers[name] = {"state": "suspended", "error": reason}
                continue
            servers[name] = {"state": "up"}
        for entry in sorted(self.catalog.entries.values(), key=lambda e: e.name):
            if servers.get(entry.server, {}).get("state") != "up":
                continue
            if not self.catalog.usable(entry)[0]:
                continue
            if may_list_tool(self.gw, principal, entry.name, entry.server):
                tools.append(entry.listed)
        return types.ListToolsResult(tools=tools, _meta={"steward/servers": servers})

    async def _call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        return await call_tool(self, self._caller(ctx), params.name, dict(params.arguments or {}))

    # -- HTTP ---------------------------------------------------------------------------------

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry for /mcp: authenticate, refuse the suspended, then the SDK's transport."""
        headers = header_dict(scope)
        try:
            principal = await self._authenticate(headers)
        except GatewayError as err:
            await self._refuse(send, err, None)
            return
        session_id = headers.get("mcp-session-id")
        scope[SCOPE_KEY] = Caller(principal, session_id)
        # the SDK ties a session to the credential that opened it (404 for any other)
        scope["user"] = AuthenticatedUser(
            AccessToken(
                token="",  # noqa: S106 - no secret: the SDK compares client_id and subject
                client_id=principal.key_id,
                scopes=[],
                subject=principal.token_id,
            )
        )
        send = self._watch_session(send, principal) if session_id is None else send
        live = getattr(self.gw, "live", None)
        if live is None:
            await self.manager.handle_request(scope, receive, send)
            return
        _, reason = await live.run(principal, self.manager.handle_request(scope, receive, send))
        if reason is not None:
            log.info("closed an MCP request of a suspended principal: %s", reason)

    async def _authenticate(self, headers: dict[str, str]) -> Principal:
        token = presented_key(headers)
        if not token:
            raise unauthorized(
                "missing credentials: send 'Authorization: Bearer <API key or agent token>'",
                code="missing_api_key",
            )
        try:
            principal = self._resolver.resolve(self.snapshot(), token)
        except UnknownSigningKey:  # a sibling may have just rotated: refresh once, rarely
            now = time.monotonic()
            if now - self._last_refresh < 0.25:
                raise
            self._last_refresh = now
            await self.gw.snapshots.refresh()
            principal = self._resolver.resolve(self.snapshot(), token)
        snapshot = self.snapshot()
        reason = blocked(snapshot, principal, tool_server=None)
        if reason is not None:
            raise forbidden(f"MCP access refused: {reason}", code="principal_suspended")
        return principal

    async def _refuse(self, send: Send, err: GatewayError, principal: Principal | None) -> None:
        request_id = await refuse(send, err)
        row = {
            "ts": datetime.now(UTC),
            "actor_type": "key",
            "actor_id": principal.key_id if principal else None,
            "action": "gateway.authenticate" if err.status == 401 else "gateway.authorize",
            "target_type": "endpoint",
            "target_id": "mcp",
            "outcome": "denied",
            "reason": err.message,
            "request_id": request_id,
            "details": {"code": err.code},
        }
        with contextlib.suppress(Exception):
            await self.gw.sink.emit(self.gw.sink.audit_record(row))

    def _watch_session(self, send: Send, principal: Principal) -> Send:
        """Remember which principal opened a session (to close it if suspended)."""

        async def watching(message: Any) -> None:
            if message["type"] == "http.response.start":
                for k, v in message.get("headers", []):
                    if k.lower() == SESSION_HEADER:
                        self._sessions[v.decode("latin-1")] = principal
            await send(message)

        return watching

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        """Close the open sessions of principals this snapshot suspends or revokes."""
        if not self._sessions:
            return
        instances: dict[str, Any] = getattr(self.manager, "_server_instances", {})
        by_key = {p.key_id: p for p in snapshot.keys.values()}
        for sid, principal in list(self._sessions.items()):
            transport = instances.get(sid)
            if transport is None:
                del self._sessions[sid]
                continue
            fresh = by_key.get(principal.key_id)
            if fresh is None and principal.token_id is None:
                reason: str | None = "the API key was revoked"
            else:
                reason = blocked(snapshot, fresh or principal, None)
            if reason is not None:
                del self._sessions[sid]
                log.info("closing MCP session %s: %s", sid[:12], reason)
                task = asyncio.get_running_loop().create_task(transport.terminate())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)


__all__ = ["SCOPE_KEY", "Caller", "McpServer"]
