"""Admin API routes for SLOs, drift and remediation: SLO status, drift events, remediation
actions (confirm, reject, revert) and runtime overrides. A thin front end over the same services
as `steward slo` and `steward remediation`.

Mounted through `create_admin_app(extra_routers=[slo_router(sessions, config, identity)])`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from steward.admin.auth import ActorDep
from steward.admin.errors import ApiError
from steward.identity.service import IdentityService
from steward.remediation import service
from steward.remediation.actions import ActionError, action_context
from steward.remediation.engine import summary
from steward.remediation.overrides import list_overrides
from steward.slo.evaluate import evaluate_slo, slo_states
from steward.slo.report import status_json
from steward.store.models_slo import DriftEvent, RemediationAction

if TYPE_CHECKING:
    from steward.config.models import StewardConfig


class Decision(BaseModel):
    """Why a person confirms, rejects or reverts an action (recorded in the audit)."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=2000)


def _action(row: RemediationAction) -> dict[str, Any]:
    return summary(row) | {
        "created_at": row.created_at,
        "applied_at": row.applied_at,
        "reverted_at": row.reverted_at,
        "decided_by": row.decided_by,
        "note": row.note,
    }


def _error(exc: ActionError) -> ApiError:
    text = str(exc)
    if "does not exist" in text:
        return ApiError(404, text, "not_found")
    return ApiError(409, text, "conflict")


def slo_router(
    sessions: sessionmaker[Session], config: StewardConfig, identity: IdentityService
) -> APIRouter:
    """The /slos, /drift-events and /remediation routes."""
    router = APIRouter(tags=["slo"])
    _read_routes(router, sessions, config)
    _remediation_routes(router, sessions, config, identity)
    return router


def _read_routes(router: APIRouter, sessions: sessionmaker[Session], config: StewardConfig) -> None:
    @router.get("/slos")
    def slo_status() -> dict[str, Any]:
        """Every SLO's SLI, error budget left, burn rates per window and alerting state."""
        now = datetime.now(UTC)
        with sessions() as s:
            statuses = [evaluate_slo(s, slo, now) for slo in config.slos]
            states = slo_states(s)
        return {"slos": [status_json(st, states.get(st.name)) for st in statuses]}

    @router.get("/drift-events")
    def drift_events(
        model: Annotated[str | None, Query(description="Model alias.")] = None,
        app: Annotated[str | None, Query(description="App id.")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    ) -> dict[str, Any]:
        """Drift events, newest first."""
        stmt = select(DriftEvent).order_by(DriftEvent.ts.desc()).limit(limit)
        if model:
            stmt = stmt.where(DriftEvent.model == model)
        if app:
            stmt = stmt.where(DriftEvent.app_id == app)
        with sessions() as s:
            rows = list(s.scalars(stmt))
        cols = [c.name for c in DriftEvent.__table__.columns]
        return {"events": [{c: getattr(r, c) for c in cols} for r in rows]}


def _remediation_routes(
    router: APIRouter,
    sessions: sessionmaker[Session],
    config: StewardConfig,
    identity: IdentityService,
) -> None:
    ctx = action_context(config, identity)

    @router.get("/remediation/actions")
    def actions(
        status: Annotated[str | None, Query(description=", ".join(service.STATUSES))] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """Remediation actions, newest first."""
        try:
            rows = service.list_actions(sessions, status, limit)
        except ActionError as exc:
            raise ApiError(400, str(exc), "invalid_request") from None
        return {"actions": [_action(r) for r in rows]}

    @router.post("/remediation/actions/{action_id}/confirm")
    def confirm(action_id: str, body: Decision, actor: ActorDep) -> dict[str, Any]:
        """Apply a proposed action."""
        try:
            row, _ = service.confirm(sessions, action_id, ctx, actor, datetime.now(UTC), body.note)
        except ActionError as exc:
            raise _error(exc) from None
        return _action(row)

    @router.post("/remediation/actions/{action_id}/reject")
    def reject(action_id: str, body: Decision, actor: ActorDep) -> dict[str, Any]:
        """Decline a proposed action."""
        try:
            row, _ = service.reject(sessions, action_id, actor, datetime.now(UTC), body.note)
        except ActionError as exc:
            raise _error(exc) from None
        return _action(row)

    @router.post("/remediation/actions/{action_id}/revert")
    def revert(action_id: str, body: Decision, actor: ActorDep) -> dict[str, Any]:
        """Undo an applied action."""
        try:
            row, _ = service.revert(sessions, action_id, ctx, actor, datetime.now(UTC), body.note)
        except ActionError as exc:
            raise _error(exc) from None
        return _action(row)

    @router.get("/remediation/overrides")
    def overrides() -> dict[str, Any]:
        """Runtime overrides in force."""
        with sessions() as s:
            rows = list_overrides(s)
        return {
            "overrides": [
                {"kind": o.kind, "target": o.target, "value": o.value, "action_id": o.action_id,
                 "created_at": o.created_at, "created_by": o.created_by}
                for o in rows
            ]
        }  # fmt: skip


__all__ = ["slo_router"]
