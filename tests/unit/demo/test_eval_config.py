"""The demo's closing-loop configuration: valid, and sized so the scripted degradation burns the
quality SLO and moves the refusal rate while the healthy phase alone does neither."""

from __future__ import annotations

import copy

from steward.config.defaults import EMBEDDED_DEFAULT
from steward.config.models import StewardConfig
from steward.demo.eval_steps import ALIAS, DEGRADED, FALLBACK, HEALTHY, SLO_NAME, add_eval_config
from steward.drift.compare import rate
from steward.providers.sim_degrade import Degradation, off_topic_text
from steward.slo.burn import assess
from steward.slo.sli import WindowCount, windows_of


def demo_config() -> StewardConfig:
    raw = copy.deepcopy(EMBEDDED_DEFAULT)
    add_eval_config(raw)
    return StewardConfig.model_validate(raw)


def test_the_demo_configuration_is_valid_and_wires_the_loop() -> None:
    cfg = demo_config()
    (alias,) = [m for m in cfg.models if m.name == ALIAS]
    assert alias.fallbacks == [FALLBACK]
    degrade = cfg.providers[alias.provider].sim.degrade
    assert degrade is not None and degrade.after_requests == HEALTHY
    assert cfg.evaluation.sampling.models == {ALIAS: 1.0}
    assert cfg.evaluation.worker.in_process and cfg.slo_worker.in_serve
    triggers = {r.trigger.kind for r in cfg.remediation.rules}
    assert triggers == {"slo_burn", "drift"}
    assert all(r.mode == "auto" and r.action.kind == "reroute" for r in cfg.remediation.rules)


def scripted_refusals(cfg: StewardConfig) -> int:
    """How many of the demo's degraded answers the simulator makes refusals (seeded)."""
    sim = cfg.providers["sim-degrading"].sim
    assert sim.degrade is not None
    d = Degradation(sim.degrade, sim.seed)
    texts = [d.next_text("How do I reset my password?") for _ in range(HEALTHY + DEGRADED)]
    assert texts[:HEALTHY] == [None] * HEALTHY
    degraded = list(enumerate(texts))[HEALTHY:]
    return sum(t != off_topic_text(sim.seed, i) for i, t in degraded)


def _status(total: int, bad: int) -> bool:
    (slo,) = [s for s in demo_config().slos if s.name == SLO_NAME]
    counts = {w: WindowCount(w, total, bad) for w in windows_of(slo)}
    return bool(assess(slo, counts).firing)


def test_the_degradation_burns_the_slo_and_the_healthy_phase_does_not() -> None:
    cfg = demo_config()
    evaluators = len(cfg.evaluation.evaluators)  # records per sample
    degrade = cfg.providers["sim-degrading"].sim.degrade
    assert degrade is not None and degrade.off_topic  # every degraded answer fails one check
    records = (HEALTHY + DEGRADED) * evaluators
    assert _status(records, DEGRADED)
    assert not _status(HEALTHY * evaluators, 0)
    # with the relevance evaluator unavailable (no embedding model), refusals alone still burn
    refusals = scripted_refusals(cfg)
    assert 0 < refusals < DEGRADED
    assert _status(HEALTHY + DEGRADED, refusals)


def test_the_refusal_rate_drift_is_significant_at_the_demo_volume() -> None:
    cfg = demo_config()
    refusals = scripted_refusals(cfg)
    assert min(HEALTHY, DEGRADED) >= cfg.drift.min_samples
    drift = rate("refusal_rate", (HEALTHY, 0), (DEGRADED, refusals), cfg.drift)
    assert drift is not None and drift.current_n == DEGRADED
    assert rate("refusal_rate", (HEALTHY, 0), (DEGRADED, 0), cfg.drift) is None
