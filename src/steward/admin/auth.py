"""Admin API authentication: an admin key in `Authorization: Bearer` or `x-steward-admin-key`.
Role admin may do everything; role auditor may only read. Every refusal is audited."""

from __future__ import annotations

from typing import Annotated, Any, NoReturn, cast

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from steward.admin.errors import ApiError
from steward.identity.records import Actor, AdminKeyInfo
from steward.identity.service import IdentityService

ADMIN_KEY_HEADER = "x-steward-admin-key"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(auto_error=False, description="An admin key: `Bearer sk-stw-adm-…`.")
_header = APIKeyHeader(name=ADMIN_KEY_HEADER, auto_error=False, description="An admin key.")


def get_identity(request: Request) -> IdentityService:
    return cast(IdentityService, request.app.state.identity)


def request_id_of(request: Request) -> str | None:
    value: Any = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


def _deny(
    request: Request, key: AdminKeyInfo | None, status: int, code: str, message: str
) -> NoReturn:
    actor = (
        Actor("admin", "unknown", request_id=request_id_of(request))
        if key is None
        else Actor("admin", key.id, role=key.role, request_id=request_id_of(request))
    )
    client = request.client.host if request.client else None
    get_identity(request).record_audit(
        actor,
        "admin.auth",
        outcome="denied",
        target_type="endpoint",
        target_id=f"{request.method} {request.url.path}",
        reason=code,
        details={"status": status, "client": client},
    )
    raise ApiError(status, message, code)


def authenticate(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header: Annotated[str | None, Security(_header)],
) -> AdminKeyInfo:
    """Resolve the caller's admin key and enforce its role; 401/403 otherwise."""
    token = header or (bearer.credentials if bearer is not None else None)
    if not token:
        _deny(
            request,
            None,
            401,
            "missing_admin_key",
            "this endpoint needs an admin key; send 'Authorization: Bearer <admin key>' or "
            f"'{ADMIN_KEY_HEADER}: <admin key>'",
        )
    key = get_identity(request).authenticate_admin(token)
    if key is None:
        _deny(
            request,
            None,
            401,
            "invalid_admin_key",
            "the admin key is not valid (unknown or revoked); check it, or create a new one "
            "with `steward admin-keys create`",
        )
    if request.method not in READ_METHODS and key.role != "admin":
        _deny(
            request,
            key,
            403,
            "insufficient_role",
            f"admin key {key.prefix} has role '{key.role}', which may only read; "
            "this request needs a key with role 'admin'",
        )
    return key


AdminCaller = Annotated[AdminKeyInfo, Depends(authenticate)]


def admin_actor(request: Request, key: AdminCaller) -> Actor:
    """The audit actor for the calling admin key."""
    return Actor("admin", key.id, role=key.role, request_id=request_id_of(request))


ActorDep = Annotated[Actor, Depends(admin_actor)]
IdentityDep = Annotated[IdentityService, Depends(get_identity)]

__all__ = [
    "ADMIN_KEY_HEADER",
    "ActorDep",
    "AdminCaller",
    "IdentityDep",
    "admin_actor",
    "authenticate",
    "get_identity",
]
