"""Admin API routes for human approvals (list, show, approve, deny) and the kill switch
(list, suspend, resume, freeze every agent). Thin front ends over `gw.approvals` and
`SuspensionService`, like `steward approvals ...` and `steward suspend|resume ...`.

Mounted on the admin app by `mount_approvals(admin, approvals, suspensions)` (or through
`create_admin_app(extra_routers=[approvals_router(approvals, suspensions)])`)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field

from steward.admin.auth import ActorDep, authenticate
from steward.admin.errors import ApiError
from steward.agents.approvals.records import STATUSES, Approval, ApproverRefused
from steward.agents.approvals.service import Approvals
from steward.agents.suspension_service import SuspensionInfo, SuspensionService

Kind = Literal["agent", "app", "key", "user", "service-account", "model", "tool-server"]


class Decision(BaseModel):
    """A decision on a pending approval."""

    model_config = ConfigDict(extra="forbid")

    approver: str | None = Field(
        None,
        description="The person deciding: a user name or id. Required to approve; it may not "
        "be the requester or the user the agent acts for.",
    )
    note: str = Field("", max_length=2000, description="Why; recorded and sent to approvers.")


class SuspensionCreate(BaseModel):
    """Suspend one principal, model or tool server."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    name: str = Field(min_length=1, description="Name or id (a key's id or prefix).")
    reason: str = Field(min_length=1, description="Why; recorded in the audit trail.")


class Freeze(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, description="Why; recorded in the audit trail.")


def approvals_router(approvals: Approvals, suspensions: SuspensionService) -> APIRouter:
    """The /approvals and /suspensions routes over the gateway's services."""
    router = APIRouter()

    @router.get("/approvals", tags=["approvals"])
    async def list_approvals(
        status: Annotated[str | None, Query(description=f"One of {', '.join(STATUSES)}.")] = None,
        agent: Annotated[str | None, Query(description="Agent name or id.")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[Approval]:
        """Approvals, newest first (expired ones are marked as such when read)."""
        return await approvals.list_approvals(status=status, agent=agent, limit=limit)

    @router.get("/approvals/{approval_id}", tags=["approvals"])
    async def get_approval(approval_id: str) -> Approval:
        """One approval with its requester, binding, arguments (secrets redacted) and state."""
        return await approvals.get(approval_id)

    async def _decide(approval_id: str, approve: bool, body: Decision, actor: ActorDep) -> Approval:
        try:
            return await approvals.decide(
                approval_id, approve, actor=actor, approver=body.approver, note=body.note
            )
        except ApproverRefused as exc:
            raise ApiError(403, exc.message, exc.code) from None

    @router.post("/approvals/{approval_id}/approve", tags=["approvals"])
    async def approve(approval_id: str, body: Decision, actor: ActorDep) -> Approval:
        """Grant a pending approval: the agent's identical call goes through (once, unless
        `approvals.single_use` is false) until `approvals.grant_ttl_s` passes. 403 when the
        approver is the requester, the user the agent acts for, an agent or suspended."""
        return await _decide(approval_id, True, body, actor)

    @router.post("/approvals/{approval_id}/deny", tags=["approvals"])
    async def deny(approval_id: str, body: Decision, actor: ActorDep) -> Approval:
        """Refuse a pending approval; the same call is refused until the approval expires."""
        return await _decide(approval_id, False, body, actor)

    @router.get("/suspensions", tags=["kill switch"])
    async def list_suspensions() -> list[SuspensionInfo]:
        """Everything suspended now (principals, models, tool servers, the all-agents freeze)."""
        return await asyncio.to_thread(suspensions.list_suspensions)

    @router.post("/suspensions", status_code=201, tags=["kill switch"])
    async def suspend(body: SuspensionCreate, actor: ActorDep) -> SuspensionInfo:
        """Suspend: every gateway process refuses the next request within a second, closes
        open streams and MCP sessions, and the agent's open approvals are cancelled."""
        info = await asyncio.to_thread(
            lambda: suspensions.suspend(body.kind, body.name, body.reason, actor=actor)
        )
        await approvals.announce(info.cancelled_approvals)
        return info

    @router.delete("/suspensions/{kind}/{name}", tags=["kill switch"])
    async def resume(kind: Kind, name: str, actor: ActorDep, reason: str = "") -> SuspensionInfo:
        """Lift a suspension."""
        return await asyncio.to_thread(lambda: suspensions.resume(kind, name, reason, actor=actor))

    @router.post("/suspensions/all-agents", status_code=201, tags=["kill switch"])
    async def freeze(body: Freeze, actor: ActorDep) -> SuspensionInfo:
        """Freeze every agent at once."""
        info = await asyncio.to_thread(lambda: suspensions.freeze_agents(body.reason, actor=actor))
        await approvals.announce(info.cancelled_approvals)
        return info

    @router.delete("/suspensions/all-agents", tags=["kill switch"])
    async def thaw(actor: ActorDep, reason: str = "") -> SuspensionInfo:
        """Lift the all-agents freeze."""
        return await asyncio.to_thread(lambda: suspensions.thaw_agents(reason, actor=actor))

    return router


def mount_approvals(admin: FastAPI, approvals: Approvals, suspensions: SuspensionService) -> None:
    """Add the routes under /admin/v1 with admin-key authentication (auditors read)."""
    from steward.admin.api import PREFIX

    admin.include_router(
        approvals_router(approvals, suspensions),
        prefix=PREFIX,
        dependencies=[Depends(authenticate)],
    )


__all__ = ["approvals_router", "mount_approvals"]
