"""Service level indicators counted from the store: good and bad events per window, for all the
windows of one SLO in a single query (conditional sums over the longest window).

- availability: usage events; bad = status >= 500.
- latency: usage events answered successfully (status < 400); bad = latency_ms > threshold.
- quality: live evaluation records (engineer E's `eval_records`, run_id NULL) labelled pass or
  fail; bad = fail (records labelled error are not counted either way).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Float,
    Integer,
    String,
    and_,
    case,
    column,
    func,
    or_,
    select,
    table,
)
from sqlalchemy.orm import Session

from steward.slo.settings import SLOConfig, delta
from steward.store.models import App, UsageEvent

# E's evaluation records, by name only: no import dependency on the evals package
eval_records = table(
    "eval_records",
    column("ts", DateTime(timezone=True)),
    column("name", String),
    column("evaluator", String),
    column("score_value", Float),
    column("score_label", String),
    column("app_id", String),
    column("model", String),
    column("run_id", String),
    column("item_index", Integer),
    column("sample_id", String),
)


@dataclass(frozen=True, slots=True)
class WindowCount:
    """Events in the window that ends now and lasts `duration`."""

    duration: str
    total: int
    bad: int

    @property
    def bad_share(self) -> float | None:
        return None if self.total == 0 else self.bad / self.total


def resolve_app(session: Session, ref: str | None) -> str | None:
    """An app name or id to its id; an unknown app maps to itself (it matches no events)."""
    if ref is None:
        return None
    found = session.scalar(select(App.id).where(or_(App.id == ref, App.name == ref)))
    return found or ref


def _source(slo: SLOConfig, app_id: str | None) -> tuple[Any, Any, ColumnElement[bool], Any]:
    """(table, timestamp column, filter, bad condition) for the SLO's kind."""
    if slo.kind == "quality":
        t = eval_records.c
        cond = and_(t.run_id.is_(None), t.score_label.in_(("pass", "fail")))
        if slo.evaluator is not None:
            cond = and_(cond, t.name == slo.evaluator)
        if app_id is not None:
            cond = and_(cond, t.app_id == app_id)
        if slo.model is not None:
            cond = and_(cond, t.model == slo.model)
        return eval_records, t.ts, cond, t.score_label == "fail"
    u = UsageEvent
    conds: list[ColumnElement[bool]] = []
    if app_id is not None:
        conds.append(u.app_id == app_id)
    if slo.model is not None:
        conds.append(u.model == slo.model)
    if slo.kind == "availability":
        bad: ColumnElement[bool] = u.status >= 500
    else:
        conds.append(u.status < 400)
        assert slo.latency_threshold_ms is not None
        bad = u.latency_ms > slo.latency_threshold_ms
    return UsageEvent.__table__, u.ts, and_(True, *conds), bad


def windows_of(slo: SLOConfig) -> list[str]:
    """Every window the SLO needs (its budget window and each alert's two), longest first."""
    names = {slo.window}
    for alert in slo.alerts:
        names.update((alert.long, alert.short))
    return sorted(names, key=lambda d: delta(d), reverse=True)


def count_windows(
    session: Session, slo: SLOConfig, now: datetime, app_id: str | None = None
) -> dict[str, WindowCount]:
    """Good and bad events of every window of the SLO, ending at `now` (exclusive).

    The windows all end now, so they nest: one pass groups the events into disjoint rings
    between consecutive window starts (one CASE per row), and the windows are cumulative sums
    of the rings, shortest first."""
    names = windows_of(slo)  # longest first
    src, ts, cond, bad = _source(slo, app_id)
    starts = [now - delta(name) for name in names]
    ring = case(
        *[(ts >= start, i) for i, start in reversed(list(enumerate(starts)))], else_=-1
    ).label("ring")
    rows = session.execute(
        select(ring, func.count(), func.sum(case((bad, 1), else_=0)))
        .select_from(src)
        .where(cond, ts >= starts[0], ts < now)
        .group_by(ring)
    ).all()
    per_ring = {int(r[0]): (int(r[1]), int(r[2] or 0)) for r in rows}
    out: dict[str, WindowCount] = {}
    total = bad_total = 0
    for i in range(len(names) - 1, -1, -1):  # shortest window first, accumulating outwards
        t, b = per_ring.get(i, (0, 0))
        total, bad_total = total + t, bad_total + b
        out[names[i]] = WindowCount(names[i], total, bad_total)
    return {name: out[name] for name in names}


__all__ = ["WindowCount", "count_windows", "eval_records", "resolve_app", "windows_of"]
