"""One drift pass: for each scope with traffic, compare the current window with the baseline on
every configured metric, store a drift event for each difference (unless the same scope and
metric had one within `repeat_after`) and audit it as `drift.detected`."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from steward.drift import sources
from steward.drift.compare import Drift, continuous, embeddings, rate
from steward.drift.settings import DriftSettings
from steward.drift.sources import Scope, Window
from steward.events.ids import new_id
from steward.slo.audit import add_audit
from steward.slo.settings import delta
from steward.store.models_slo import DriftEvent

log = logging.getLogger("steward.drift")

# texts -> one embedding per text; None when the embedding extra is not installed
Embed = Callable[[Sequence[str]], Sequence[Sequence[float]]]


def windows(cfg: DriftSettings, now: datetime) -> tuple[Window, Window]:
    """(baseline, current): the current window ends now, the baseline ends where it starts."""
    cur_start = now - delta(cfg.current)
    return Window(cur_start - delta(cfg.baseline), cur_start), Window(cur_start, now)


def _seed(scope: Scope, now: datetime) -> int:
    """A reproducible permutation seed per scope and instant."""
    text = f"{scope.app_id}|{scope.model}|{now.isoformat()}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=4).digest(), "big")


def compare_scope(
    session: Session,
    cfg: DriftSettings,
    scope: Scope,
    base: Window,
    cur: Window,
    embed: Embed | None = None,
) -> list[Drift]:
    """Every metric of one scope that drifted between the two windows."""
    want = set(cfg.metrics)
    found: list[Drift | None] = []
    if want & {"latency", "answer_length", "error_rate", "finding_rate"}:
        ub = sources.usage_sample(session, scope, base, cfg.max_samples)
        uc = sources.usage_sample(session, scope, cur, cfg.max_samples)
        if "latency" in want:
            found.append(continuous("latency", ub.latency, uc.latency, cfg))
        if "answer_length" in want:
            found.append(continuous("answer_length", ub.answer_length, uc.answer_length, cfg))
        if "error_rate" in want:
            errors = rate("error_rate", (ub.requests, ub.errors), (uc.requests, uc.errors), cfg)
            found.append(errors)
        if "finding_rate" in want:
            fb = sources.finding_requests(session, scope, base)
            fc = sources.finding_requests(session, scope, cur)
            found.append(rate("finding_rate", (ub.requests, fb), (uc.requests, fc), cfg))
    if "refusal_rate" in want:
        found.append(
            rate(
                "refusal_rate",
                sources.refusals(session, scope, base),
                sources.refusals(session, scope, cur),
                cfg,
            )
        )
    if "eval_score" in want:
        sb = sources.eval_scores(session, scope, base, cfg.max_samples)
        sc = sources.eval_scores(session, scope, cur, cfg.max_samples)
        for name in sorted(set(sb) & set(sc)):
            found.append(continuous(f"score:{name}", sb[name], sc[name], cfg))
    if "prompt_embedding" in want and embed is not None and _ready(embed):
        pb = sources.prompts(session, scope, base, cfg.embedding_samples)
        pc = sources.prompts(session, scope, cur, cfg.embedding_samples)
        if min(len(pb), len(pc)) >= 10:
            found.append(
                embeddings("prompt_embedding", embed(pb), embed(pc), cfg, _seed(scope, cur.end))
            )
    return [d for d in found if d is not None]


def _ready(embed: Embed) -> bool:
    """Whether an encoder that may load lazily (`available()`) can embed now."""
    available = getattr(embed, "available", None)
    return bool(available()) if callable(available) else True


def _recent(session: Session, scope: Scope, metric: str, since: datetime) -> bool:
    d = DriftEvent
    return (
        session.scalar(
            select(d.id)
            .where(
                d.app_id == scope.app_id, d.model == scope.model, d.metric == metric, d.ts >= since
            )
            .limit(1)
        )
        is not None
    )


def _event(scope: Scope, drift: Drift, base: Window, cur: Window, now: datetime) -> DriftEvent:
    return DriftEvent(
        id=new_id(),
        ts=now,
        app_id=scope.app_id,
        model=scope.model,
        metric=drift.metric,
        test=drift.test,
        statistic=drift.statistic,
        threshold=drift.threshold,
        p_value=drift.p_value,
        severity=drift.severity,
        baseline_start=base.start,
        baseline_end=base.end,
        current_start=cur.start,
        current_end=cur.end,
        baseline_n=drift.baseline_n,
        current_n=drift.current_n,
        details=drift.details,
    )


def event_evidence(ev: DriftEvent) -> dict[str, Any]:
    """The drift event as audit/notification evidence."""
    return {
        "drift_event": ev.id,
        "app_id": ev.app_id or None,
        "model": ev.model or None,
        "metric": ev.metric,
        "test": ev.test,
        "statistic": ev.statistic,
        "threshold": ev.threshold,
        "p_value": ev.p_value,
        "severity": ev.severity,
        "baseline": {"start": ev.baseline_start, "end": ev.baseline_end, "n": ev.baseline_n},
        "current": {"start": ev.current_start, "end": ev.current_end, "n": ev.current_n},
    }


def run_drift(
    sessions: sessionmaker[Session],
    cfg: DriftSettings,
    now: datetime,
    embed: Embed | None = None,
) -> list[DriftEvent]:
    """Compare every scope and store (and audit) the new drift events; returns them."""
    base, cur = windows(cfg, now)
    created: list[DriftEvent] = []
    with sessions() as s:
        scope_list = sources.scopes(s, cur, cfg.by)
    repeat = now - delta(cfg.repeat_after)
    for scope in scope_list:
        with sessions() as s, s.begin():
            for drift in compare_scope(s, cfg, scope, base, cur, embed):
                if _recent(s, scope, drift.metric, repeat):
                    continue
                ev = _event(scope, drift, base, cur, now)
                s.add(ev)
                add_audit(
                    s,
                    now,
                    "drift.detected",
                    target_type="model" if scope.model else "app",
                    target_id=scope.model or scope.app_id,
                    reason=(
                        f"{drift.metric} of {scope.label()} drifted: {drift.test} "
                        f"{drift.statistic:.4g} vs threshold {drift.threshold:.4g} "
                        f"({drift.baseline_n} baseline, {drift.current_n} current values)"
                    ),
                    details=event_evidence(ev),
                )
                created.append(ev)
    if created:
        log.info("drift: %d new event(s)", len(created))
    return created


__all__ = ["Embed", "compare_scope", "event_evidence", "run_drift", "windows"]
