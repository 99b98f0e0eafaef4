"""The demo's closing loop (issue 6): the `sim-assist` alias sits on a simulator that degrades
after a number of answers (refusals, off-topic prose). Every answer is sampled and evaluated by
the in-process evaluation worker; a quality SLO with demo-sized windows burns, refusal-rate drift
is detected, and the SLO scheduler running inside the gateway applies the remediation rules:
the alias is rerouted to its fallback. The demo prints the evidence from the store."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import openai
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from steward.store.db import make_engine, session_factory
from steward.store.models import AuditEvent, UsageEvent
from steward.store.models_evals import EvalRecord
from steward.store.models_slo import DriftEvent, SloState

ALIAS = "sim-assist"
FALLBACK = "sim-fast"
FALLBACK_UPSTREAM = "sim-fast-1"
SLO_NAME = "assist-quality"
HEALTHY = 20  # answers before the simulator degrades
DEGRADED = 20
DRIFT_CURRENT_S = 15  # the drift's current window: the healthy answers age out of it
QUESTIONS = (
    "How do I reset my password?",
    "How do I change my billing address?",
    "How can I cancel my subscription?",
    "Where can I export my invoices?",
    "How do I add a team member to my account?",
    "How do I update my payment card?",
    "How do I enable two-factor login?",
    "Can I get a refund for order 1042?",
)


def add_eval_config(config: dict[str, Any]) -> None:
    """Add the degrading provider, the alias, evaluation, the SLO, drift and the rules."""
    config["providers"]["sim-degrading"] = {
        "kind": "sim",
        "sim": {"degrade": {"after_requests": HEALTHY, "refusal_rate": 0.5, "off_topic": True}},
    }
    config["models"].append(
        {
            "name": ALIAS,
            "provider": "sim-degrading",
            "upstream_model": "sim-assist-1",
            "fallbacks": [FALLBACK],
        }
    )
    config["evaluation"] = {
        "sampling": {"models": {ALIAS: 1.0}},
        "evaluators": [
            {"name": "refusal", "kind": "refusal"},
            {"name": "relevance", "kind": "relevance", "models": [ALIAS]},
        ],
        "worker": {"in_process": True, "interval_s": 0.5},
    }
    config["slos"] = [
        {
            "name": SLO_NAME,
            "description": "sim-assist answers are neither refusals nor off topic",
            "kind": "quality",
            "model": ALIAS,
            "objective": 0.95,
            "window": "1h",
            "min_events": 20,
            # demo-sized windows: a real SLO keeps the defaults (1h/5m at 14.4x, ...)
            "alerts": [{"long": "5m", "short": "30s", "factor": 2, "severity": "page"}],
        }
    ]
    config["slo_worker"] = {"in_serve": True, "interval_s": 1.0, "drift_interval_s": 1.0}
    config["drift"] = {
        "current": f"{DRIFT_CURRENT_S}s",
        "baseline": "10m",
        "by": ["model"],
        "metrics": ["refusal_rate", "eval_score"],
        "min_samples": 10,
        "repeat_after": "10m",
    }
    config["remediation"] = {
        "rules": [
            {
                "name": "reroute-assist-on-burn",
                "mode": "auto",
                "trigger": {"kind": "slo_burn", "slo": SLO_NAME},
                "action": {"kind": "reroute", "model": ALIAS},
                "cooldown": "10m",
            },
            {
                "name": "reroute-assist-on-drift",
                "mode": "auto",
                "trigger": {"kind": "drift", "model": ALIAS, "metric": "refusal_rate",
                            "severity": "warn", "window": "5m"},
                "action": {"kind": "reroute"},
                "cooldown": "10m",
            },
        ]
    }  # fmt: skip


def _wait(what: str, check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.2)


def _evidence(ev: dict[str, Any]) -> str:
    """One line of an action's evidence: the SLO's burn or the drift test."""
    if ev.get("trigger") == "slo_burn":
        burns = ", ".join(
            f"{name} {w['bad']}/{w['events']} bad = {w['burn_rate']:.1f}x"
            for name, w in (ev.get("windows") or {}).items()
            if w.get("burn_rate") is not None
        )
        firing = "; ".join(
            f"{f['long']}+{f['short']} > {f['factor']}x" for f in ev.get("firing") or []
        )
        return f"SLO {ev.get('slo')} {ev.get('severity')}: {firing} ({burns})"
    p = ev.get("p_value")
    return (
        f"drift of {ev.get('metric')}: {ev.get('test')} {ev.get('statistic'):.3g} "
        f"(threshold {ev.get('threshold'):.3g}" + (f", p={p:.2g})" if p is not None else ")")
    )


def _aware(value: datetime) -> datetime:
    """A stored timestamp as aware UTC (SQLite hands them back naive)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _ts(value: Any) -> str:
    return value.strftime("%H:%M:%S") if isinstance(value, datetime) else str(value)


