"""The ASGI application: the data plane on raw ASGI, everything else (admin API, OpenAPI) on
FastAPI mounted beside it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import orjson

from steward.config.settings import Runtime
from steward.gateway import handlers, handlers_tokens, handlers_usage
from steward.gateway.asgi import Receive, Scope, Send, send_body
from steward.gateway.state import Gateway
from steward.observability.endpoint import metrics_endpoint

log = logging.getLogger("steward.gateway")

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


class StewardApp:
    """Dispatches by path: /v1/* inference endpoints to the pipeline, the rest to the admin app."""

    def __init__(self, runtime: Runtime) -> None:
        from steward.admin.api import create_admin_app
        from steward.admin.routes_approvals import mount_approvals
        from steward.admin.routes_evals import evals_router
        from steward.admin.routes_inventory import inventory_router
        from steward.admin.routes_policies import policies_router
        from steward.admin.routes_slo import slo_router
        from steward.admin.routes_tokens import mount_tokens
        from steward.admin.routes_usage import usage_router
        from steward.agents.suspension_service import suspension_service
        from steward.evals.queries import EvalQueries
        from steward.guard.documents import GuardDocuments
        from steward.identity.service import IdentityService
        from steward.inventory import InventoryService
        from steward.policy.service import PolicyService
        from steward.usage.budgets.service import BudgetService
        from steward.usage.service import UsageReports

        self.gateway = Gateway(runtime)
        gw = self.gateway
        from steward.agents.mcp.service import McpGateway

        self.mcp = McpGateway(gw)  # /mcp; its session manager runs inside the lifespan
        self._mcp_running = AsyncExitStack()
        self.identity = IdentityService(gw.sessions)
        documents = GuardDocuments(
            gw.sessions, min_words=gw.config.guard.detectors.fingerprint_min_words
        )
        inventory = inventory_router(InventoryService(gw.sessions, gw.config))
        usage = usage_router(UsageReports(gw.sessions, gw.config.organisation))
        ev = evals_router(EvalQueries(gw.sessions))  # /evaluations: records and runs
        slo = slo_router(gw.sessions, gw.config, self.identity)  # /slos, /remediation
        policies = policies_router(  # /policies: stored sets, validate, explain
            PolicyService(
                gw.sessions,
                gw.config.policy,
                models=gw.policy.models,
                file_sets=[c.source for c in gw.policy.file_sets],
            )
        )
        self.admin = create_admin_app(
            self.identity,
            guard=gw.guard,
            documents=documents,
            extra_routers=[inventory, usage, ev, policies, slo],
        )
        self.admin.state.mcp = self.mcp  # live upstream status for /admin/v1/mcp/servers
        mount_approvals(self.admin, gw.approvals, suspension_service(gw.sessions, gw.config))
        mount_tokens(self.admin, gw.config.agents, gw.sessions)  # /tokens: signing keys
        self.admin.state.budgets = BudgetService(  # checks a budget's model and provider
            gw.sessions,
            models=[m.name for m in gw.config.models],
            providers=list(gw.config.providers),
        )
        from steward.admin.routes_catalogue import mount_catalogue

        mount_catalogue(self.admin, gw)  # /catalogue and /deployments (docs/catalogue.md)
        self.routes: dict[str, Handler] = {
            "/v1/chat/completions": lambda s, r, w: handlers.inference(
                gw, s, r, w, "chat", "openai"
            ),
            "/v1/messages": lambda s, r, w: handlers.inference(
                gw, s, r, w, "messages", "anthropic"
            ),
            "/v1/embeddings": lambda s, r, w: handlers.inference(
                gw, s, r, w, "embeddings", "openai"
            ),
            "/v1/models": lambda s, r, w: handlers.models(gw, s, r, w),
            "/v1/usage/self": lambda s, r, w: handlers_usage.usage_self(gw, s, r, w),
            "/v1/agents/token": lambda s, r, w: handlers_tokens.token_exchange(gw, s, r, w),
            "/.well-known/jwks.json": lambda s, r, w: handlers_tokens.jwks(gw, s, r, w),
            "/healthz": self._health,
            "/metrics": lambda s, r, w: metrics_endpoint(gw, s, r, w),
            "/mcp": self.mcp.handle,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                path = path[:-1]
            handler = self.routes.get(path)
            if handler is not None:
                await handler(scope, receive, send)
            elif path.startswith("/v1/"):
                await handlers.unknown_path(scope, send)
            else:
                await self.admin(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _health(self, scope: Scope, receive: Receive, send: Send) -> None:
        gw = self.gateway
        body: dict[str, Any] = {
            "status": "ok",
            "snapshot_version": gw.snapshots.current.version,
            "store_reachable": gw.snapshots.healthy,
            "spool_depth": gw.spool.depth(),
        }
        await send_body(send, 200, orjson.dumps(body), [])

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                try:
                    await self.gateway.start()
                    await self._mcp_running.enter_async_context(self.mcp.run())
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                try:
                    await self._mcp_running.aclose()
                    await self.gateway.stop()
                finally:
                    await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(runtime: Runtime | None = None) -> StewardApp:
    """App factory. Without an argument it reads STEWARD_CONFIG and the environment (used by
    `uvicorn --factory` in each worker process)."""
    return StewardApp(runtime or Runtime.load())
