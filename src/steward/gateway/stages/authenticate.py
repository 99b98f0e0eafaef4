"""authenticate: API key -> principal, from the in-memory snapshot (no database on the hot path)."""

from __future__ import annotations

import hashlib
import time

from steward.gateway.context import RequestContext
from steward.gateway.errors import unauthorized
from steward.gateway.stages.base import Stage
from steward.identity.snapshot import SnapshotHolder


def presented_key(headers: dict[str, str]) -> str | None:
    """The key from `Authorization: Bearer ...` (OpenAI clients) or `x-api-key` (Anthropic)."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = headers.get("x-api-key")
    return key.strip() if key else None


class Authenticate(Stage):
    name = "authenticate"

    def __init__(self, snapshots: SnapshotHolder) -> None:
        self._snapshots = snapshots

    async def on_request(self, ctx: RequestContext) -> None:
        key = presented_key(ctx.headers)
        if not key:
            raise unauthorized(
                "missing API key: send 'Authorization: Bearer sk-stw-...' or 'x-api-key'",
                code="missing_api_key",
            )
        ctx.api_key = key
        principal = self._snapshots.current.keys.get(hashlib.sha256(key.encode()).hexdigest())
        if principal is None:
            raise unauthorized("invalid API key: it is unknown or revoked")
        ctx.principal = principal
        if principal.expires_at is not None and principal.expires_at <= time.time():
            raise unauthorized(
                f"API key {principal.key_prefix} has expired; ask an admin for a new one",
                code="key_expired",
            )
