"""SQL tables (SQLAlchemy 2): configuration state and the event ledger, SQLite or PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from steward.usage.histogram import BUCKETS as LATENCY_BUCKETS


class Base(DeclarativeBase):
    type_annotation_map = {
        dict[str, Any]: JSON,
        list[str]: JSON,
        list[int]: JSON,
        datetime: DateTime(timezone=True),
    }


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class TeamMember(Base):
    __tablename__ = "team_members"
    team_id: Mapped[str] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(40), default="member")


class App(Base):
    __tablename__ = "apps"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    description: Mapped[str] = mapped_column(Text, default="")
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    # inventory (migration 0006): what it is for, what data it may touch, how risky it is
    purpose: Mapped[str] = mapped_column(Text, default="")
    data_classes: Mapped[list[str] | None] = mapped_column(JSON, default=list)
    risk_tier: Mapped[str | None] = mapped_column(String(20))  # None: not yet classified
    managed: Mapped[bool] = mapped_column(Boolean, default=True)  # False: found by discovery


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    purpose: Mapped[str] = mapped_column(Text, default="")
    risk_tier: Mapped[str] = mapped_column(String(20), default="limited")
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    data_classes: Mapped[list[str] | None] = mapped_column(JSON, default=list)  # 0006
    # an optional executive sponsor (a user) beside the accountable owner (0008)
    sponsor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ServiceAccount(Base):
    __tablename__ = "service_accounts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    description: Mapped[str] = mapped_column(Text, default="")
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class ApiKey(Base):
    """A virtual key. Only its SHA-256 is stored; the key itself is shown once at creation."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(24))
    principal_type: Mapped[str] = mapped_column(String(20))  # user | app | agent | service
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    app_id: Mapped[str | None] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    service_account_id: Mapped[str | None] = mapped_column(
        ForeignKey("service_accounts.id", ondelete="CASCADE")
    )
    allowed_models: Mapped[list[str] | None] = mapped_column(JSON)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200), default="")


class AdminKey(Base):
    __tablename__ = "admin_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(24))
    role: Mapped[str] = mapped_column(String(20))  # admin | auditor
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class StateVersion(Base):
    """One row whose counter rises with every configuration change; processes poll it."""

    __tablename__ = "state_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]


class UsageEvent(Base):
    """One row per gateway request, written by the event shipper (idempotent on id)."""

    __tablename__ = "usage_events"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ts: Mapped[datetime]
    request_id: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str | None] = mapped_column(String(40))
    user_id: Mapped[str | None] = mapped_column(String(40))
    team_id: Mapped[str | None] = mapped_column(String(40))
    app_id: Mapped[str | None] = mapped_column(String(40))
    agent_id: Mapped[str | None] = mapped_column(String(40))
    service_account_id: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(200))
    upstream_model: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    stream: Mapped[bool] = mapped_column(Boolean, default=False)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float | None] = mapped_column(Numeric(18, 10))
    price_source: Mapped[str | None] = mapped_column(String(40))
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    overhead_ms: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[int] = mapped_column(Integer)
    error_type: Mapped[str | None] = mapped_column(String(80))
    tags: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    guard_action: Mapped[str | None] = mapped_column(String(20))  # strictest guard action taken
    end_user: Mapped[str | None] = mapped_column(String(200))  # the app's end user, if given
    # delegation (0008): the user an agent acted for, the agent's accountable owner, the chain
    # of acting agents (outermost first) and the delegation token's id
    on_behalf_of: Mapped[str | None] = mapped_column(String(40))
    owner_id: Mapped[str | None] = mapped_column(String(40))
    chain: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    token_id: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (
        Index("ix_usage_ts", "ts"),
        Index("ix_usage_team_ts", "team_id", "ts"),
        Index("ix_usage_key_ts", "key_id", "ts"),
        Index("ix_usage_agent_ts", "agent_id", "ts"),
        Index("ix_usage_on_behalf_of_ts", "on_behalf_of", "ts"),
    )


# -- usage rollups (migration 0004): totals per hour, day and month, kept up to date by the
# event shipper in the transaction that inserts the events, so reports never scan usage_events.
# Absent dimensions are '' (not NULL) so that the primary key works as an upsert target on both
# SQLite and PostgreSQL. Cost is an exact integer in units of 1e-10 USD (the ledger's precision).

ROLLUP_GRAINS = ("hour", "day", "month")
ROLLUP_SUMS = (
    "requests",
    "errors",  # status >= 400
    "blocked",  # refused or withheld by the guard
    "priced_requests",  # cost known
    "unpriced_requests",  # no price: served (status < 400) or consumed tokens, cost unknown
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "unpriced_input_tokens",
    "unpriced_output_tokens",
    "cost_usd_e10",
)
LATENCY_COLUMNS = tuple(f"lat_{i:02d}" for i in range(LATENCY_BUCKETS))  # successful requests


def _rollup_metrics() -> list[Column[Any]]:
    cols: list[Column[Any]] = [
        Column(name, BigInteger, nullable=False, server_default="0") for name in ROLLUP_SUMS
    ]
    cols.append(Column("latency_ms_total", Float, nullable=False, server_default="0"))
    cols += [
        Column(name, BigInteger, nullable=False, server_default="0") for name in LATENCY_COLUMNS
    ]
    return cols


