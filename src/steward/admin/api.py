"""The admin REST API (FastAPI): a thin front end over the identity service, under /admin/v1,
described by its OpenAPI document at /openapi.json with interactive docs at /docs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from steward.admin import (
    routes_budgets,
    routes_guard,
    routes_keys,
    routes_mcp,
    routes_principals,
)
from steward.admin.auth import authenticate
from steward.admin.errors import install_error_handlers
from steward.admin.schemas import ErrorBody
from steward.events.ids import new_id
from steward.identity.service import IdentityService

if TYPE_CHECKING:
    from steward.guard.documents import GuardDocuments
    from steward.guard.runtime import GuardRuntime

PREFIX = "/admin/v1"
REQUEST_ID_HEADER = "x-steward-request-id"

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "Malformed request (the message names the field)"),
        (401, "Missing or invalid admin key"),
        (403, "The admin key's role may not do this"),
        (404, "No such record"),
        (409, "Conflicts with existing state"),
        (422, "Well-formed but breaks a rule"),
    )
}


class RequestIdMiddleware:
    """Give every request an id (in `request.state.request_id`) and echo it in a header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_id()
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_admin_app(
    identity: IdentityService,
    *,
    guard: GuardRuntime | None = None,
    documents: GuardDocuments | None = None,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """Build the admin API over `identity`. `guard` (the gateway's guard runtime) and
    `documents` back the /guard routes, which answer 503 without them. `extra_routers` are
    mounted under /admin/v1 with the same admin-key authentication (auditors read, admins
    write) and error bodies."""
    app = FastAPI(
        title="Steward admin API",
        version="1",
        description="Manage teams, users, apps, agents, service accounts, API keys, admin keys "
        "and the guard's registered documents, try the guard on a text, and read the audit "
        "trail. Authenticate with `Authorization: Bearer <admin key>`.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.identity = identity
    app.state.guard = guard
    app.state.guard_documents = documents
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    for router in (routes_principals.router, routes_keys.router, routes_guard.router,
                   routes_budgets.router, routes_mcp.router, *extra_routers):
        app.include_router(
            router, prefix=PREFIX, dependencies=[Depends(authenticate)], responses=_ERRORS
        )
    # read-only operations sent as POST (a dry run of the guard): auditors may call them too
    app.include_router(
        routes_guard.read_router,
        prefix=PREFIX,
        dependencies=[Depends(routes_guard.authenticate_reader)],
        responses=_ERRORS,
    )
    return app


__all__ = ["PREFIX", "REQUEST_ID_HEADER", "create_admin_app"]
