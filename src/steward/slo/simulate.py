"""A deterministic simulation of live traffic for SLOs, drift and remediation: a seeded traffic
generator writes usage events minute by minute into a real store, a manual clock drives the
same scheduler tick that production runs, and a degradation can be injected at time T.

The generator models the gateway honouring routing overrides: while remediation has rerouted an
alias to its fallback, that alias's traffic is served by the (healthy) fallback."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Engine, event, insert, select
from sqlalchemy.orm import Session, sessionmaker

from steward.slo.jobs import Jobs
from steward.store.models import AuditEvent, UsageEvent
from steward.store.models_slo import RuntimeOverride

START = datetime(2026, 1, 5, tzinfo=UTC)


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = START) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How the upstream behaves: error share, latency (lognormal, ms) and answer length."""

    error_rate: float = 0.001
    latency_median_ms: float = 400.0
    latency_sigma: float = 0.35
    tokens_mean: float = 120.0


@dataclass(frozen=True, slots=True)
class Scenario:
    """Traffic to one alias for `duration`, degraded from `degrade_at` (None: a stable run)."""

    seed: int
    duration: timedelta = timedelta(hours=12)
    requests_per_minute: float = 20.0
    model: str = "chat"
    app_id: str | None = None
    normal: Behaviour = field(default_factory=Behaviour)
    degraded: Behaviour = field(
        default_factory=lambda: Behaviour(error_rate=0.2, latency_median_ms=900.0)
    )
    degrade_at: timedelta | None = None
    tick_every: timedelta = timedelta(minutes=1)
    warmup: timedelta = timedelta(hours=6)  # history written before the run (baselines)


@dataclass
class Outcome:
    """What happened in a run: alerts, drift events and remediation steps, with their times."""

    first_alert: datetime | None = None  # any severity
    first_page: datetime | None = None
    first_drift: datetime | None = None
    first_action: datetime | None = None
    audit: list[tuple[datetime, str, str | None]] = field(default_factory=list)
    events: int = 0
    ticks: int = 0

    def delay(
        self, start: datetime, degrade_at: timedelta | None, page: bool = True
    ) -> timedelta | None:
        """Time from the degradation to the first paging (or any) SLO alert."""
        first = self.first_page if page else self.first_alert
        if first is None or degrade_at is None:
            return None
        return first - (start + degrade_at)


class TrafficGenerator:
    """Seeded usage events, one minute at a time."""

    def __init__(self, scenario: Scenario) -> None:
        self.s = scenario
        self.rng = np.random.default_rng(scenario.seed)
        self._n = 0

    def draw(
        self, behaviour: Behaviour
    ) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
        """One minute's requests as arrays: second offsets, statuses, latencies (ms), tokens."""
        s, rng = self.s, self.rng
        count = int(rng.poisson(s.requests_per_minute))
        offsets = np.sort(rng.uniform(0, 60, count))
        errors = rng.random(count) < behaviour.error_rate
        latency = rng.lognormal(np.log(behaviour.latency_median_ms), behaviour.latency_sigma, count)
        tokens = rng.poisson(behaviour.tokens_mean, count)
        status = np.where(errors, 503, 200).astype(np.int64)
        return offsets, status, latency, np.where(errors, 0, tokens).astype(np.int64)

    def minute(self, start: datetime, behaviour: Behaviour, served_by: str) -> list[dict[str, Any]]:
        """The usage-event rows of the minute that begins at `start`."""
        s = self.s
        offsets, status, latency, tokens = self.draw(behaviour)
        rows = []
        for i in range(len(status)):
            self._n += 1
            rid = f"sim-{s.seed}-{self._n}"
            failed = int(status[i]) >= 500
            rows.append(
                {
                    "id": rid,
                    "ts": start + timedelta(seconds=float(offsets[i])),
                    "request_id": rid,
                    "endpoint": "chat",
                    "app_id": s.app_id,
                    "model": s.model,
                    "provider": "sim",
                    "upstream_model": served_by,
                    "status": int(status[i]),
                    "error_type": "upstream_error" if failed else None,
                    "latency_ms": float(latency[i]),
                    "output_tokens": int(tokens[i]),
                    "input_tokens": 50,
                }
            )
        return rows


