"""Shared machinery of the identity service: transactions, audit rows, version bumps, lookups."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from steward.events.ids import new_id
from steward.identity.errors import Conflict, NotFound
from steward.identity.records import Actor
from steward.identity.state import bump_version
from steward.store.models import Agent, ApiKey, App, AuditEvent, ServiceAccount, Team, User

Named = TypeVar("Named", Team, User, App, Agent, ServiceAccount)
Suspendable = TypeVar("Suspendable", User, App, Agent, ServiceAccount)

# (singular noun, how to list them) per model, for messages that say what to do next.
_KINDS: dict[type[Any], tuple[str, str]] = {
    Team: ("team", "teams"),
    User: ("user", "users"),
    App: ("app", "apps"),
    Agent: ("agent", "agents"),
    ServiceAccount: ("service account", "service-accounts"),
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Aware UTC. SQLite hands datetimes back naive; they were written as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def must_utc(value: datetime) -> datetime:
    out = as_utc(value)
    assert out is not None
    return out


def kind_of(model: type[Any]) -> str:
    return _KINDS[model][0]


def find(session: Session, model: type[Named], ref: str) -> Named:
    """Look a principal up by id, then by name; raise NotFound with a hint otherwise."""
    row = session.get(model, ref)
    if row is None:
        row = session.scalar(select(model).where(model.name == ref))
    if row is None:
        kind, plural = _KINDS[model]
        raise NotFound(
            f"{kind} '{ref}' does not exist; check the name or id (list {plural} to see them)",
            code=f"{kind.replace(' ', '_')}_not_found",
        )
    return row


def find_optional(session: Session, model: type[Named], ref: str | None) -> Named | None:
    return None if ref is None or ref == "" else find(session, model, ref)


def ensure_unique_name(session: Session, model: type[Named], name: str) -> None:
    if session.scalar(select(model.id).where(model.name == name)) is not None:
        kind, plural = _KINDS[model]
        raise Conflict(
            f"a {kind} named '{name}' already exists; choose another name "
            f"(list {plural} to see existing names)",
            code=f"{kind.replace(' ', '_')}_exists",
        )


class NameCache:
    """id -> name maps loaded once per call, so listings avoid one query per row."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._maps: dict[type[Any], dict[str, str]] = {}

    def name(self, model: type[Named], id_: str | None) -> str | None:
        if id_ is None:
            return None
        if model not in self._maps:
            rows = self._session.execute(select(model.id, model.name))
            self._maps[model] = {row[0]: row[1] for row in rows}
        return self._maps[model].get(id_)


class ServiceBase:
    """Holds the session factory; every mutation runs in `_write()` and calls `_changed()`."""

    def __init__(
        self, session_factory: sessionmaker[Session], *, engine: Engine | None = None
    ) -> None:
        self._sessions = session_factory
        self._engine = engine

    def close(self) -> None:
        """Dispose of the engine if this service owns one (the CLI's does)."""
        if self._engine is not None:
            self._engine.dispose()

    def __enter__(self) -> ServiceBase:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """One transaction: the change, its audit row and the version bump commit together."""
        try:
            with self._sessions() as session, session.begin():
                yield session
        except IntegrityError as exc:  # a concurrent writer won a uniqueness race
            raise Conflict(
                "the change conflicts with data written at the same time (probably a duplicate "
                "name); check the current state and retry",
                code="conflict",
            ) from exc

    @staticmethod
    def _audit(
        session: Session,
        actor: Actor,
        action: str,
        *,
        target_type: str | None = None,
        target_id: str | None = None,
        outcome: str = "succeeded",
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        payload = dict(details or {})
        if actor.role is not None:
            payload["actor_role"] = actor.role
        session.add(
            AuditEvent(
                id=new_id(),
                ts=utcnow(),
                actor_type=actor.type,
                actor_id=actor.id,
                action=action,
                target_type=target_type,
                target_id=target_id,
                outcome=outcome,
                reason=reason or None,
                request_id=actor.request_id,
                details=payload or None,
            )
        )

    def _changed(
        self,
        session: Session,
        actor: Actor,
        action: str,
        target_type: str,
        target_id: str,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record a successful configuration change and bump the state version."""
        self._audit(
            session,
            actor,
            action,
            target_type=target_type,
            target_id=target_id,
            reason=reason,
            details=details,
        )
        bump_version(session)

    def record_audit(
        self,
        actor: Actor,
        action: str,
        *,
        outcome: str,
        target_type: str | None = None,
        target_id: str | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Write a standalone audit event (e.g. a denied admin request); no version bump."""
        with self._write() as session:
            self._audit(
                session,
                actor,
                action,
                target_type=target_type,
                target_id=target_id,
                outcome=outcome,
                reason=reason,
                details=details,
            )


def revoke_active_keys(session: Session, *where: Any) -> list[str]:
    """Revoke every unrevoked API key matching `where`; return their ids (for the audit row)."""
    rows = session.scalars(select(ApiKey).where(ApiKey.revoked_at.is_(None), *where)).all()
    now = utcnow()
    for row in rows:
        row.revoked_at = now
    return [row.id for row in rows]


def delete_keys(session: Session, *where: Any) -> list[str]:
    """Delete API keys matching `where` (their principal is going away); return their ids."""
    ids = list(session.scalars(select(ApiKey.id).where(*where)))
    if ids:
        session.execute(delete(ApiKey).where(ApiKey.id.in_(ids)))
    return ids


def set_suspended(
    session: Session, model: type[Suspendable], ref: str, suspended: bool
) -> tuple[Suspendable, bool]:
    """Set the suspended flag; return the row and whether it changed."""
    row = find(session, model, ref)
    changed = bool(row.suspended) != suspended
    row.suspended = suspended
    return row, changed
