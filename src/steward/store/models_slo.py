"""Tables of SLOs, drift and remediation (migration 0012): alert state per SLO, drift events,
remediation actions (proposed, applied, reverted), runtime overrides that reach the gateways
through the snapshot, and the scheduler's runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from steward.store.models import Base


class SloState(Base):
    """The alerting state of one SLO, updated by every evaluation."""

    __tablename__ = "slo_states"
    slo: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str] = mapped_column(String(20), default="ok")  # ok | alerting
    severity: Mapped[str | None] = mapped_column(String(20))  # page | ticket while alerting
    since: Mapped[datetime | None]  # when the current state began
    evaluated_at: Mapped[datetime]
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class DriftEvent(Base):
    """A metric of one app/model whose current window differs from its baseline."""

    __tablename__ = "drift_events"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ts: Mapped[datetime]
    app_id: Mapped[str] = mapped_column(String(40), default="")  # '' : every app
    model: Mapped[str] = mapped_column(String(200), default="")  # '' : every model
    metric: Mapped[str] = mapped_column(String(60))
    test: Mapped[str] = mapped_column(String(20))  # psi | ks | rate | permutation
    statistic: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    p_value: Mapped[float | None] = mapped_column(Float)
    severity: Mapped[str] = mapped_column(String(20))  # warn | alert
    baseline_start: Mapped[datetime]
    baseline_end: Mapped[datetime]
    current_start: Mapped[datetime]
    current_end: Mapped[datetime]
    baseline_n: Mapped[int] = mapped_column(Integer)
    current_n: Mapped[int] = mapped_column(Integer)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))

    __table_args__ = (
        Index("ix_drift_ts", "ts"),
        Index("ix_drift_scope_metric_ts", "app_id", "model", "metric", "ts"),
    )


class RemediationAction(Base):
    """One action a rule took or proposes, with the evidence that triggered it."""

    __tablename__ = "remediation_actions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    rule: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(40))  # slo_burn | drift | guard_spike | ...
    trigger_key: Mapped[str] = mapped_column(String(400))  # what fired, e.g. slo:chat-quality
    action: Mapped[str] = mapped_column(String(40))  # notify | reroute | raise_sampling | ...
    target_type: Mapped[str | None] = mapped_column(String(20))  # model | app | agent
    target_id: Mapped[str | None] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(20))  # auto | propose
    # proposed | applied | reverted | rejected | failed | expired
    status: Mapped[str] = mapped_column(String(20))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime]
    applied_at: Mapped[datetime | None]
    reverted_at: Mapped[datetime | None]
    cleared_at: Mapped[datetime | None]  # when the triggering condition last cleared
    decided_by: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_remediation_rule_key", "rule", "trigger_key", "created_at"),
        Index("ix_remediation_status", "status"),
    )


class RuntimeOverride(Base):
    """A change remediation made to how the gateways behave (reroute an alias, a stricter guard
    profile, a higher sampling rate, approval for an agent's tools), read into the snapshot."""

    __tablename__ = "runtime_overrides"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # routing | guard | sampling | approval
    target: Mapped[str] = mapped_column(String(200))  # alias, app id, agent id, scope
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    action_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (UniqueConstraint("kind", "target", name="uq_override_kind_target"),)


class SloRun(Base):
    """One pass of the scheduler: who ran it, when, and what it found."""

    __tablename__ = "slo_runs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))  # host:pid of the replica that ran it
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))

    __table_args__ = (Index("ix_slo_runs_started", "started_at"),)


__all__ = ["DriftEvent", "RemediationAction", "RuntimeOverride", "SloRun", "SloState"]