def relax_durability(engine: Engine) -> None:
    """Simulations only: SQLite without fsync per commit (the runs are thrown away)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _fast(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA synchronous=OFF")
        cur.close()


def _rerouted(session: Session, alias: str) -> bool:
    found = session.scalar(
        select(RuntimeOverride.id).where(
            RuntimeOverride.kind == "routing", RuntimeOverride.target == alias
        )
    )
    return found is not None


class Simulation:
    """Drives a scenario through the store and the scheduler's tick with a manual clock."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        jobs: Jobs,
        scenario: Scenario,
        clock: ManualClock | None = None,
    ) -> None:
        self.sessions = sessions
        self.jobs = jobs
        self.scenario = scenario
        self.clock = clock or ManualClock()
        self.start = self.clock.now()
        self.traffic = TrafficGenerator(scenario)

    def _behaviour(self, minute_start: datetime, rerouted: bool) -> tuple[Behaviour, str]:
        s = self.scenario
        degraded = s.degrade_at is not None and minute_start >= self.start + s.degrade_at
        if rerouted:
            return s.normal, "fallback"
        return (s.degraded if degraded else s.normal), "primary"

    def _write(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            with self.sessions() as s, s.begin():
                s.execute(insert(UsageEvent), rows)

    def warm_up(self) -> None:
        """Write the history before the run (normal behaviour) so baselines exist."""
        s = self.scenario
        t = self.start - s.warmup
        rows: list[dict[str, Any]] = []
        while t < self.start:
            rows += self.traffic.minute(t, s.normal, "primary")
            t += timedelta(minutes=1)
        self._write(rows)

    def run(self) -> Outcome:
        """Warm up, then alternate a minute of traffic and a tick until `duration`."""
        s = self.scenario
        out = Outcome()
        self.warm_up()
        end = self.start + s.duration
        next_tick = self.start + s.tick_every
        while self.clock.now() < end:
            minute = self.clock.now()
            with self.sessions() as sess:
                rerouted = _rerouted(sess, s.model)
            behaviour, served = self._behaviour(minute, rerouted)
            rows = self.traffic.minute(minute, behaviour, served)
            out.events += len(rows)
            self._write(rows)
            self.clock.advance(timedelta(minutes=1))
            if self.clock.now() >= next_tick:
                self.jobs.tick(self.clock.now())
                out.ticks += 1
                next_tick += s.tick_every
        self._collect(out)
        return out

    def _collect(self, out: Outcome) -> None:
        with self.sessions() as sess:
            rows = sess.execute(
                select(AuditEvent.ts, AuditEvent.action, AuditEvent.target_id, AuditEvent.details)
                .where(AuditEvent.ts >= self.start)
                .order_by(AuditEvent.ts)
            ).all()
        for ts, action, target, details in rows:
            ts = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
            out.audit.append((ts, action, target))
            if action == "slo.alert" and out.first_alert is None:
                out.first_alert = ts
            if action == "slo.alert" and out.first_page is None:
                if (details or {}).get("severity") == "page":
                    out.first_page = ts
            elif action == "drift.detected" and out.first_drift is None:
                out.first_drift = ts
            elif action.startswith("remediation.") and out.first_action is None:
                out.first_action = ts


def simulation_config(**overrides: Any) -> dict[str, Any]:
    """A configuration (as a dict) for simulations: alias `chat` with fallback `chat-backup`,
    an availability SLO and a latency SLO, and a rule that reroutes on a paging burn."""
    config: dict[str, Any] = {
        "providers": {"sim": {"kind": "sim"}},
        "models": [
            {"name": "chat", "provider": "sim", "fallbacks": ["chat-backup"]},
            {"name": "chat-backup", "provider": "sim"},
        ],
        "slos": [
            {"name": "chat-availability", "kind": "availability", "objective": 0.995,
             "model": "chat", "window": "28d"},
            {"name": "chat-latency", "kind": "latency", "objective": 0.95,
             "latency_threshold_ms": 1500, "model": "chat", "window": "28d"},
        ],
        "drift": {"current": "1h", "baseline": "6h", "min_samples": 200,
                  "metrics": ["latency", "answer_length", "error_rate"], "by": ["model"]},
        "slo_worker": {"interval_s": 60, "drift_interval_s": 900},
        "remediation": {
            "rules": [
                {"name": "reroute-chat", "mode": "auto", "revert": "auto", "clear_for": "30m",
                 "cooldown": "2h",
                 "trigger": {"kind": "slo_burn", "slo": "chat-availability", "severity": "page"},
                 "action": {"kind": "reroute", "model": "chat"}},
            ]
        },
    }  # fmt: skip
    config.update(overrides)
    return config


__all__ = [
    "START",
    "Behaviour",
    "ManualClock",
    "Outcome",
    "Scenario",
    "Simulation",
    "TrafficGenerator",
    "relax_durability",
    "simulation_config",
]
