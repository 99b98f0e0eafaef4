"""Burn rates and multi-window, multi-burn-rate alerts (Google SRE workbook, chapter 5).

burn rate = (bad events / events) / (1 - objective): 1 spends the error budget exactly over the
SLO window, 14.4 spends 2% of a 30-day budget in one hour.

An alert fires when, for BOTH of its windows, (a) the window holds at least `min_events` events
and (b) the burn rate exceeds the alert's factor. For sampled SLIs (quality: only a share of the
answers is evaluated) (b) uses the LOWER bound of the two-sided confidence interval of the bad
share (Wilson by default, at `confidence`), so a burn that sampling noise could explain does not
page anyone. For SLIs that count every request (availability, latency) the point estimate is
used unless `interval` says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from steward.slo.settings import BurnAlert, SLOConfig
from steward.slo.sli import WindowCount

SEVERITY_RANK = {"ticket": 1, "page": 2}


def burn_rate(bad: int, total: int, objective: float) -> float | None:
    """The point estimate of the burn rate; None without events."""
    if total == 0:
        return None
    return (bad / total) / (1.0 - objective)


def burn_bound(bad: int, total: int, objective: float, method: str, confidence: float) -> float:
    """The burn rate an alert compares: the lower confidence bound for `wilson` and
    `clopper_pearson`, the point estimate for `none` (0 without events)."""
    if total == 0:
        return 0.0
    # imported here: the statistics need NumPy and SciPy, which `steward` commands that do not
    # evaluate SLOs (and `steward serve`) should not load
    from steward.drift.stats import clopper_pearson, wilson_interval

    if method == "wilson":
        low = wilson_interval(bad, total, confidence).low
    elif method == "clopper_pearson":
        low = clopper_pearson(bad, total, confidence).low
    else:
        low = bad / total
    return low / (1.0 - objective)


@dataclass(frozen=True, slots=True)
class WindowBurn:
    duration: str
    total: int
    bad: int
    burn: float | None  # point estimate
    bound: float  # what alerts compare (lower bound or point estimate)


@dataclass(frozen=True, slots=True)
class AlertCheck:
    alert: BurnAlert
    firing: bool
    why: str  # human-readable: which window fell short, or that both exceed


@dataclass(frozen=True, slots=True)
class SloStatus:
    """One evaluation of an SLO at one instant."""

    name: str
    kind: str
    objective: float
    window: str
    sli: float | None  # good share over the SLO window
    total: int
    bad: int
    budget_left: float | None  # share of the error budget not yet spent (negative: overspent)
    windows: dict[str, WindowBurn] = field(default_factory=dict)
    checks: tuple[AlertCheck, ...] = ()

    @property
    def firing(self) -> tuple[AlertCheck, ...]:
        return tuple(c for c in self.checks if c.firing)

    @property
    def severity(self) -> str | None:
        """The most severe firing alert's severity (page > ticket), or None."""
        sev = [c.alert.severity for c in self.firing]
        return max(sev, key=lambda s: SEVERITY_RANK[s]) if sev else None

    def evidence(self) -> dict[str, object]:
        """What an audit event or a notification carries about this evaluation."""
        return {
            "slo": self.name,
            "kind": self.kind,
            "objective": self.objective,
            "sli": self.sli,
            "budget_left": self.budget_left,
            "windows": {
                d: {"events": w.total, "bad": w.bad, "burn_rate": w.burn, "burn_bound": w.bound}
                for d, w in self.windows.items()
            },
            "firing": [
                {
                    "long": c.alert.long,
                    "short": c.alert.short,
                    "factor": c.alert.factor,
                    "severity": c.alert.severity,
                }
                for c in self.firing
            ],
        }


def _check(alert: BurnAlert, slo: SLOConfig, windows: dict[str, WindowBurn]) -> AlertCheck:
    for name in (alert.long, alert.short):
        w = windows[name]
        if w.total < slo.min_events:
            return AlertCheck(alert, False, f"{name}: {w.total} events < {slo.min_events}")
        if w.bound <= alert.factor:
            return AlertCheck(alert, False, f"{name}: burn {w.bound:.2f} <= {alert.factor}")
    return AlertCheck(alert, True, f"{alert.long} and {alert.short} above {alert.factor}x")


def assess(slo: SLOConfig, counts: dict[str, WindowCount]) -> SloStatus:
    """The SLI, error budget, burn rates and alert checks from window counts."""
    method = slo.interval_method
    windows = {
        d: WindowBurn(
            d,
            c.total,
            c.bad,
            burn_rate(c.bad, c.total, slo.objective),
            burn_bound(c.bad, c.total, slo.objective, method, slo.confidence),
        )
        for d, c in counts.items()
    }
    budget = counts[slo.window]
    sli = None if budget.total == 0 else 1.0 - budget.bad / budget.total
    left = None
    if budget.total:
        allowed = (1.0 - slo.objective) * budget.total
        left = 1.0 - budget.bad / allowed
    return SloStatus(
        name=slo.name,
        kind=slo.kind,
        objective=slo.objective,
        window=slo.window,
        sli=sli,
        total=budget.total,
        bad=budget.bad,
        budget_left=left,
        windows=windows,
        checks=tuple(_check(a, slo, windows) for a in slo.alerts),
    )


__all__ = [
    "AlertCheck",
    "SloStatus",
    "WindowBurn",
    "assess",
    "burn_bound",
    "burn_rate",
]
