"""SQL tables of the model catalogue (migration 0013): each model's state, owner and data
classes; each alias's deployment (promoted primary, canary split) and its change history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from steward.store.models import Base


class CatalogueModel(Base):
    """A model in the catalogue: an alias (`kind` alias, `name` the alias) or an upstream model
    (`kind` upstream, `name` `provider/upstream_model`)."""

    __tablename__ = "catalogue_models"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # alias | upstream
    name: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(16))  # proposed | approved | deprecated | blocked
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # the data classes the model may see; None: not restricted
    data_classes: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (UniqueConstraint("kind", "name", name="uq_catalogue_models_kind_name"),)


class CatalogueDeployment(Base):
    """How an alias is served beyond its configuration: a promoted upstream model replacing the
    configured one, and a canary share of traffic sent to a candidate."""

    __tablename__ = "catalogue_deployments"
    alias: Mapped[str] = mapped_column(String(200), primary_key=True)
    primary_model: Mapped[str | None] = mapped_column(String(300))  # None: the configured upstream
    candidate_model: Mapped[str | None] = mapped_column(String(300))
    percent: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class CatalogueDeploymentChange(Base):
    """One change of an alias's deployment, with the state before and after, so a rollback can
    restore the previous one."""

    __tablename__ = "catalogue_deployment_changes"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    alias: Mapped[str] = mapped_column(String(200))
    ts: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(20))  # canary | promote | rollback
    before: Mapped[dict[str, Any]] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(200), default="")
    rolled_back: Mapped[bool] = mapped_column(Boolean, default=False)
    evaluation: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))

    __table_args__ = (Index("ix_catalogue_changes_alias_ts", "alias", "ts"),)


__all__ = ["CatalogueDeployment", "CatalogueDeploymentChange", "CatalogueModel"]
