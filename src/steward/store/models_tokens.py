"""SQL table of the Ed25519 keys that sign agents' delegation tokens (migration 0008).

A key signs while it is the newest unretired one; once retired its private half is erased and
its public half is kept (and published in the JWKS) until every token it signed has expired."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from steward.store.models import Base


class SigningKeyRow(Base):
    """One signing key: `kid`, public key (raw 32 bytes, base64url), private key (PKCS#8 PEM,
    encrypted when a passphrase is configured; NULL once retired)."""

    __tablename__ = "token_signing_keys"
    kid: Mapped[str] = mapped_column(String(40), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(20), default="EdDSA")
    public_key: Mapped[str] = mapped_column(String(64))
    private_key: Mapped[str | None] = mapped_column(Text)
    encrypted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]  # stopped signing
    verify_until: Mapped[datetime | None]  # published and accepted until then (set on retiring)
    created_by: Mapped[str] = mapped_column(String(200), default="")
