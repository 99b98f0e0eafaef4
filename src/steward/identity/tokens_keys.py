"""Ed25519 signing keys for delegation tokens: creation, rotation, the JWKS, and the snapshot
section that gives every gateway process the public keys.

Where the private key lives: in the store (`token_signing_keys.private_key`, PKCS#8 PEM,
encrypted with `agents.signing_key_passphrase` when one is configured). It is deliberately NOT
part of the snapshot, so it never reaches the snapshot's disk cache; a gateway process reads it
from the store on its first token exchange and keeps it in memory only. Trade-off: anyone who
can read the store (or, without a passphrase, its backups) can mint tokens, exactly as they
could already create API keys there; a process that starts while the store is down can verify
tokens but not issue them. A retired key's private half is erased at rotation."""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from steward.events.ids import new_id, short_id
from steward.identity.snapshot import Section, register_section
from steward.identity.state import bump_version
from steward.identity.tokens_settings import AgentTokenSettings
from steward.store.models import AuditEvent
from steward.store.models_tokens import SigningKeyRow

log = logging.getLogger("steward.tokens")

ALGORITHM = "EdDSA"
SECTION = "signing_keys"


class SigningKeyUnavailable(RuntimeError):
    """The private key cannot be read (store down, key erased, wrong passphrase)."""


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class PublicKeyEntry:
    """One verification key of the ring."""

    kid: str
    x: str  # raw public key, base64url (the JWK `x`)
    created_at: float
    retired_at: float | None
    verify_until: float | None
    key: Ed25519PublicKey = field(compare=False, repr=False)

    def jwk(self) -> dict[str, str]:
        """The key as an RFC 8037 OKP JWK."""
        return {"kty": "OKP", "crv": "Ed25519", "x": self.x, "kid": self.kid, "alg": ALGORITHM,
                "use": "sig"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The public keys a process verifies with, and which one currently signs."""

    keys: Mapping[str, PublicKeyEntry] = field(default_factory=dict)
    active: str | None = None  # kid of the newest unretired key

    def active_entry(self) -> PublicKeyEntry | None:
        return self.keys.get(self.active) if self.active else None

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set: every key a token may still be signed with, newest first."""
        ordered = sorted(self.keys.values(), key=lambda e: e.created_at, reverse=True)
        return {"keys": [e.jwk() for e in ordered]}


def _entry(
    kid: str, x: str, created: float, retired: float | None, until: float | None
) -> PublicKeyEntry:
    key = Ed25519PublicKey.from_public_bytes(_unb64url(x))
    return PublicKeyEntry(kid, x, created, retired, until, key)


def _ring(entries: list[PublicKeyEntry]) -> KeyRing:
    live = [e for e in entries if e.retired_at is None]
    active = max(live, key=lambda e: e.created_at).kid if live else None
    return KeyRing(keys={e.kid: e for e in entries}, active=active)


def load_ring(session: Session, now: datetime | None = None) -> KeyRing:
    """The keys that still verify: unretired ones and retired ones whose tokens may be live."""
    now = now or datetime.now(UTC)
    entries = []
    for row in session.scalars(select(SigningKeyRow)):
        until = _utc(row.verify_until)
        if until is not None and until <= now:
            continue
        retired = _utc(row.retired_at)
        created = _utc(row.created_at)
        assert created is not None
        entries.append(
            _entry(
                row.kid,
                row.public_key,
                created.timestamp(),
                retired.timestamp() if retired else None,
                until.timestamp() if until else None,
            )
        )
    return _ring(entries)


def _dump_ring(ring: KeyRing) -> list[dict[str, Any]]:
    return [
        {
            "kid": e.kid,
            "x": e.x,
            "created_at": e.created_at,
            "retired_at": e.retired_at,
            "verify_until": e.verify_until,
        }  # fmt: skip
        for e in ring.keys.values()
    ]


def _parse_ring(raw: Any) -> KeyRing:
    return _ring(
        [_entry(d["kid"], d["x"], d["created_at"], d["retired_at"], d["verify_until"]) for d in raw]
    )


register_section(Section(SECTION, load_ring, _dump_ring, _parse_ring, KeyRing))


# -- private keys -------------------------------------------------------------------------------


def _serialize_private(key: Ed25519PrivateKey, passphrase: str | None) -> str:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    return pem.decode("ascii")


def load_private_key(session: Session, kid: str, passphrase: str | None) -> Ed25519PrivateKey:
    """Read and decrypt the private key `kid` from the store (never logged)."""
    row = session.get(SigningKeyRow, kid)
    if row is None or row.private_key is None or row.retired_at is not None:
        raise SigningKeyUnavailable(f"signing key {kid} is retired or gone; rotate again")
    if row.encrypted and not passphrase:
        raise SigningKeyUnavailable(
            f"signing key {kid} is encrypted; set agents.signing_key_passphrase"
        )
    try:
        key = serialization.load_pem_private_key(
            row.private_key.encode("ascii"),
            password=passphrase.encode() if row.encrypted and passphrase else None,
        )
    except (ValueError, TypeError) as exc:
        raise SigningKeyUnavailable(
            f"signing key {kid} cannot be decrypted; check agents.signing_key_passphrase"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyUnavailable(f"signing key {kid} is not an Ed25519 key")
    return key


# -- rotation -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rotation:
    """What a rotation did."""

    kid: str
    retired: tuple[str, ...]
    pruned: tuple[str, ...]
    created_at: datetime


def rotate(
    session: Session,
    settings: AgentTokenSettings,
    *,
    actor: str = "system:steward",
    reason: str = "",
    expect_active: str | None | bool = False,
    revoke_previous: bool = False,
    now: datetime | None = None,
) -> Rotation | None:
    """Create a new signing key and retire the current ones, in the caller's transaction.

    Retired keys lose their private half and keep verifying until the longest token they may
    have signed has expired. With `expect_active` (a kid, or None for "no key yet"), the
    rotation happens only if that is still the active key: concurrent automatic rotations by
    several processes then produce one new key, and the others return None.
    `revoke_previous` (a suspected key compromise) stops every older key verifying at once:
    all tokens they signed are refused on the next request."""
    now = now or datetime.now(UTC)
    active = list(session.scalars(select(SigningKeyRow).where(SigningKeyRow.retired_at.is_(None))))
    if expect_active is not False:
        newest = max(active, key=lambda r: _utc(r.created_at) or now, default=None)
        if (newest.kid if newest else None) != expect_active:
            return None
    grace = timedelta(seconds=settings.max_token_ttl_s + settings.clock_skew_s)
    if revoke_previous:
        grace = timedelta(0)
        session.execute(
            update(SigningKeyRow)
            .where(SigningKeyRow.verify_until > now)
            .values(verify_until=now)
            .execution_options(synchronize_session=False)
        )
    retired = []
    for row in active:
        done = session.execute(
            update(SigningKeyRow)
            .where(SigningKeyRow.kid == row.kid, SigningKeyRow.retired_at.is_(None))
            .values(retired_at=now, verify_until=now + grace, private_key=None)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]  # a concurrent rotation won
            return None
        retired.append(row.kid)
    pruned = list(
        session.scalars(select(SigningKeyRow.kid).where(SigningKeyRow.verify_until <= now))
    )
    if pruned:
        session.execute(delete(SigningKeyRow).where(SigningKeyRow.kid.in_(pruned)))
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    kid = short_id("sig")
    session.add(
        SigningKeyRow(
            kid=kid,
            algorithm=ALGORITHM,
            public_key=_b64url(public),
            private_key=_serialize_private(private, settings.signing_key_passphrase),
            encrypted=bool(settings.signing_key_passphrase),
            created_at=now,
            retired_at=None,
            verify_until=None,
            created_by=actor,
        )
    )
    actor_type, _, actor_id = actor.partition(":")
    session.add(
        AuditEvent(
            id=new_id(),
            ts=now,
            actor_type=actor_type or "system",
            actor_id=actor_id or actor,
            action="token_key.rotate",
            target_type="signing_key",
            target_id=kid,
            outcome="succeeded",
            reason=reason or None,
            details={"retired": retired, "pruned": pruned, "revoke_previous": revoke_previous},
        )
    )
    bump_version(session)
    log.info("token signing key %s created (retired: %s)", kid, ", ".join(retired) or "none")
    return Rotation(kid, tuple(retired), tuple(pruned), now)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A signing key as the CLI and admin API show it (never the private half)."""

    kid: str
    status: str  # active | retired
    created_at: datetime
    retired_at: datetime | None
    verify_until: datetime | None
    encrypted: bool


def list_keys(session: Session) -> list[KeyInfo]:
    """Every stored signing key, newest first."""
    rows = session.scalars(select(SigningKeyRow).order_by(SigningKeyRow.created_at.desc()))
    out = []
    for row in rows:
        created = _utc(row.created_at)
        assert created is not None
        status = "active" if row.retired_at is None else "retired"
        out.append(
            KeyInfo(
                row.kid,
                status,
                created,
                _utc(row.retired_at),
                _utc(row.verify_until),
                row.encrypted,
            )  # fmt: skip
        )
    return out


__all__ = [
    "ALGORITHM",
    "SECTION",
    "KeyInfo",
    "KeyRing",
    "PublicKeyEntry",
    "Rotation",
    "SigningKeyUnavailable",
    "list_keys",
    "load_private_key",
    "load_ring",
    "rotate",
]
