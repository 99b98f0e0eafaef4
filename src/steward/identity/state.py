"""The configuration state version: one counter that rises with every change, so gateway
processes can poll one cheap row and reload their snapshot when it moves."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from steward.store.models import StateVersion

_ROW_ID = 1


def bump_version(session: Session) -> int:
    """Raise the version by one inside the caller's transaction and return the new value.

    An atomic `UPDATE ... SET version = version + 1` (row-locked on PostgreSQL) so concurrent
    writers never publish the same number twice; the row is created on first use."""
    now = datetime.now(UTC)
    stmt = (
        update(StateVersion)
        .where(StateVersion.id == _ROW_ID)
        .values(version=StateVersion.version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if session.execute(stmt).rowcount == 0:  # type: ignore[attr-defined]
        try:
            with session.begin_nested():
                session.add(StateVersion(id=_ROW_ID, version=1, updated_at=now))
        except IntegrityError:  # another writer created it first: increment theirs
            session.execute(stmt)
    return current_version(session)


def current_version(session: Session) -> int:
    """The current version, 0 before the first change."""
    value = session.scalar(select(StateVersion.version).where(StateVersion.id == _ROW_ID))
    return int(value or 0)


__all__ = ["bump_version", "current_version"]
