"""authenticate: bearer credential -> principal, from the in-memory snapshot (no database on the
hot path). Accepts Steward API keys and agents' delegation tokens (see identity.credentials)."""

from __future__ import annotations

import time

from steward.gateway.context import RequestContext
from steward.gateway.errors import unauthorized
from steward.gateway.stages.base import Stage
from steward.identity.credentials import BearerResolver, ExpiredKey, UnknownSigningKey
from steward.identity.snapshot import SnapshotHolder
from steward.identity.tokens_settings import AgentTokenSettings

# A token signed by a key this process has not loaded yet (a sibling just rotated) triggers
# one snapshot refresh, at most this often, so garbage `kid`s cannot hammer the store.
_REFRESH_EVERY_S = 0.25


def presented_key(headers: dict[str, str]) -> str | None:
    """The credential from `Authorization: Bearer ...` (OpenAI clients) or `x-api-key`
    (Anthropic clients): an API key or a delegation token."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = headers.get("x-api-key")
    return key.strip() if key else None


class Authenticate(Stage):
    name = "authenticate"

    def __init__(self, snapshots: SnapshotHolder, resolver: BearerResolver | None = None) -> None:
        self._snapshots = snapshots
        self._resolver = resolver or BearerResolver(AgentTokenSettings())
        self._last_refresh = 0.0

    async def on_request(self, ctx: RequestContext) -> None:
        key = presented_key(ctx.headers)
        if not key:
            raise unauthorized(
                "missing API key: send 'Authorization: Bearer sk-stw-...' (or a delegation "
                "token) or 'x-api-key'",
                code="missing_api_key",
            )
        ctx.api_key = key
        try:
            ctx.principal = self._resolver.resolve(self._snapshots.current, key)
        except ExpiredKey as err:
            ctx.principal = err.principal  # the refusal is recorded against the key
            raise
        except UnknownSigningKey:
            if not await self._refreshed():
                raise
            ctx.principal = self._resolver.resolve(self._snapshots.current, key)

    async def _refreshed(self) -> bool:
        """Reload the snapshot if it changed (rate-limited); True if a new one arrived."""
        now = time.monotonic()
        if now - self._last_refresh < _REFRESH_EVERY_S:
            return False
        self._last_refresh = now
        return await self._snapshots.refresh()
