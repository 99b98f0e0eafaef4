"""Admin keys (for the admin API), the first-run bootstrap key, and reading the audit trail."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from steward.events.ids import short_id
from steward.identity._base import ServiceBase, as_utc, must_utc, utcnow
from steward.identity._validate import choice, clean_text
from steward.identity.errors import Conflict, Invalid, NotFound
from steward.identity.keys import ADMIN_KEY_PREFIX, generate_key, hash_key
from steward.identity.records import ADMIN_ROLES, SYSTEM_ACTOR, Actor, AdminKeyInfo, AuditEntry
from steward.store.models import AdminKey, AuditEvent

BOOTSTRAP_FILE = "admin-key"
_MIN_ENV_KEY = 16
_MAX_AUDIT_LIMIT = 1000


def _admin_info(row: AdminKey) -> AdminKeyInfo:
    return AdminKeyInfo(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        role=row.role,
        revoked_at=as_utc(row.revoked_at),
        created_at=must_utc(row.created_at),
    )


def _audit_entry(row: AuditEvent) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        ts=must_utc(row.ts),
        actor_type=row.actor_type,
        actor_id=row.actor_id,
        action=row.action,
        target_type=row.target_type,
        target_id=row.target_id,
        outcome=row.outcome,
        reason=row.reason,
        request_id=row.request_id,
        details=row.details,
        agent_id=row.agent_id,
        on_behalf_of=row.on_behalf_of,
        owner_id=row.owner_id,
        chain=list(row.chain) if row.chain else None,
    )


def _find_admin_key(session: Session, ref: str) -> AdminKey:
    row = session.get(AdminKey, ref)
    if row is not None:
        return row
    stem = ref.removesuffix("…").removesuffix("...")
    rows = session.scalars(select(AdminKey).where(AdminKey.prefix == stem + "…")).all()
    if len(rows) > 1:
        raise Conflict(
            f"prefix '{ref}' matches {len(rows)} admin keys; use the key id instead",
            code="ambiguous_key",
        )
    if not rows:
        raise NotFound(
            f"admin key '{ref}' does not exist; give its id or prefix (list admin "
            "keys to see them)",
            code="admin_key_not_found",
        )
    return rows[0]


def _active_admins(session: Session) -> int:
    stmt = (
        select(func.count())
        .select_from(AdminKey)
        .where(AdminKey.role == "admin", AdminKey.revoked_at.is_(None))
    )
    return int(session.scalar(stmt) or 0)


def _write_secret(path: Path, secret: str) -> None:
    """Write a secret readable by the owner only (0600), replacing any previous file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (secret + "\n").encode("utf-8"))
    finally:
        os.close(fd)


