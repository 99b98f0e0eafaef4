"""Drift between a baseline and the current window, on store rows."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from steward.drift.compare import continuous, embeddings, rate, two_proportion_p
from steward.drift.detect import run_drift, windows
from steward.drift.settings import DriftSettings
from steward.events.ids import new_id
from steward.store.models import AuditEvent, GuardFinding
from steward.store.models_slo import DriftEvent
from tests.unit.slo.conftest import T0, usage_row

NOW = T0 + timedelta(days=2)
CFG = DriftSettings(
    current="1h",
    baseline="6h",
    min_samples=100,
    metrics=["latency", "answer_length", "error_rate", "finding_rate"],
)


def test_two_proportion_known_value() -> None:
    # z = 0.1 / sqrt(0.15 * 0.85 * 0.02) = 1.9803; two-sided p = 0.04767
    assert two_proportion_p(10, 100, 20, 100) == pytest.approx(0.04767, abs=1e-4)
    assert two_proportion_p(0, 100, 0, 100) == 1.0


def test_continuous_needs_volume_psi_and_ks() -> None:
    rng = np.random.default_rng(0)
    base = rng.lognormal(5, 0.3, 500).tolist()
    assert continuous("latency", base, rng.lognormal(5, 0.3, 500).tolist(), CFG) is None
    shifted = continuous("latency", base, rng.lognormal(5.5, 0.3, 500).tolist(), CFG)
    assert shifted is not None and shifted.severity == "alert" and shifted.statistic >= 0.25
    assert shifted.p_value is not None and shifted.p_value < 0.01
    # the same shift on fewer than min_samples values is not an event
    assert continuous("latency", base, rng.lognormal(5.5, 0.3, 99).tolist(), CFG) is None


def test_rate_needs_significance_and_minimum_change() -> None:
    assert rate("error_rate", (1000, 10), (1000, 60), CFG) is not None
    assert rate("error_rate", (1000, 10), (1000, 25), CFG) is None  # 1.5 points < 2
    assert rate("error_rate", (50, 0), (50, 10), CFG) is None  # too few events


def test_embedding_drift() -> None:
    rng = np.random.default_rng(2)
    base = rng.normal(0, 1, (40, 16)).tolist()
    same = rng.normal(0, 1, (40, 16)).tolist()
    moved = rng.normal(0.8, 1, (40, 16)).tolist()
    assert embeddings("prompt_embedding", base, same, CFG, seed=1) is None
    found = embeddings("prompt_embedding", base, moved, CFG, seed=1)
    assert found is not None and found.test == "permutation"


def test_settings_validation() -> None:
    with pytest.raises(ValidationError, match="psi_warn"):
        DriftSettings(psi_warn=0.3, psi_alert=0.2)
    with pytest.raises(ValidationError, match="baseline"):
        DriftSettings(current="2d", baseline="1d")


def _fill(
    sessions: sessionmaker[Session],
    minutes: range,
    per_minute: int,
    rng: np.random.Generator,
    *,
    end: datetime = NOW,
    latency_mu: float = 5.0,
    error_p: float = 0.01,
) -> None:
    """per_minute requests in each minute `m` of `minutes` before `end`."""
    rows = []
    for m in minutes:
        ts = end - timedelta(minutes=m, seconds=-1)
        for _ in range(per_minute):
            rows.append(
                usage_row(
                    ts,
                    latency_ms=float(rng.lognormal(latency_mu, 0.3)),
                    status=503 if rng.random() < error_p else 200,
                    output_tokens=int(rng.integers(20, 80)),
                    app_id="app1",
                )
            )
    with sessions() as s, s.begin():
        s.add_all(rows)


def test_detects_latency_and_errors_and_is_quiet_when_stable(
    sessions: sessionmaker[Session],
) -> None:
    rng = np.random.default_rng(5)
    _fill(sessions, range(60, 420), 2, rng)  # baseline: 6 h
    _fill(sessions, range(0, 60), 4, rng)  # current: the same behaviour
    assert run_drift(sessions, CFG, NOW) == []
    later = NOW + timedelta(hours=1)  # the next hour: slower, and failing
    _fill(sessions, range(0, 60), 4, rng, end=later, latency_mu=5.6, error_p=0.1)
    events = run_drift(sessions, CFG, later)
    got = {(e.app_id, e.model, e.metric) for e in events}
    assert ("", "chat", "latency") in got and ("", "chat", "error_rate") in got
    assert ("app1", "", "latency") in got
    assert ("", "chat", "answer_length") not in got  # lengths did not change
    ev = next(e for e in events if e.metric == "latency" and e.model == "chat")
    base, cur = windows(CFG, later)
    assert (ev.current_start, ev.baseline_start) == (cur.start, base.start)
    assert ev.current_n > 200 and ev.baseline_n > 700
    # the same drift again soon after: no duplicate event
    assert run_drift(sessions, CFG, later + timedelta(minutes=5)) == []
    with sessions() as s:
        assert s.query(DriftEvent).count() == len(events)
        audit = s.query(AuditEvent).filter_by(action="drift.detected").all()
    assert len(audit) == len(events)
    assert audit[0].details is not None and "baseline" in audit[0].details


def test_finding_rate_drift(sessions: sessionmaker[Session]) -> None:
    rng = np.random.default_rng(9)
    _fill(sessions, range(60, 420), 1, rng)
    _fill(sessions, range(0, 60), 4, rng)
    with sessions() as s, s.begin():
        for m in range(0, 60):
            s.add(
                GuardFinding(
                    id=new_id(),
                    ts=NOW - timedelta(minutes=m, seconds=-1),
                    request_id=new_id(),
                    direction="output",
                    location="choices[0]",
                    entity="EMAIL",
                    data_class="pii",
                    detector="regex",
                    action="log",
                    profile="default",
                    model="chat",
                )
            )
    events = run_drift(sessions, CFG, NOW)
    assert [(e.model, e.metric) for e in events] == [("chat", "finding_rate")]
    assert events[0].statistic == pytest.approx(60 / 240, abs=0.02)
