"""False-alarm rate and detection delay of SLO burn-rate alerts and drift, over many seeds.

Two modes drive the same traffic generator (`steward.slo.simulate.TrafficGenerator`, seeded):

- `counts` (default, fast): per-minute counts feed the same alert code (`steward.slo.burn.assess`)
  and the same drift tests (`steward.drift.compare`) at every tick, without the store; this is
  what makes hundreds of seeds fit in a minute.
- `store`: the full path of tests/unit/slo/test_simulation.py (usage events in SQLite, the
  scheduler's tick, remediation and audit) for a few seeds; slower, the reference.

For each seed, a stable run (no degradation) and a degraded run (errors and latency from
`--degrade-at`) of the same length: a stable run with any alert or drift event is a false alarm;
the detection delay is the time from the degradation to the first paging alert.

    .venv/bin/python bench/slo_false_alarms.py --seeds 200
    .venv/bin/python bench/slo_false_alarms.py --mode store --seeds 3 --hours 6
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np

from steward.config.models import StewardConfig
from steward.drift.compare import continuous, rate
from steward.drift.settings import DriftSettings
from steward.slo.burn import assess
from steward.slo.settings import SLOConfig, delta
from steward.slo.simulate import (
    Behaviour,
    Scenario,
    Simulation,
    TrafficGenerator,
    relax_durability,
    simulation_config,
)
from steward.slo.sli import WindowCount, windows_of


@dataclass
class RunResult:
    alerts: int  # alert episodes (ok -> alerting transitions), any severity
    page_at: float | None  # minutes from the start to the first paging alert
    drift_events: int


class _Minutes:
    """Per-minute counts of one run as running totals, so a window's sum is one subtraction."""

    def __init__(self, thresholds: Sequence[float]) -> None:
        self.thresholds = list(thresholds)
        self.total: list[int] = [0]  # running totals; [i] = sum of the first i minutes
        self.errors: list[int] = [0]
        self.ok: list[int] = [0]
        self.slow: dict[float, list[int]] = {t: [0] for t in thresholds}
        self.per_minute: list[tuple[int, int]] = []  # (requests, errors) per minute
        self.latency: list[np.ndarray] = []
        self.tokens: list[np.ndarray] = []

    def add(self, draw: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> None:
        """One minute of `TrafficGenerator.draw` (the arrays the store rows are made of)."""
        _offsets, status, lat, tok = draw
        rows = status  # one entry per request
        good = status < 400
        errors = int((status >= 500).sum())
        self.total.append(self.total[-1] + len(rows))
        self.errors.append(self.errors[-1] + errors)
        self.ok.append(self.ok[-1] + int(good.sum()))
        for t in self.thresholds:
            self.slow[t].append(self.slow[t][-1] + int((lat[good] > t).sum()))
        self.per_minute.append((len(rows), errors))
        self.latency.append(lat[good])
        self.tokens.append(tok[good].astype(float))


def _sum(running: list[int], minutes: int) -> int:
    return running[-1] - running[max(0, len(running) - 1 - minutes)]


def _counts(slo: SLOConfig, m: _Minutes, spans: list[tuple[str, int]]) -> dict[str, WindowCount]:
    out = {}
    for name, w in spans:
        if slo.kind == "availability":
            out[name] = WindowCount(name, _sum(m.total, w), _sum(m.errors, w))
        else:
            assert slo.latency_threshold_ms is not None
            out[name] = WindowCount(name, _sum(m.ok, w), _sum(m.slow[slo.latency_threshold_ms], w))
    return out


def _drift(m: _Minutes, cfg: DriftSettings) -> int:
    cur = int(delta(cfg.current).total_seconds() // 60)
    base = int(delta(cfg.baseline).total_seconds() // 60)
    n = len(m.per_minute)
    if n < cur + 1:
        return 0
    found = 0
    b0, b1 = max(0, n - cur - base), n - cur

    def cat(arrays: list[np.ndarray], lo: int, hi: int) -> list[float]:
        return np.concatenate(arrays[lo:hi])[-cfg.max_samples :].tolist() if hi > lo else []

    for metric, arrays in (("latency", m.latency), ("answer_length", m.tokens)):
        if metric in cfg.metrics:
            found += (
                continuous(metric, cat(arrays, b0, b1), cat(arrays, b1, len(arrays)), cfg)
                is not None
            )
    if "error_rate" in cfg.metrics:
        base_n, base_k = m.total[b1] - m.total[b0], m.errors[b1] - m.errors[b0]
        cur_n, cur_k = m.total[n] - m.total[b1], m.errors[n] - m.errors[b1]
        found += rate("error_rate", (base_n, base_k), (cur_n, cur_k), cfg) is not None
    return found


def run_counts(config: StewardConfig, scenario: Scenario) -> RunResult:
    """One run on per-minute counts: the alert and drift code without the store."""
    gen = TrafficGenerator(scenario)
    thresholds = [s.latency_threshold_ms for s in config.slos if s.latency_threshold_ms]
    m = _Minutes(thresholds)
    spans = {
        s.name: [(w, int(delta(w).total_seconds() // 60)) for w in windows_of(s)]
        for s in config.slos
    }
    for _ in range(int(scenario.warmup.total_seconds() // 60)):
        m.add(gen.draw(scenario.normal))
    alerting = {s.name: False for s in config.slos}
    alerts, page_at, drift_events = 0, None, 0
    minutes = int(scenario.duration.total_seconds() // 60)
    drift_every = int(config.slo_worker.drift_interval_s // 60)
    degrade = None if scenario.degrade_at is None else scenario.degrade_at.total_seconds() // 60
    last_drift = -(10**9)
    for i in range(minutes):
        behaviour = scenario.degraded if degrade is not None and i >= degrade else scenario.normal
        m.add(gen.draw(behaviour))
        for slo in config.slos:
            status = assess(slo, _counts(slo, m, spans[slo.name]))
            if status.severity and not alerting[slo.name]:
                alerts += 1
            if status.severity == "page" and page_at is None:
                page_at = float(i + 1)
            alerting[slo.name] = status.severity is not None
        if (i + 1) % drift_every == 0:
            found = _drift(m, config.drift)
            repeat = delta(config.drift.repeat_after).total_seconds() // 60
            if found and i - last_drift >= repeat:
                drift_events += found
                last_drift = i
    return RunResult(alerts, page_at, drift_events)


def run_store(config: StewardConfig, scenario: Scenario, tmp: Path) -> RunResult:
    """One run through the store and the scheduler's tick (the full code path)."""
    from steward.slo.jobs import Jobs
    from steward.store.db import make_engine, session_factory, upgrade

    url = f"sqlite:///{tmp / f'sim-{scenario.seed}-{scenario.degrade_at is None}.db'}"
    upgrade(url)
    engine = make_engine(url)
    relax_durability(engine)
    try:
        sessions = session_factory(engine)
        sim = Simulation(sessions, Jobs(sessions, config, holder="bench"), scenario)
        out = sim.run()
    finally:
        engine.dispose()
    alerts = sum(1 for _, a, _ in out.audit if a == "slo.alert")
    drift = sum(1 for _, a, _ in out.audit if a == "drift.detected")
    page = None if out.first_page is None else (out.first_page - sim.start).total_seconds() / 60
    return RunResult(alerts, page, drift)


def _pair(task: tuple[int, argparse.Namespace]) -> tuple[RunResult, RunResult]:
    """The stable and the degraded run of one seed."""
    seed, args = task
    config = StewardConfig.model_validate(simulation_config())
    duration = timedelta(hours=args.hours)
    normal = Behaviour(error_rate=args.error_rate)
    base = Scenario(seed=seed, duration=duration, requests_per_minute=args.rpm, normal=normal)
    bad = Scenario(seed=seed, duration=duration, requests_per_minute=args.rpm, normal=normal,
                   degrade_at=timedelta(hours=args.degrade_at))  # fmt: skip
    if args.mode == "counts":
        return run_counts(config, base), run_counts(config, bad)
    with tempfile.TemporaryDirectory() as tmp:
        return run_store(config, base, Path(tmp)), run_store(config, bad, Path(tmp))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--hours", type=float, default=8.0, help="length of each run")
    ap.add_argument("--degrade-at", type=float, default=3.0, help="hours into the degraded run")
    ap.add_argument("--rpm", type=float, default=20.0, help="requests per minute")
    ap.add_argument("--mode", choices=("counts", "store"), default="counts")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes")
    ap.add_argument("--first-seed", type=int, default=0, help="seeds first-seed.. (to split runs)")
    ap.add_argument(
        "--error-rate", type=float, default=0.001, help="5xx share of normal traffic (SLO: 0.5%%)"
    )
    args = ap.parse_args()
    started = time.perf_counter()
    tasks = [(seed, args) for seed in range(args.first_seed, args.first_seed + args.seeds)]
    if args.jobs > 1:
        with multiprocessing.Pool(args.jobs) as pool:
            pairs = pool.map(_pair, tasks)
    else:
        pairs = [_pair(t) for t in tasks]
    stable = [p[0] for p in pairs]
    degraded = [p[1] for p in pairs]
    elapsed = time.perf_counter() - started
    false_alert = sum(1 for r in stable if r.alerts) / len(stable)
    false_drift = sum(1 for r in stable if r.drift_events) / len(stable)
    at = args.degrade_at * 60
    delays = [r.page_at - at for r in degraded if r.page_at is not None and r.page_at > at]
    missed = sum(1 for r in degraded if r.page_at is None or r.page_at <= at)
    print(f"mode {args.mode}: {args.seeds} seeds x 2 runs of {args.hours:g} h at {args.rpm:g} rpm "
          f"({elapsed:.1f} s)")  # fmt: skip
    n_alert = sum(1 for r in stable if r.alerts)
    n_drift = sum(1 for r in stable if r.drift_events)
    print(f"seeds {args.first_seed}..{args.first_seed + args.seeds - 1}, normal 5xx share "
          f"{args.error_rate:g}")  # fmt: skip
    print(
        f"stable runs with an SLO alert (false alarms): {n_alert}/{len(stable)} = {false_alert:.2%}"
    )
    print(
        f"stable runs with a drift event (false alarms): {n_drift}/{len(stable)} "
        f"= {false_drift:.2%}"
    )
    if delays:
        p95 = float(np.percentile(delays, 95))
        print(f"degraded runs paged: {len(delays)}/{len(degraded)} (missed or early: {missed}); "
              f"delay to page: median {statistics.median(delays):.0f} min, "
              f"p95 {p95:.0f} min, max {max(delays):.0f} min")  # fmt: skip
    print(f"degraded runs with a drift event: {sum(1 for r in degraded if r.drift_events)}/"
          f"{len(degraded)}")  # fmt: skip


if __name__ == "__main__":
    main()
