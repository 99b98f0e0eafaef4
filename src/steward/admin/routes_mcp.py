"""Admin API routes for the MCP gateway: upstream servers (as this gateway process sees them)
and pinned tools, with approve and quarantine. A thin front end over `PinService`, like
`steward mcp`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from steward.admin.auth import ActorDep, get_identity
from steward.agents.mcp.store import PinService, ToolInfo

router = APIRouter(tags=["mcp"])


class ApproveTool(BaseModel):
    """Approve the tool's current definition."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, description="Why (recorded in the audit).")


class QuarantineTool(BaseModel):
    """Hold a tool until it is approved again."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, description="Why (recorded in the audit).")


def get_pins(request: Request) -> PinService:
    """Pinned tools over the admin API's store."""
    return PinService(get_identity(request)._sessions)


PinsDep = Annotated[PinService, Depends(get_pins)]


@router.get("/mcp/servers")
def list_servers(request: Request, pins: PinsDep) -> list[dict[str, Any]]:
    """Each configured upstream server: transport, connection state in this gateway process
    (`up`, `down` with the error, `connecting`, `disabled`) and its tools by pin status."""
    gateway = getattr(request.app.state, "mcp", None)
    live = gateway.status() if gateway is not None else []
    counts: dict[str, dict[str, int]] = {}
    for t in pins.list_tools():
        by = counts.setdefault(t.server, {"approved": 0, "quarantined": 0})
        by[t.status] = by.get(t.status, 0) + 1
    for server in live:
        server["pinned"] = counts.pop(server["server"], {"approved": 0, "quarantined": 0})
    live += [{"server": name, "state": "not configured", "pinned": c} for name, c in counts.items()]
    return live


@router.get("/mcp/tools")
def list_tools(
    pins: PinsDep,
    server: str | None = None,
    status: Literal["approved", "quarantined"] | None = None,
) -> list[ToolInfo]:
    """Pinned tools (every tool ever listed by an upstream), optionally of one server or in
    one status; quarantined ones show why and their new definition."""
    return pins.list_tools(server, status)


@router.get("/mcp/tools/{tool}")
def get_tool(tool: str, pins: PinsDep) -> ToolInfo:
    """One pinned tool by its namespaced name, with the approved and current definitions."""
    return pins.get_tool(tool)


@router.post("/mcp/tools/{tool}/approve")
def approve_tool(tool: str, body: ApproveTool, pins: PinsDep, actor: ActorDep) -> ToolInfo:
    """Approve the tool's current definition; every gateway offers it again within
    `server.state_poll_ms`."""
    return pins.approve(tool, actor, body.reason)


@router.post("/mcp/tools/{tool}/quarantine")
def quarantine_tool(tool: str, body: QuarantineTool, pins: PinsDep, actor: ActorDep) -> ToolInfo:
    """Quarantine a tool: it is no longer listed and calls are refused until approved."""
    return pins.quarantine(tool, actor, body.reason)


__all__ = ["router"]
