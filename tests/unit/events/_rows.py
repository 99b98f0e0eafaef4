"""Row factories and store queries shared by the event tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select

from steward.events.ids import new_id
from steward.store.models import AuditEvent, UsageEvent


def usage_row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": new_id(),
        "ts": datetime.now(UTC),
        "request_id": "req_" + new_id(),
        "endpoint": "chat.completions",
        "key_id": "key_1",
        "team_id": "team_1",
        "model": "gpt-4o-mini",
        "provider": "openai",
        "input_tokens": 12,
        "output_tokens": 34,
        "cost_usd": Decimal("0.0001234500"),
        "latency_ms": 12.5,
        "status": 200,
        "tags": {"env": "test"},
    }
    row.update(overrides)
    return row


def audit_row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": new_id(),
        "ts": datetime.now(UTC),
        "actor_type": "key",
        "actor_id": "key_1",
        "action": "gateway.authorize",
        "outcome": "denied",
        "reason": "model not allowed",
        "details": {"code": "model_not_allowed"},
    }
    row.update(overrides)
    return row


def usage_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(select(UsageEvent.id)))


def audit_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(select(AuditEvent.id)))


def count(engine: Engine, model: type[UsageEvent] | type[AuditEvent]) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(model)) or 0)
