"""Signs delegation tokens in a gateway process: finds the active signing key, rotates it when
it is older than `agents.key_rotation_days` (or when there is none yet), and keeps the
decrypted private key in memory only (never in the snapshot, never logged)."""

from __future__ import annotations

import asyncio
import logging
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from steward.identity.tokens import issue
from steward.identity.tokens_exchange import ExchangeError, Grant
from steward.identity.tokens_keys import (
    KeyRing,
    SigningKeyUnavailable,
    load_private_key,
    rotate,
)
from steward.identity.tokens_settings import AgentTokenSettings
from steward.store.models_tokens import SigningKeyRow

log = logging.getLogger("steward.tokens")


class TokenIssuer:
    """Turns granted exchanges into signed tokens for one process."""

    def __init__(self, settings: AgentTokenSettings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self._sessions = sessions
        self._keys: dict[str, Ed25519PrivateKey] = {}
        self._lock = asyncio.Lock()

    def _stale(self, ring: KeyRing, now: float) -> bool:
        active = ring.active_entry()
        if active is None:
            return True
        period = self.settings.key_rotation_days * 86400
        return period > 0 and now - active.created_at > period

    def _load_sync(self, expected: str | None, stale: bool) -> tuple[str, Ed25519PrivateKey]:
        """Rotate if needed (once across processes), then read the newest active key."""
        with self._sessions() as session, session.begin():
            if stale:
                rotate(
                    session,
                    self.settings,
                    reason="first signing key" if expected is None else "automatic rotation",
                    expect_active=expected,
                )
            row = session.scalars(
                select(SigningKeyRow)
                .where(SigningKeyRow.retired_at.is_(None))
                .order_by(SigningKeyRow.created_at.desc())
                .limit(1)
            ).first()
            if row is None:
                raise SigningKeyUnavailable("no signing key; run `steward tokens rotate-key`")
            return row.kid, load_private_key(session, row.kid, self.settings.signing_key_passphrase)

    async def signing_key(self, ring: KeyRing) -> tuple[str, Ed25519PrivateKey]:
        """The key to sign with now: the ring's active key, from memory when possible."""
        now = time.time()
        active = ring.active
        stale = self._stale(ring, now)
        if not stale and active is not None and active in self._keys:
            return active, self._keys[active]
        async with self._lock:
            try:
                kid, key = await asyncio.to_thread(self._load_sync, active, stale)
            except (SQLAlchemyError, SigningKeyUnavailable) as exc:
                if active is not None and active in self._keys:  # keep signing with the old key
                    log.warning("could not rotate the token signing key, keeping %s: %s",
                                active, exc)  # fmt: skip
                    return active, self._keys[active]
                log.warning("no token signing key available: %s", exc)
                raise ExchangeError(
                    "temporarily_unavailable",
                    "tokens cannot be issued right now (signing key unavailable); retry shortly",
                ) from None
            self._keys = {kid: key}  # retired keys no longer sign: drop them from memory
            return kid, key

    async def sign(self, ring: KeyRing, grant: Grant) -> str:
        """A signed delegation token for the grant."""
        kid, key = await self.signing_key(ring)
        return issue(
            private_key=key,
            kid=kid,
            issuer=self.settings.issuer,
            token_id=grant.token_id,
            user_id=grant.user_id,
            chain=grant.chain,
            owner_id=grant.owner_id,
            key_id=grant.key_id,
            subject_key_id=grant.subject_key_id,
            models=grant.models,
            scope=grant.scope,
            issued_at=grant.issued_at,
            expires_at=grant.expires_at,
        )


__all__ = ["TokenIssuer"]
