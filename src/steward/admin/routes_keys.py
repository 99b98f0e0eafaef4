"""Admin API routes for API keys, admin keys, the audit trail and whoami."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from steward.admin.auth import ActorDep, AdminCaller, IdentityDep
from steward.admin.schemas import AdminKeyCreate, CreatedAdminKey, CreatedKey, KeyCreate, Reason
from steward.identity.durations import parse_duration
from steward.identity.records import AdminKeyInfo, ApiKeyInfo, AuditEntry

router = APIRouter()


def _reason(body: Reason | None) -> str:
    return "" if body is None else body.reason


@router.get("/whoami", tags=["admin keys"])
def whoami(key: AdminCaller) -> AdminKeyInfo:
    """The admin key making this request and its role."""
    return key


# -- API keys --------------------------------------------------------------------------------


@router.post("/keys", status_code=201, tags=["keys"])
def create_key(body: KeyCreate, identity: IdentityDep, actor: ActorDep) -> CreatedKey:
    """Issue a key. The response is the only place the key itself ever appears."""
    expires_in = None if body.expires_in is None else parse_duration(body.expires_in)
    info, plaintext = identity.create_key(
        user=body.user,
        app=body.app,
        agent=body.agent,
        service_account=body.service_account,
        team=body.team,
        name=body.name,
        models=body.models,
        expires_in=expires_in,
        expires_at=body.expires_at,
        actor=actor,
    )
    return CreatedKey(key=plaintext, api_key=info)


@router.get("/keys", tags=["keys"])
def list_keys(
    identity: IdentityDep,
    user: str | None = None,
    team: str | None = None,
    app: str | None = None,
    agent: str | None = None,
    service_account: str | None = None,
    include_revoked: bool = False,
) -> list[ApiKeyInfo]:
    """Keys, newest first (never the key itself; only its display prefix)."""
    return identity.list_keys(
        user=user,
        team=team,
        app=app,
        agent=agent,
        service_account=service_account,
        include_revoked=include_revoked,
    )


@router.get("/keys/{key}", tags=["keys"])
def get_key(key: str, identity: IdentityDep) -> ApiKeyInfo:
    """A key by id or display prefix."""
    return identity.get_key(key)


@router.delete("/keys/{key}", tags=["keys"])
def revoke_key(key: str, identity: IdentityDep, actor: ActorDep, reason: str = "") -> ApiKeyInfo:
    """Revoke a key for good."""
    return identity.revoke_key(key, reason, actor=actor)


@router.post("/keys/{key}/suspend", tags=["keys"])
def suspend_key(
    key: str, identity: IdentityDep, actor: ActorDep, body: Reason | None = None
) -> ApiKeyInfo:
    return identity.set_key_suspended(key, True, _reason(body), actor=actor)


@router.post("/keys/{key}/unsuspend", tags=["keys"])
def unsuspend_key(
    key: str, identity: IdentityDep, actor: ActorDep, body: Reason | None = None
) -> ApiKeyInfo:
    return identity.set_key_suspended(key, False, _reason(body), actor=actor)


# -- admin keys ------------------------------------------------------------------------------


@router.post("/admin-keys", status_code=201, tags=["admin keys"])
def create_admin_key(
    body: AdminKeyCreate, identity: IdentityDep, actor: ActorDep
) -> CreatedAdminKey:
    """Issue an admin key (role admin or auditor); shown only in this response."""
    info, plaintext = identity.create_admin_key(body.name, body.role, actor=actor)
    return CreatedAdminKey(key=plaintext, admin_key=info)


@router.get("/admin-keys", tags=["admin keys"])
def list_admin_keys(identity: IdentityDep, include_revoked: bool = False) -> list[AdminKeyInfo]:
    return identity.list_admin_keys(include_revoked=include_revoked)


@router.delete("/admin-keys/{key}", tags=["admin keys"])
def revoke_admin_key(key: str, identity: IdentityDep, actor: ActorDep) -> AdminKeyInfo:
    """Revoke an admin key; the last active admin-role key cannot be revoked (409)."""
    return identity.revoke_admin_key(key, actor=actor)


# -- audit -----------------------------------------------------------------------------------


@router.get("/audit", tags=["audit"])
def list_audit(
    identity: IdentityDep,
    since: datetime | None = None,
    action: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Audit events, newest first. `action` matches exactly, or by prefix with a trailing '*'."""
    return identity.list_audit(since=since, action=action, limit=limit)