class AdminKeysMixin(ServiceBase):
    def create_admin_key(
        self, name: str = "", role: str = "admin", *, actor: Actor = SYSTEM_ACTOR
    ) -> tuple[AdminKeyInfo, str]:
        """Issue an admin-API key with role admin (everything) or auditor (read only)."""
        name = clean_text("admin key name", name, max_len=200)
        role = choice("role", role, ADMIN_ROLES)
        with self._write() as s:
            plaintext, digest, prefix = generate_key(ADMIN_KEY_PREFIX)
            row = AdminKey(
                id=short_id("akey"),
                name=name,
                key_hash=digest,
                prefix=prefix,
                role=role,
                revoked_at=None,
                created_at=utcnow(),
            )
            s.add(row)
            s.flush()
            self._changed(
                s,
                actor,
                "admin_key.create",
                "admin_key",
                row.id,
                details={"name": name, "role": role, "prefix": prefix},
            )
            return _admin_info(row), plaintext

    def list_admin_keys(self, include_revoked: bool = False) -> list[AdminKeyInfo]:
        with self._read() as s:
            stmt = select(AdminKey).order_by(AdminKey.created_at, AdminKey.id)
            if not include_revoked:
                stmt = stmt.where(AdminKey.revoked_at.is_(None))
            return [_admin_info(r) for r in s.scalars(stmt)]

    def revoke_admin_key(self, ref: str, *, actor: Actor = SYSTEM_ACTOR) -> AdminKeyInfo:
        """Revoke an admin key. The last active admin-role key cannot be revoked, so the admin
        API is never locked out by accident."""
        with self._write() as s:
            row = _find_admin_key(s, ref)
            if row.revoked_at is not None:
                raise Conflict(
                    f"admin key {row.prefix} ({row.id}) is already revoked", code="already_revoked"
                )
            if row.role == "admin" and _active_admins(s) <= 1:
                raise Conflict(
                    f"admin key {row.prefix} ({row.id}) is the last active admin key; "
                    "create another admin key before revoking it",
                    code="last_admin_key",
                )
            row.revoked_at = utcnow()
            self._changed(
                s,
                actor,
                "admin_key.revoke",
                "admin_key",
                row.id,
                details={"prefix": row.prefix, "role": row.role},
            )
            return _admin_info(row)

    def authenticate_admin(self, plaintext: str) -> AdminKeyInfo | None:
        """The active admin key with this plaintext, or None."""
        if not plaintext:
            return None
        with self._read() as s:
            row = s.scalar(select(AdminKey).where(AdminKey.key_hash == hash_key(plaintext)))
            if row is None or row.revoked_at is not None:
                return None
            return _admin_info(row)

    def verify_admin_key(self, plaintext: str) -> str | None:
        """The role ('admin' or 'auditor') of an active admin key, or None."""
        info = self.authenticate_admin(plaintext)
        return None if info is None else info.role

    def ensure_bootstrap_admin(self, env_key: str | None, data_dir: Path) -> str | None:
        """First-run access to the admin API.

        With `env_key` (STEWARD_ADMIN_KEY): make sure it is registered as an admin key; None.
        Without: if no admin key exists at all, create one, write it to `data_dir/admin-key`
        (mode 0600) and return the plaintext for the caller to print once; otherwise None."""
        if env_key:
            self._ensure_env_admin(env_key)
            return None
        with self._write() as s:
            if s.scalar(select(AdminKey.id).limit(1)) is not None:
                return None
            plaintext, digest, prefix = generate_key(ADMIN_KEY_PREFIX)
            row = AdminKey(
                id=short_id("akey"),
                name="bootstrap",
                key_hash=digest,
                prefix=prefix,
                role="admin",
                revoked_at=None,
                created_at=utcnow(),
            )
            s.add(row)
            s.flush()
            path = Path(data_dir) / BOOTSTRAP_FILE
            _write_secret(path, plaintext)  # inside the transaction: no file, no key
            self._changed(
                s,
                SYSTEM_ACTOR,
                "admin_key.bootstrap",
                "admin_key",
                row.id,
                details={"prefix": prefix, "file": str(path)},
            )
            return plaintext

    def _ensure_env_admin(self, env_key: str) -> None:
        if len(env_key) < _MIN_ENV_KEY:
            raise Invalid(
                f"STEWARD_ADMIN_KEY is {len(env_key)} characters long; use at least "
                f"{_MIN_ENV_KEY} random characters",
                code="weak_admin_key",
            )
        digest = hash_key(env_key)
        with self._write() as s:
            row = s.scalar(select(AdminKey).where(AdminKey.key_hash == digest))
            if row is None:
                row = AdminKey(
                    id=short_id("akey"),
                    name="STEWARD_ADMIN_KEY",
                    key_hash=digest,
                    prefix=f"env-{env_key[:4]}…",
                    role="admin",
                    revoked_at=None,
                    created_at=utcnow(),
                )
                s.add(row)
                s.flush()
                action = "admin_key.bootstrap"
            elif row.role != "admin":
                row.role = "admin"
                action = "admin_key.promote"
            else:
                return  # already registered; a revoked env key stays revoked
            self._changed(
                s,
                SYSTEM_ACTOR,
                action,
                "admin_key",
                row.id,
                details={"source": "STEWARD_ADMIN_KEY"},
            )

    def list_audit(
        self, since: datetime | None = None, action: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Audit events, newest first. `action` matches exactly, or by prefix when it ends
        in '*' (e.g. 'key.*')."""
        if not 1 <= limit <= _MAX_AUDIT_LIMIT:
            raise Invalid(
                f"limit {limit} is out of range; use 1 to {_MAX_AUDIT_LIMIT}", code="invalid_limit"
            )
        with self._read() as s:
            stmt = select(AuditEvent).order_by(AuditEvent.ts.desc(), AuditEvent.id.desc())
            if since is not None:
                stmt = stmt.where(AuditEvent.ts >= must_utc(since))
            if action:
                if action.endswith("*"):
                    stmt = stmt.where(AuditEvent.action.startswith(action[:-1], autoescape=True))
                else:
                    stmt = stmt.where(AuditEvent.action == action)
            return [_audit_entry(r) for r in s.scalars(stmt.limit(limit))]


__all__ = ["BOOTSTRAP_FILE", "AdminKeysMixin"]
