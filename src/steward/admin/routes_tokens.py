"""Admin API routes for the signing keys of agents' delegation tokens: list them, rotate them
(the same service as `steward tokens keys|rotate-key`). Mounted by the gateway through
`mount_tokens(admin_app, ...)`."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session, sessionmaker

from steward.admin.auth import ActorDep, authenticate
from steward.identity.tokens_keys import KeyInfo, list_keys, rotate
from steward.identity.tokens_settings import AgentTokenSettings


class RotateKey(BaseModel):
    """Why, and whether older keys stop verifying at once."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=2000)
    revoke_previous: bool = Field(
        False, description="Withdraw every older key now (compromise): their tokens are refused."
    )


class Rotated(BaseModel):
    kid: str
    retired: list[str]
    pruned: list[str]
    created_at: datetime


def tokens_router(settings: AgentTokenSettings, sessions: sessionmaker[Session]) -> APIRouter:
    """`GET /tokens/keys` and `POST /tokens/rotate-key` (admins; auditors may read)."""
    router = APIRouter(tags=["tokens"])

    @router.get("/tokens/keys")
    def get_keys() -> list[KeyInfo]:
        """The signing keys, newest first (never their private halves)."""
        with sessions() as session:
            return list_keys(session)

    @router.post("/tokens/rotate-key", status_code=201)
    def rotate_key(actor: ActorDep, body: RotateKey | None = None) -> Rotated:
        """Create a new signing key; older ones verify until their tokens expire (or stop now
        with `revoke_previous`). Audited as `token_key.rotate`."""
        body = body or RotateKey()
        with sessions() as session, session.begin():
            done = rotate(
                session,
                settings,
                actor=actor.label(),
                reason=body.reason,
                revoke_previous=body.revoke_previous,
            )
        assert done is not None  # unconditional rotations always happen
        return Rotated(
            kid=done.kid,
            retired=list(done.retired),
            pruned=list(done.pruned),
            created_at=done.created_at,
        )

    return router


def mount_tokens(
    admin: FastAPI, settings: AgentTokenSettings, sessions: sessionmaker[Session]
) -> None:
    """Add the routes under /admin/v1 with admin-key authentication (auditors read)."""
    from steward.admin.api import PREFIX

    admin.include_router(
        tokens_router(settings, sessions), prefix=PREFIX, dependencies=[Depends(authenticate)]
    )


__all__ = ["mount_tokens", "tokens_router"]
