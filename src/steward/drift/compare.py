"""The drift tests on two windows of values: continuous values (PSI for the magnitude, KS for the
significance), rates (two-proportion z-test and a minimum absolute change) and embeddings
(permutation test on the distance between mean vectors and a minimum distance)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from steward.drift.settings import DriftSettings
from steward.drift.stats import ks_two_sample, permutation_test, psi


@dataclass(frozen=True, slots=True)
class Drift:
    """A metric whose current window differs from its baseline."""

    metric: str
    test: str  # psi | rate | permutation
    statistic: float  # PSI, the change of a rate, or the distance between mean embeddings
    threshold: float
    p_value: float | None
    severity: str  # warn | alert
    baseline_n: int
    current_n: int
    details: dict[str, Any] = field(default_factory=dict)


def continuous(
    metric: str, base: Sequence[float], cur: Sequence[float], cfg: DriftSettings
) -> Drift | None:
    """PSI at or above psi_warn (warn) or psi_alert (alert), confirmed by a KS test (p below
    ks_alpha); None below `min_samples` values in either window."""
    if min(len(base), len(cur)) < cfg.min_samples:
        return None
    result = psi(base, cur, bins=cfg.psi_bins)
    if result.value < cfg.psi_warn:
        return None
    ks = ks_two_sample(base, cur, min_samples=cfg.min_samples)
    if ks is None or ks.p_value >= cfg.ks_alpha:
        return None
    alert = result.value >= cfg.psi_alert
    return Drift(
        metric=metric,
        test="psi",
        statistic=result.value,
        threshold=cfg.psi_alert if alert else cfg.psi_warn,
        p_value=ks.p_value,
        severity="alert" if alert else "warn",
        baseline_n=len(base),
        current_n=len(cur),
        details={
            "ks_statistic": ks.statistic,
            "baseline_mean": sum(base) / len(base),
            "current_mean": sum(cur) / len(cur),
            "bins": list(result.edges[1:-1]),
            "baseline_shares": list(result.expected),
            "current_shares": list(result.actual),
        },
    )


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test (1.0 when undefined)."""
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (k2 / n2 - k1 / n1) / se
    return float(2 * _scipy_stats().norm.sf(abs(z)))


def rate(
    metric: str, base: tuple[int, int], cur: tuple[int, int], cfg: DriftSettings
) -> Drift | None:
    """A rate (k of n) that changed by at least rate_min_delta with p below rate_alpha; both
    windows need `min_samples` events."""
    (n1, k1), (n2, k2) = base, cur
    if min(n1, n2) < cfg.min_samples:
        return None
    change = k2 / n2 - k1 / n1
    if abs(change) < cfg.rate_min_delta:
        return None
    p = two_proportion_p(k1, n1, k2, n2)
    if p >= cfg.rate_alpha:
        return None
    return Drift(
        metric=metric,
        test="rate",
        statistic=change,
        threshold=cfg.rate_min_delta,
        p_value=p,
        severity="alert",
        baseline_n=n1,
        current_n=n2,
        details={"baseline_rate": k1 / n1, "current_rate": k2 / n2},
    )


def embeddings(
    metric: str,
    base: Sequence[Sequence[float]],
    cur: Sequence[Sequence[float]],
    cfg: DriftSettings,
    seed: int,
) -> Drift | None:
    """Mean embeddings apart by at least embedding_min_distance with a permutation-test p-value
    below embedding_alpha; each window needs 10 vectors at least."""
    if min(len(base), len(cur)) < 10:
        return None
    res = permutation_test(base, cur, permutations=cfg.permutations, seed=seed)
    if res.p_value >= cfg.embedding_alpha or res.statistic < cfg.embedding_min_distance:
        return None
    return Drift(
        metric=metric,
        test="permutation",
        statistic=res.statistic,
        threshold=cfg.embedding_min_distance,
        p_value=res.p_value,
        severity="alert",
        baseline_n=len(base),
        current_n=len(cur),
        details={"permutations": res.permutations},
    )


__all__ = ["Drift", "continuous", "embeddings", "rate", "two_proportion_p"]


def _scipy_stats() -> Any:
    """scipy.stats, imported on first use: it costs ~1 s and tens of MB, and only the drift and
    SLO jobs need it (never the gateway's request path or the CLI's start)."""
    from scipy import stats

    return stats
