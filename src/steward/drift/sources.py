"""What drift compares, read from the store for one scope and one window: usage events (latency,
answer length, errors), guard findings, evaluation records and sampled prompts (engineer E's
`eval_records` and `eval_samples`, referenced by name so this package does not import theirs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Float,
    String,
    and_,
    case,
    column,
    distinct,
    func,
    select,
    table,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from steward.slo.sli import eval_records
from steward.store.models import GuardFinding, UsageEvent

eval_samples = table(
    "eval_samples",
    column("ts", DateTime(timezone=True)),
    column("app_id", String),
    column("model", String),
    column("messages", JSON),
    column("latency_ms", Float),
)


@dataclass(frozen=True, slots=True)
class Scope:
    """What is compared: one model alias (app '') or one app (model '')."""

    app_id: str = ""
    model: str = ""

    def label(self) -> str:
        parts = []
        if self.app_id:
            parts.append(f"app={self.app_id}")
        if self.model:
            parts.append(f"model={self.model}")
        return " ".join(parts) or "all"


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime


def _filter(cols: Any, scope: Scope, window: Window) -> ColumnElement[bool]:
    cond = and_(cols.ts >= window.start, cols.ts < window.end)
    if scope.app_id:
        cond = and_(cond, cols.app_id == scope.app_id)
    if scope.model:
        cond = and_(cond, cols.model == scope.model)
    return cond


def scopes(session: Session, window: Window, by: Sequence[str]) -> list[Scope]:
    """Every model and/or app with traffic in the window."""
    out: list[Scope] = []
    u = UsageEvent
    live = and_(u.ts >= window.start, u.ts < window.end)
    if "model" in by:
        models = session.scalars(select(u.model).distinct().where(live, u.model.is_not(None)))
        out += [Scope(model=m) for m in sorted(m for m in models if m)]
    if "app" in by:
        apps = session.scalars(select(u.app_id).distinct().where(live, u.app_id.is_not(None)))
        out += [Scope(app_id=a) for a in sorted(a for a in apps if a)]
    return out


@dataclass(frozen=True, slots=True)
class UsageSample:
    latency: list[float]  # successful requests
    answer_length: list[float]  # output tokens of successful requests
    requests: int
    errors: int  # status >= 500


def usage_sample(session: Session, scope: Scope, window: Window, limit: int) -> UsageSample:
    """The most recent `limit` successful requests' latency and length, and error counts."""
    u = UsageEvent
    cond = _filter(u, scope, window)
    rows = session.execute(
        select(u.latency_ms, u.output_tokens)
        .where(cond, u.status < 400)
        .order_by(u.ts.desc())
        .limit(limit)
    ).all()
    requests, errors = session.execute(
        select(func.count(), func.sum(case((u.status >= 500, 1), else_=0))).where(cond)
    ).one()
    return UsageSample(
        latency=[float(r[0]) for r in rows],
        answer_length=[float(r[1]) for r in rows],
        requests=int(requests or 0),
        errors=int(errors or 0),
    )


def finding_requests(session: Session, scope: Scope, window: Window) -> int:
    """Requests with at least one guard finding in the window."""
    g = GuardFinding
    return int(
        session.scalar(select(func.count(distinct(g.request_id))).where(_filter(g, scope, window)))
        or 0
    )


def _optional(session: Session, stmt: Any) -> list[Any]:
    """Rows of a query on E's tables; none when those tables do not exist (yet)."""
    try:
        with session.begin_nested():
            return list(session.execute(stmt).all())
    except SQLAlchemyError:
        return []


def eval_scores(
    session: Session, scope: Scope, window: Window, limit: int
) -> dict[str, list[float]]:
    """Scores of live evaluation records per evaluation name."""
    e = eval_records.c
    rows = _optional(
        session,
        select(e.name, e.score_value)
        .where(_filter(e, scope, window), e.run_id.is_(None), e.score_value.is_not(None))
        .order_by(e.ts.desc())
        .limit(limit),
    )
    out: dict[str, list[float]] = {}
    for name, value in rows:
        out.setdefault(str(name), []).append(float(value))
    return out


def refusals(session: Session, scope: Scope, window: Window) -> tuple[int, int]:
    """(answers checked by the refusal evaluator, answers it labelled fail)."""
    e = eval_records.c
    rows = _optional(
        session,
        select(func.count(), func.sum(case((e.score_label == "fail", 1), else_=0))).where(
            _filter(e, scope, window),
            e.run_id.is_(None),
            e.evaluator == "refusal",
            e.score_label.in_(("pass", "fail")),
        ),
    )
    if not rows:
        return 0, 0
    return int(rows[0][0] or 0), int(rows[0][1] or 0)


def prompts(session: Session, scope: Scope, window: Window, limit: int) -> list[str]:
    """The last user message of the most recent sampled requests (redacted by E's capture)."""
    s = eval_samples.c
    rows = _optional(
        session,
        select(s.messages).where(_filter(s, scope, window)).order_by(s.ts.desc()).limit(limit),
    )
    out: list[str] = []
    for (messages,) in rows:
        text = _last_user_text(messages)
        if text:
            out.append(text)
    return out


def _last_user_text(messages: Any) -> str:
    if not isinstance(messages, list):
        return ""
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(
                    str(p.get("text", "")) for p in content if isinstance(p, dict)
                ).strip()
    return ""


__all__ = [
    "Scope",
    "UsageSample",
    "Window",
    "eval_samples",
    "eval_scores",
    "finding_requests",
    "prompts",
    "refusals",
    "scopes",
    "usage_sample",
]
