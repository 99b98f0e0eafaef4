"""Trigger evaluation: which rules' conditions hold now, with the evidence. Each firing has a key
(what fired, e.g. `slo:chat-quality` or `upstream_error_rate:chat`) so that actions, cooldowns
and automatic reverts are tracked per rule and per key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from steward.remediation.settings import TriggerConfig
from steward.slo.burn import SEVERITY_RANK
from steward.slo.settings import SLOConfig, delta
from steward.slo.sli import resolve_app
from steward.store.models import GuardFinding, UsageEvent
from steward.store.models_slo import DriftEvent, SloState

_DRIFT_RANK = {"warn": 1, "alert": 2}


@dataclass(frozen=True, slots=True)
class Firing:
    """A trigger whose condition holds, with what it is about and why."""

    key: str
    model: str | None = None
    app_id: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


def _slo_burn(s: Session, t: TriggerConfig, slos: dict[str, SLOConfig]) -> list[Firing]:
    assert t.slo is not None
    row = s.get(SloState, t.slo)
    if row is None or row.state != "alerting" or row.severity is None:
        return []
    if SEVERITY_RANK[row.severity] < SEVERITY_RANK[t.severity or "page"]:
        return []
    slo = slos.get(t.slo)
    return [
        Firing(
            key=f"slo:{t.slo}",
            model=slo.model if slo else None,
            app_id=resolve_app(s, slo.app) if slo and slo.app else None,
            evidence={
                "trigger": "slo_burn",
                "severity": row.severity,
                "alerting_since": row.since,
                **(row.details or {}),
            },
        )
    ]


def _drift(s: Session, t: TriggerConfig, now: datetime) -> list[Firing]:
    d = DriftEvent
    since = now - delta(t.window or "1h")
    stmt = select(d).where(d.ts >= since, d.ts <= now).order_by(d.ts)
    if t.metric:
        stmt = stmt.where(d.metric == t.metric)
    if t.model:
        stmt = stmt.where(d.model == t.model)
    if t.app:
        stmt = stmt.where(d.app_id == resolve_app(s, t.app))
    least = _DRIFT_RANK[t.severity or "alert"]
    out: dict[str, Firing] = {}
    for ev in s.scalars(stmt):
        if _DRIFT_RANK.get(ev.severity, 0) < least:
            continue
        key = f"drift:{ev.app_id or '*'}:{ev.model or '*'}:{ev.metric}"
        out[key] = Firing(
            key=key,
            model=ev.model or None,
            app_id=ev.app_id or None,
            evidence={
                "trigger": "drift",
                "drift_event": ev.id,
                "metric": ev.metric,
                "test": ev.test,
                "statistic": ev.statistic,
                "threshold": ev.threshold,
                "p_value": ev.p_value,
                "severity": ev.severity,
                "baseline": {"start": ev.baseline_start, "end": ev.baseline_end,
                             "n": ev.baseline_n},
                "current": {"start": ev.current_start, "end": ev.current_end, "n": ev.current_n},
            },
        )  # fmt: skip
    return list(out.values())


def _scoped(stmt: Any, cols: Any, model: str | None, app_id: str | None) -> Any:
    if model:
        stmt = stmt.where(cols.model == model)
    if app_id:
        stmt = stmt.where(cols.app_id == app_id)
    return stmt


def _guard_spike(s: Session, t: TriggerConfig, now: datetime) -> list[Firing]:
    g = GuardFinding
    win, base = delta(t.window or "15m"), delta(t.baseline or "24h")
    app_id = resolve_app(s, t.app)

    def count(start: datetime, end: datetime) -> int:
        stmt = select(func.coalesce(func.sum(g.count), 0)).where(g.ts >= start, g.ts < end)
        if t.data_class:
            stmt = stmt.where(g.data_class == t.data_class)
        return int(s.scalar(_scoped(stmt, g, t.model, app_id)) or 0)

    current = count(now - win, now)
    baseline = count(now - win - base, now - win)
    expected = baseline * (win / base)
    factor = t.factor or 3.0
    if current < (t.minimum if t.minimum is not None else 20) or current < factor * expected:
        return []
    return [
        Firing(
            key=f"guard_spike:{app_id or '*'}:{t.model or '*'}:{t.data_class or '*'}",
            model=t.model,
            app_id=app_id,
            evidence={
                "trigger": "guard_spike",
                "findings": current,
                "expected": expected,
                "factor": factor,
                "window": t.window or "15m",
                "baseline": t.baseline or "24h",
            },
        )
    ]


def _cost_anomaly(s: Session, t: TriggerConfig, now: datetime) -> list[Firing]:
    u = UsageEvent
    win, base = delta(t.window or "1h"), delta(t.baseline or "7d")
    app_id = resolve_app(s, t.app)

    def cost(start: datetime, end: datetime) -> float:
        stmt = select(func.coalesce(func.sum(u.cost_usd), 0)).where(u.ts >= start, u.ts < end)
        return float(s.scalar(_scoped(stmt, u, t.model, app_id)) or 0)

    current = cost(now - win, now)
    expected = cost(now - win - base, now - win) * (win / base)
    factor = t.factor or 3.0
    if current < (t.minimum if t.minimum is not None else 1.0) or current < factor * expected:
        return []
    return [
        Firing(
            key=f"cost_anomaly:{app_id or '*'}:{t.model or '*'}",
            model=t.model,
            app_id=app_id,
            evidence={
                "trigger": "cost_anomaly",
                "cost_usd": current,
                "expected_usd": expected,
                "factor": factor,
                "window": t.window or "1h",
                "baseline": t.baseline or "7d",
            },
        )
    ]


def _upstream_errors(s: Session, t: TriggerConfig, now: datetime) -> list[Firing]:
    u = UsageEvent
    window = t.window or "5m"
    stmt = (
        select(u.model, func.count(), func.sum(case((u.status >= 500, 1), else_=0)))
        .where(u.ts >= now - delta(window), u.ts < now, u.model.is_not(None))
        .group_by(u.model)
    )
    if t.model:
        stmt = stmt.where(u.model == t.model)
    threshold = t.threshold or 0.2
    minimum = t.minimum if t.minimum is not None else 20
    out = []
    for model, total, bad in s.execute(stmt):
        total, bad = int(total), int(bad or 0)
        if total >= minimum and bad / total >= threshold:
            out.append(
                Firing(
                    key=f"upstream_error_rate:{model}",
                    model=model,
                    evidence={
                        "trigger": "upstream_error_rate",
                        "requests": total,
                        "errors": bad,
                        "error_rate": bad / total,
                        "threshold": threshold,
                        "window": window,
                    },
                )
            )
    return out


def evaluate_trigger(
    session: Session, trigger: TriggerConfig, now: datetime, slos: dict[str, SLOConfig]
) -> list[Firing]:
    """Every firing of the trigger at `now` (none: its condition is clear)."""
    if trigger.kind == "slo_burn":
        return _slo_burn(session, trigger, slos)
    if trigger.kind == "drift":
        return _drift(session, trigger, now)
    if trigger.kind == "guard_spike":
        return _guard_spike(session, trigger, now)
    if trigger.kind == "cost_anomaly":
        return _cost_anomaly(session, trigger, now)
    return _upstream_errors(session, trigger, now)


__all__ = ["Firing", "evaluate_trigger"]