def _dimension(name: str, length: int) -> Column[str]:
    return Column(name, String(length), primary_key=True)


usage_rollups = Table(
    "usage_rollups",
    Base.metadata,
    _dimension("grain", 5),  # hour | day | month
    Column("bucket", DateTime(timezone=True), primary_key=True),  # start of the hour/day/month
    _dimension("team_id", 40),
    _dimension("user_id", 40),
    _dimension("app_id", 40),
    _dimension("agent_id", 40),
    _dimension("service_account_id", 40),
    _dimension("key_id", 40),
    _dimension("model", 200),
    _dimension("provider", 200),
    _dimension("upstream_model", 200),
    *_rollup_metrics(),
    Index("ix_usage_rollups_key", "key_id", "grain", "bucket"),
)

# High-cardinality attributes (the app's end user, each tag) have their own rollup, one row per
# label value with a few low-cardinality dimensions, so they never multiply the main table; it
# keeps day and month rows only (end users would make hour rows nearly one per event).
usage_label_rollups = Table(
    "usage_label_rollups",
    Base.metadata,
    _dimension("grain", 5),
    Column("bucket", DateTime(timezone=True), primary_key=True),
    _dimension("label", 210),  # end_user | tag:<key>
    _dimension("value", 200),
    _dimension("team_id", 40),
    _dimension("app_id", 40),
    _dimension("model", 200),
    *_rollup_metrics(),
)


class GuardFinding(Base):
    """What a guard found in one place of one request: never the value, at most a keyed hash."""

    __tablename__ = "guard_findings"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ts: Mapped[datetime]
    request_id: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(10))  # input | output
    location: Mapped[str] = mapped_column(String(300))
    entity: Mapped[str] = mapped_column(String(60))
    data_class: Mapped[str] = mapped_column(String(20))
    detector: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(20))
    profile: Mapped[str] = mapped_column(String(100))
    count: Mapped[int] = mapped_column(Integer, default=1)
    value_hash: Mapped[str | None] = mapped_column(String(32))
    label: Mapped[str | None] = mapped_column(String(200))
    key_id: Mapped[str | None] = mapped_column(String(40))
    user_id: Mapped[str | None] = mapped_column(String(40))
    team_id: Mapped[str | None] = mapped_column(String(40))
    app_id: Mapped[str | None] = mapped_column(String(40))
    agent_id: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_finding_ts", "ts"),
        Index("ix_finding_request", "request_id"),
        Index("ix_finding_class_ts", "data_class", "ts"),
    )


class GuardDocument(Base):
    """A registered confidential document: only its winnowed fingerprints, never its text."""

    __tablename__ = "guard_documents"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    fingerprints: Mapped[list[int]] = mapped_column(JSON)
    words: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200), default="")


class AuditEvent(Base):
    """A decision or change: who, what, when, why. Written through the same spool as usage."""

    __tablename__ = "audit_events"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ts: Mapped[datetime]
    actor_type: Mapped[str] = mapped_column(String(20))  # key | admin | cli | system
    actor_id: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(80))
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(20))  # allowed | denied | succeeded | failed
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # who acted when an agent did (0008): the agent, on whose behalf, its accountable owner
    agent_id: Mapped[str | None] = mapped_column(String(40))
    on_behalf_of: Mapped[str | None] = mapped_column(String(40))
    owner_id: Mapped[str | None] = mapped_column(String(40))
    chain: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))

    __table_args__ = (
        Index("ix_audit_ts", "ts"),
        Index("ix_audit_action_ts", "action", "ts"),
        Index("ix_audit_agent_ts", "agent_id", "ts"),
    )


class Budget(Base):
    """A spending limit on a principal (or the whole organisation: scope `org`) over a UTC
    calendar period or a rolling window, optionally for one model alias or provider (0005).
    `target_id` is the principal's id; there is no foreign key because the kind varies."""

    __tablename__ = "budgets"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    scope: Mapped[str] = mapped_column(String(20))  # key | user | team | app | agent | org
    target_id: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(200))
    amount_usd: Mapped[float] = mapped_column(Numeric(18, 6))
    period: Mapped[str] = mapped_column(String(20))  # day | week | month | rolling
    window_s: Mapped[int | None] = mapped_column(Integer)
    alerts: Mapped[list[int]] = mapped_column(JSON)
    hard: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (Index("ix_budget_scope_target", "scope", "target_id"),)


__all__ = [
    "LATENCY_COLUMNS",
    "ROLLUP_GRAINS",
    "ROLLUP_SUMS",
    "AdminKey",
    "Agent",
    "ApiKey",
    "App",
    "AuditEvent",
    "Budget",
    "GuardDocument",
    "GuardFinding",
    "Base",
    "ServiceAccount",
    "StateVersion",
    "Team",
    "TeamMember",
    "UsageEvent",
    "User",
    "usage_label_rollups",
    "usage_rollups",
]
