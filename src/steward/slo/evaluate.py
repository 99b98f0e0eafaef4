"""Evaluate every configured SLO at one instant: count its windows, assess burn rates, and keep
its alerting state in the store. A change of state (ok -> alerting, a change of severity,
alerting -> ok) is an audit event (`slo.alert`, `slo.resolved`) and a notification."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from steward.slo.audit import add_audit, jsonable
from steward.slo.burn import SloStatus, assess
from steward.slo.settings import SLOConfig
from steward.slo.sli import count_windows, resolve_app
from steward.store.models_slo import SloState


@dataclass(frozen=True, slots=True)
class Transition:
    """An SLO whose alerting state changed in this evaluation."""

    slo: str
    event: str  # slo.alert | slo.resolved
    status: SloStatus


def evaluate_slo(session: Session, slo: SLOConfig, now: datetime) -> SloStatus:
    """The SLO's status at `now` (read only)."""
    return assess(slo, count_windows(session, slo, now, resolve_app(session, slo.app)))


def _transition(row: SloState | None, status: SloStatus) -> str | None:
    was = row.severity if row is not None and row.state == "alerting" else None
    now_sev = status.severity
    if now_sev == was:
        return None
    return "slo.resolved" if now_sev is None else "slo.alert"


def _store(session: Session, row: SloState | None, status: SloStatus, now: datetime) -> None:
    state = "alerting" if status.severity else "ok"
    details: dict[str, Any] = jsonable(status.evidence())
    if row is None:
        session.add(
            SloState(
                slo=status.name,
                state=state,
                severity=status.severity,
                since=now,
                evaluated_at=now,
                details=details,
            )
        )
        return
    if row.state != state or row.severity != status.severity:
        row.since = now
    row.state, row.severity, row.evaluated_at, row.details = (
        state,
        status.severity,
        now,
        details,
    )


def evaluate_all(
    sessions: sessionmaker[Session], slos: Sequence[SLOConfig], now: datetime
) -> tuple[list[SloStatus], list[Transition]]:
    """Evaluate each SLO, persist its state and audit its transitions (one transaction per SLO,
    so one failing SLO does not hold back the others)."""
    statuses: list[SloStatus] = []
    transitions: list[Transition] = []
    for slo in slos:
        with sessions() as s, s.begin():
            status = evaluate_slo(s, slo, now)
            row = s.get(SloState, slo.name)
            event = _transition(row, status)
            _store(s, row, status, now)
            if event is not None:
                firing = status.firing
                reason = (
                    "; ".join(c.why for c in firing)
                    if firing
                    else "no burn-rate alert exceeds its factor any more"
                )
                add_audit(
                    s,
                    now,
                    event,
                    target_type="slo",
                    target_id=slo.name,
                    reason=reason,
                    details={**status.evidence(), "severity": status.severity},
                )
                transitions.append(Transition(slo.name, event, status))
        statuses.append(status)
    return statuses, transitions


def slo_states(session: Session) -> dict[str, SloState]:
    """Every stored SLO state by name."""
    return {row.slo: row for row in session.query(SloState)}


__all__ = ["Transition", "evaluate_all", "evaluate_slo", "slo_states"]
