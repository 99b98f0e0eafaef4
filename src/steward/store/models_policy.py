"""SQL tables of Cedar policy sets (migration 0007): one row per set with its current version,
and every version's text kept so a change can be inspected and rolled back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from steward.store.models import Base


class PolicySetRow(Base):
    """A named policy set: its mode and current version (the one every gateway applies)."""

    __tablename__ = "policy_sets"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    mode: Mapped[str] = mapped_column(String(10))  # enforce | shadow
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200), default="")
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class PolicyVersionRow(Base):
    """One version of a set's Cedar text, immutable once written."""

    __tablename__ = "policy_versions"
    set_id: Mapped[str] = mapped_column(
        ForeignKey("policy_sets.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    mode: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200), default="")


__all__ = ["PolicySetRow", "PolicyVersionRow"]
