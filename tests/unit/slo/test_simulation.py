"""Deterministic simulations with a manual clock: a degradation injected at time T is detected
within the alert windows, triggers the configured action (reroute to the fallback), is audited
with its evidence and reverted once clear; a stable run of the same length fires nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from steward.config.models import StewardConfig
from steward.slo.jobs import Jobs
from steward.slo.simulate import Scenario, Simulation, relax_durability, simulation_config
from steward.store.db import make_engine, session_factory, upgrade
from steward.store.models import AuditEvent
from steward.store.models_slo import RemediationAction, RuntimeOverride

T = timedelta(hours=2)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    upgrade(url)
    eng = make_engine(url)
    relax_durability(eng)
    yield eng
    eng.dispose()


def _run(engine: Engine, scenario: Scenario) -> tuple[Simulation, sessionmaker[Session]]:
    sessions = session_factory(engine)
    config = StewardConfig.model_validate(simulation_config())
    sim = Simulation(sessions, Jobs(sessions, config, holder="sim"), scenario)
    return sim, sessions


def test_degradation_is_detected_rerouted_audited_and_reverted(engine: Engine) -> None:
    sim, sessions = _run(engine, Scenario(seed=11, duration=timedelta(hours=6), degrade_at=T))
    out = sim.run()
    degraded_at = sim.start + T
    assert out.first_alert is not None and out.first_page is not None
    # the 3 d / 6 h ticket alert (1x) comes first: 6 h of history is thin
    assert timedelta(0) < out.first_alert - degraded_at <= out.first_page - degraded_at
    delay = out.delay(sim.start, T)
    # 20% errors burn a 99.5% SLO at 40x: the 1 h window crosses 14.4x after ~22 minutes
    assert delay is not None and timedelta(minutes=15) <= delay <= timedelta(hours=1), delay
    assert out.first_action is not None
    assert timedelta(0) <= out.first_action - out.first_page <= timedelta(minutes=1)
    with sessions() as s:
        applied = (
            s.query(AuditEvent)
            .filter_by(action="remediation.applied")
            .order_by(AuditEvent.ts)
            .first()
        )
        assert applied is not None and applied.target_id == "chat"
        details = applied.details or {}
        assert details["action"] == "reroute" and details["trigger"] == "slo_burn"
        evidence = details["evidence"]
        assert evidence["slo"] == "chat-availability"
        assert evidence["windows"]["1h"]["burn_rate"] > 14.4
        assert evidence["windows"]["5m"]["burn_rate"] > 14.4
        assert evidence["firing"][0]["long"] == "1h"
        actions = s.query(RemediationAction).order_by(RemediationAction.created_at).all()
        reverted = [a for a in actions if a.status == "reverted"]
        assert reverted, [a.status for a in actions]
        # the cooldown (2 h) bounds how often the rule acts: no flapping
        times = [a.created_at for a in actions]
        assert all(b - a >= timedelta(hours=2) for a, b in zip(times, times[1:], strict=False))
    kinds = [a for _, a, _ in out.audit]
    assert kinds.index("slo.alert") < kinds.index("remediation.applied")
    assert "remediation.reverted" in kinds  # the page cleared: the alias went back
    assert "drift.detected" in kinds  # errors and latency drifted as well


def test_stable_run_fires_nothing(engine: Engine) -> None:
    sim, sessions = _run(engine, Scenario(seed=11, duration=timedelta(hours=6)))
    out = sim.run()
    assert out.ticks == 6 * 60
    assert out.audit == []
    with sessions() as s:
        assert s.query(RemediationAction).count() == 0
        assert s.query(RuntimeOverride).count() == 0


def test_runs_are_deterministic(tmp_path: Path) -> None:
    results = []
    for i in range(2):
        url = f"sqlite:///{tmp_path / f'sim{i}.db'}"
        upgrade(url)
        eng = make_engine(url)
        relax_durability(eng)
        try:
            sim, _ = _run(
                eng,
                Scenario(
                    seed=5,
                    duration=timedelta(hours=3),
                    degrade_at=T,
                    tick_every=timedelta(minutes=5),
                ),
            )
            out = sim.run()
        finally:
            eng.dispose()
        results.append((out.events, [(ts, a) for ts, a, _ in out.audit]))
    assert results[0] == results[1]
    assert results[0][1], "the degraded run fired nothing"