def _question(i: int) -> list[Any]:
    return [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}]


def healthy_traffic(url: str, key: str) -> tuple[str, Callable[[], str]]:
    """The demo step that sends sim-assist its healthy answers early in the run, so they are
    evaluated in the background and have aged into the drift baseline by the closing loop."""
    client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)

    def send() -> str:
        served = {client.chat.completions.create(model=ALIAS, messages=_question(i)).model
                  for i in range(HEALTHY)}  # fmt: skip
        return (
            f"{HEALTHY} answers from {', '.join(sorted(served))}, every one sampled for "
            "evaluation (in the background)"
        )

    return f"alice · {ALIAS} · healthy traffic", send


class EvalLoop:
    """Traffic to sim-assist before and after the degradation, then the evidence."""

    def __init__(self, url: str, key: str, db_url: str, console: Console) -> None:
        self.client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
        self.db_url = db_url
        self.console = console
        self.engine = make_engine(db_url)
        self.sessions: sessionmaker[Session] = session_factory(self.engine)
        self.sent = HEALTHY  # healthy_traffic sent the first answers

    def close(self) -> None:
        self.engine.dispose()

    def _ask(self) -> tuple[str, str]:
        """One question to sim-assist: (answer, the model that answered)."""
        r = self.client.chat.completions.create(model=ALIAS, messages=_question(self.sent))
        self.sent += 1
        return r.choices[0].message.content or "", r.model

    def _records(self, evaluator: str) -> list[EvalRecord]:
        with self.sessions() as s:
            e = EvalRecord
            return list(
                s.scalars(
                    select(e).where(e.model == ALIAS, e.evaluator == evaluator, e.run_id.is_(None))
                )
            )

    def _evaluated(self, n: int) -> Callable[[], bool]:
        return lambda: len(self._records("refusal")) >= n

    def _audits(self, action: str) -> list[AuditEvent]:
        with self.sessions() as s:
            a = AuditEvent
            return list(s.scalars(select(a).where(a.action == action).order_by(a.ts)))

    def baseline(self) -> str:
        _wait("the evaluation of the healthy answers", self._evaluated(HEALTHY), 30)
        records = self._records("refusal")
        fails = sum(r.score_label == "fail" for r in records)
        rel = [r.score_value for r in self._records("relevance") if r.score_value is not None]
        relevance = f", median relevance {statistics.median(rel):.2f}" if rel else ""
        # the healthy answers must be older than the drift's current window to be its baseline
        newest = max(_aware(r.ts) for r in records)
        age = (datetime.now(UTC) - newest).total_seconds()
        pause = max(0.0, DRIFT_CURRENT_S + 0.5 - age)
        time.sleep(pause)
        return (
            f"{len(records)} answers evaluated: {fails} refusals{relevance}; "
            f"{len(self._audits('slo.alert'))} SLO alerts; they are the drift baseline "
            f"(older than the {DRIFT_CURRENT_S} s current window; waited {pause:.1f} s)"
        )

    def degraded(self) -> str:
        answers = [self._ask()[0] for _ in range(DEGRADED)]
        refusals = sum(
            a.startswith(("I'm sorry", "I am unable", "I must", "I'm afraid")) for a in answers
        )
        _wait("the evaluation worker", self._evaluated(HEALTHY + DEGRADED), 30)
        failed = {
            name: sum(r.score_label == "fail" for r in self._records(name))
            for name in ("refusal", "relevance")
        }
        return (
            f"the simulator degraded after {HEALTHY} answers: {refusals} refusals and "
            f"{DEGRADED - refusals} off-topic answers (e.g. {answers[-1][:40]!r}…); "
            f"evaluations failed: refusal {failed['refusal']}, relevance {failed['relevance']}"
        )

    def drifted(self) -> str:
        def found() -> list[DriftEvent]:
            with self.sessions() as s:
                d = DriftEvent
                return list(
                    s.scalars(select(d).where(d.model == ALIAS, d.metric == "refusal_rate"))
                )

        _wait("the refusal-rate drift event", lambda: bool(found()), 30)
        ev = found()[0]
        return (
            f"refusal_rate drifted: {ev.test} {ev.statistic:.2f} "
            f"(baseline n={ev.baseline_n}, current n={ev.current_n})"
        )

    def remediated(self) -> str:
        _wait("the reroute", lambda: bool(self._audits("remediation.applied")), 30)
        applied = self._audits("remediation.applied")
        a = applied[0]
        d = a.details or {}
        return f"{len(applied)} automatic action(s), the first by rule {d.get('rule')}"

    def rerouted(self) -> str:
        served: list[str] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the override reaches the snapshot within ~0.5 s
            answer, model = self._ask()
            served.append(model)
            if model == FALLBACK_UPSTREAM:
                break
            time.sleep(0.2)
        if served[-1] != FALLBACK_UPSTREAM:
            raise RuntimeError(f"sim-assist is still served by {served[-1]}")
        ids = [self._request_id() for _ in range(3)]
        _wait("the usage events", lambda: len(self._usage(ids)) == 3, 15)
        upstream = sorted({u.upstream_model or "?" for u in self._usage(ids)})
        if upstream != [FALLBACK_UPSTREAM]:
            raise RuntimeError(f"usage events show upstream models {upstream}")
        return (
            f"3 more requests to {ALIAS}: usage events' upstream_model = {upstream[0]} ({FALLBACK})"
        )

    def _request_id(self) -> str:
        raw = self.client.chat.completions.with_raw_response.create(
            model=ALIAS, messages=[{"role": "user", "content": "Are you back to normal?"}]
        )
        return raw.headers["x-steward-request-id"]

    def _usage(self, ids: list[str]) -> list[UsageEvent]:
        with self.sessions() as s:
            return list(s.scalars(select(UsageEvent).where(UsageEvent.request_id.in_(ids))))

    def steps(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            (f"{ALIAS} · baseline", self.baseline),
            (f"{ALIAS} · the simulator degrades", self.degraded),
            (f"{ALIAS} · drift", self.drifted),
            (f"{ALIAS} · remediation", self.remediated),
            (f"{ALIAS} · rerouted", self.rerouted),
        ]

    def report(self) -> None:
        """Why: the SLO status at its alert, the drift events and the remediation evidence."""
        c = self.console
        for a in self._audits("slo.alert")[:1]:
            d = a.details or {}
            c.print(
                f"SLO {d.get('slo')} ({d.get('kind')}, objective {d.get('objective')}) alerted at "
                f"{_ts(a.ts)}: SLI {d.get('sli', 0):.3f}, error budget left "
                f"{d.get('budget_left', 0):.0%}"
            )
            for name, w in (d.get("windows") or {}).items():
                c.print(
                    f"  window {name}: {w['bad']}/{w['events']} bad, burn rate "
                    f"{w['burn_rate']:.1f}x (lower bound {w['burn_bound']:.1f}x)"
                )
            c.print(f"  firing: {a.reason}")
        with self.sessions() as s:
            state = s.get(SloState, SLO_NAME)
            drifts = list(
                s.scalars(
                    select(DriftEvent).where(DriftEvent.model == ALIAS).order_by(DriftEvent.ts)
                )
            )
            n_records = s.scalar(
                select(func.count()).select_from(EvalRecord).where(EvalRecord.model == ALIAS)
            )
        if state is not None:
            c.print(
                f"SLO {SLO_NAME} state now: {state.state} ({state.severity or 'no alert'}); "
                f"{n_records} evaluation records for {ALIAS}"
            )
        for ev in drifts:
            p = f", p={ev.p_value:.2g}" if ev.p_value is not None else ""
            c.print(
                f"drift event: {ev.metric} of {ALIAS} ({ev.severity}): {ev.test} "
                f"{ev.statistic:.3g} vs threshold {ev.threshold:.3g}{p}; baseline "
                f"{_ts(ev.baseline_start)}–{_ts(ev.baseline_end)} n={ev.baseline_n}, current "
                f"{_ts(ev.current_start)}–{_ts(ev.current_end)} n={ev.current_n}"
            )
        for a in self._audits("remediation.applied"):
            d = a.details or {}
            evidence = d.get("evidence") or {}
            what = _evidence(evidence)
            c.print(
                f"audit remediation.applied {_ts(a.ts)} by {a.actor_id}: {d.get('action')} "
                f"{a.target_type} {a.target_id} → {FALLBACK}; evidence: {what}"
            )


def run_eval_loop(console: Console, url: str, key: str, db_url: str) -> int:
    """Run the closing-loop steps and print the evidence; the number of failed steps."""
    console.rule("[bold]Continuous evaluation: degradation, SLO burn, drift, reroute")
    loop = EvalLoop(url, key, db_url, console)
    failures = 0
    started = time.monotonic()
    try:
        for label, step in loop.steps():
            try:
                console.print(f"  [green]✓[/] {label}: {step()}")
            except Exception as exc:  # report every step, fail at the end
                failures += 1
                console.print(f"  [red]✗[/] {label}: {type(exc).__name__}: {exc}")
        try:
            loop.report()
        except Exception as exc:  # the evidence could not be read: a failure, not a crash
            failures += 1
            console.print(f"  [red]✗[/] evidence: {type(exc).__name__}: {exc}")
    finally:
        loop.close()
    console.print(
        f"closing loop took {time.monotonic() - started:.1f}s (at {datetime.now(UTC):%H:%M:%S} UTC)"
    )
    return failures
