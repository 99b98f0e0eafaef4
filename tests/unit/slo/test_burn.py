"""Burn rates, error budgets and multi-window alerts, from window counts and from the store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from steward.slo.burn import assess, burn_bound, burn_rate
from steward.slo.evaluate import evaluate_all, evaluate_slo
from steward.slo.settings import SLOConfig
from steward.slo.sli import WindowCount, windows_of
from steward.store.models import AuditEvent
from steward.store.models_slo import SloState
from tests.unit.slo.conftest import T0


def test_burn_rate_known_values() -> None:
    # 2% bad against a 99% objective burns twice the sustainable rate
    assert burn_rate(2, 100, 0.99) == pytest.approx(2.0)
    # 14.4x on a 99.9% objective is 1.44% bad
    assert burn_rate(144, 10_000, 0.999) == pytest.approx(14.4)
    assert burn_rate(0, 0, 0.99) is None


def test_burn_bound_is_the_lower_confidence_bound() -> None:
    point = burn_rate(8, 10, 0.5)
    low = burn_bound(8, 10, 0.5, "wilson", 0.95)
    assert point == pytest.approx(1.6)
    assert low == pytest.approx(0.4902 / 0.5, abs=1e-3)
    assert burn_bound(8, 10, 0.5, "none", 0.95) == pytest.approx(1.6)
    assert burn_bound(8, 10, 0.5, "clopper_pearson", 0.95) < low


def _slo(**kw: object) -> SLOConfig:
    base: dict[str, object] = {"name": "avail", "kind": "availability", "objective": 0.99}
    base.update(kw)
    return SLOConfig.model_validate(base)


def _counts(slo: SLOConfig, values: dict[str, tuple[int, int]]) -> dict[str, WindowCount]:
    return {d: WindowCount(d, *values.get(d, (1000, 0))) for d in windows_of(slo)}


def test_both_windows_must_exceed() -> None:
    slo = _slo()
    # 1h burning at 20x but the last 5 minutes clean: the incident is over, no page
    status = assess(slo, _counts(slo, {"1h": (1000, 200), "5m": (100, 0)}))
    assert status.severity is None
    status = assess(slo, _counts(slo, {"1h": (1000, 200), "5m": (100, 20)}))
    assert status.severity == "page"
    assert [(c.alert.long, c.alert.short) for c in status.firing] == [("1h", "5m")]


def test_minimum_volume_guard() -> None:
    slo = _slo(min_events=30)
    status = assess(slo, _counts(slo, {"1h": (29, 29), "5m": (29, 29)}))
    assert status.severity is None
    assert "29 events < 30" in status.checks[0].why


def test_sampled_quality_alerts_on_lower_bound_only() -> None:
    slo = _slo(kind="quality", objective=0.9, alerts=[{"long": "1h", "short": "5m", "factor": 2}])
    # 30% bad of 40 evaluated: point burn 3x, but the Wilson lower bound (0.181) is 1.81x
    status = assess(slo, _counts(slo, {"1h": (40, 12), "5m": (40, 12)}))
    assert status.windows["1h"].burn == pytest.approx(3.0)
    assert status.severity is None
    status = assess(slo, _counts(slo, {"1h": (400, 120), "5m": (400, 120)}))
    assert status.severity == "page"


def test_budget_left() -> None:
    slo = _slo(objective=0.97)
    status = assess(slo, _counts(slo, {"28d": (10_000, 150)}))
    assert status.sli == pytest.approx(0.985)
    assert status.budget_left == pytest.approx(0.5)  # 150 of 300 allowed bad events


def test_config_validation() -> None:
    with pytest.raises(ValidationError, match="latency_threshold_ms"):
        _slo(kind="latency")
    with pytest.raises(ValidationError, match="shorter"):
        _slo(alerts=[{"long": "5m", "short": "1h", "factor": 2}])
    with pytest.raises(ValidationError, match="duration"):
        _slo(window="soon")
    with pytest.raises(ValidationError):
        _slo(objective=1.0)


def test_counts_from_usage_events(
    sessions: sessionmaker[Session], add_usage: Callable[..., None]
) -> None:
    now = T0 + timedelta(days=1)
    add_usage(now - timedelta(minutes=2), n=10, status=200)
    add_usage(now - timedelta(minutes=3), n=5, status=503)
    add_usage(now - timedelta(minutes=3), n=5, status=429)  # not 5xx: good for availability
    add_usage(now - timedelta(minutes=40), n=20, status=500)
    add_usage(now - timedelta(minutes=40), n=20, status=200, model="other")
    add_usage(now + timedelta(minutes=1), n=7, status=500)  # the future is not counted
    slo = _slo(model="chat", min_events=10)
    with sessions() as s:
        status = evaluate_slo(s, slo, now)
    assert (status.windows["5m"].total, status.windows["5m"].bad) == (20, 5)
    assert (status.windows["1h"].total, status.windows["1h"].bad) == (40, 25)
    assert status.severity == "page"


def test_latency_sli_counts_successful_requests_only(
    sessions: sessionmaker[Session], add_usage: Callable[..., None]
) -> None:
    now = T0 + timedelta(days=1)
    add_usage(now - timedelta(minutes=1), n=6, latency_ms=100.0)
    add_usage(now - timedelta(minutes=1), n=4, latency_ms=900.0)
    add_usage(now - timedelta(minutes=1), n=3, status=500, latency_ms=5000.0)
    slo = _slo(kind="latency", latency_threshold_ms=500)
    with sessions() as s:
        status = evaluate_slo(s, slo, now)
    assert (status.windows["5m"].total, status.windows["5m"].bad) == (10, 4)


def test_state_transitions_are_audited(
    sessions: sessionmaker[Session], add_usage: Callable[..., None]
) -> None:
    slo = _slo(min_events=10)
    now = T0 + timedelta(days=1)
    add_usage(now - timedelta(minutes=2), n=50, status=503)
    _, transitions = evaluate_all(sessions, [slo], now)
    assert [t.event for t in transitions] == ["slo.alert"]
    _, again = evaluate_all(sessions, [slo], now + timedelta(seconds=30))
    assert again == []  # same severity: no new event
    later = now + timedelta(days=4)
    _, resolved = evaluate_all(sessions, [slo], later)
    assert [t.event for t in resolved] == ["slo.resolved"]
    with sessions() as s:
        state = s.get(SloState, "avail")
        assert state is not None and state.state == "ok"
        actions = [a.action for a in s.query(AuditEvent).order_by(AuditEvent.ts)]
        alert = s.query(AuditEvent).filter_by(action="slo.alert").one()
    assert actions == ["slo.alert", "slo.resolved"]
    assert alert.details is not None
    assert alert.details["windows"]["5m"]["bad"] == 50
    assert alert.details["firing"][0]["factor"] == 14.4
