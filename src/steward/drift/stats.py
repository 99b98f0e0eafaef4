"""Statistics for drift and SLOs: PSI, two-sample KS, a permutation test on mean embeddings, and
binomial confidence intervals (Wilson, Clopper-Pearson) for sampled SLIs.

Every function is pure: the same inputs give the same result (the permutation test takes a seed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

# Population Stability Index thresholds (the credit-scoring convention, Siddiqi 2006): below 0.1
# the distributions are the same for practical purposes, 0.1-0.25 is a moderate shift worth a
# warning, above 0.25 a significant shift.
PSI_WARN = 0.1
PSI_ALERT = 0.25
PSI_EPSILON = 1e-4  # floor for empty bins so that ln(a/e) stays finite
KS_MIN_SAMPLES = 50  # per window: below this the KS test is not run
KS_ALPHA = 0.01
KS_EXACT_MAX = 10_000  # n1 * n2 up to which the KS p-value is computed exactly


@dataclass(frozen=True, slots=True)
class PsiResult:
    """PSI between a baseline (expected) and a current (actual) distribution over fixed bins."""

    value: float
    edges: tuple[float, ...]  # bin edges (first -inf, last +inf) for continuous values
    expected: tuple[float, ...]  # baseline share per bin
    actual: tuple[float, ...]  # current share per bin

    @property
    def level(self) -> str:
        """'ok', 'warn' (>= 0.1) or 'alert' (>= 0.25)."""
        return psi_level(self.value)


def psi_level(value: float) -> str:
    """Classify a PSI value against the documented thresholds."""
    if value >= PSI_ALERT:
        return "alert"
    if value >= PSI_WARN:
        return "warn"
    return "ok"


def _shares(counts: Sequence[float], eps: float) -> NDArray[np.float64]:
    arr = np.asarray(counts, dtype=np.float64)
    total = arr.sum()
    if total <= 0:
        raise ValueError("a distribution needs at least one observation")
    shares = np.maximum(arr / total, eps)
    return np.asarray(shares / shares.sum(), dtype=np.float64)


def psi_from_counts(
    expected: Sequence[float], actual: Sequence[float], eps: float = PSI_EPSILON
) -> float:
    """PSI = sum((a_i - e_i) * ln(a_i / e_i)) over bins given as counts (empty bins floored at
    `eps` and renormalised)."""
    if len(expected) != len(actual) or len(expected) < 2:
        raise ValueError("PSI needs the same number (>= 2) of bins on both sides")
    e = _shares(expected, eps)
    a = _shares(actual, eps)
    return float(np.sum((a - e) * np.log(a / e)))


def quantile_edges(baseline: Sequence[float], bins: int = 10) -> tuple[float, ...]:
    """Bin edges at the baseline's quantiles (equal-mass bins), deduplicated, open at both ends;
    ties can leave fewer bins than asked for (a constant baseline gives two)."""
    if bins < 2:
        raise ValueError("bins must be at least 2")
    values = np.asarray(baseline, dtype=np.float64)
    if values.size == 0:
        raise ValueError("the baseline is empty")
    inner = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
    if inner.size == 0:  # unreachable with bins >= 2, kept for clarity
        inner = np.asarray([float(values[0])])
    return (-math.inf, *(float(x) for x in inner), math.inf)


def histogram(values: Sequence[float], edges: Sequence[float]) -> NDArray[np.float64]:
    """Counts per bin [edge_i, edge_i+1) (the last bin closed at +inf)."""
    arr = np.asarray(values, dtype=np.float64)
    inner = np.asarray(edges[1:-1], dtype=np.float64)
    idx = np.searchsorted(inner, arr, side="right")
    return np.bincount(idx, minlength=len(edges) - 1).astype(np.float64)


def psi(
    baseline: Sequence[float],
    current: Sequence[float],
    bins: int = 10,
    eps: float = PSI_EPSILON,
) -> PsiResult:
    """PSI of continuous values, binned at the baseline's deciles (by default)."""
    if len(current) == 0:
        raise ValueError("the current window is empty")
    edges = quantile_edges(baseline, bins)
    e = histogram(baseline, edges)
    a = histogram(current, edges)
    return PsiResult(
        value=psi_from_counts(e.tolist(), a.tolist(), eps),
        edges=edges,
        expected=tuple(float(x) for x in e / e.sum()),
        actual=tuple(float(x) for x in a / a.sum()),
    )


@dataclass(frozen=True, slots=True)
class KsResult:
    statistic: float  # sup |F_baseline - F_current|
    p_value: float
    n_baseline: int
    n_current: int

    def significant(self, alpha: float = KS_ALPHA) -> bool:
        return self.p_value < alpha


def ks_two_sample(
    baseline: Sequence[float], current: Sequence[float], min_samples: int = KS_MIN_SAMPLES
) -> KsResult | None:
    """The two-sample Kolmogorov-Smirnov test (scipy); None when either window has fewer than
    `min_samples` values. The p-value is exact for small samples (n1 * n2 <= 10,000) and
    asymptotic above, where it is accurate and the exact computation costs tenths of a second."""
    if min(len(baseline), len(current)) < max(1, min_samples):
        return None
    method = "exact" if len(baseline) * len(current) <= KS_EXACT_MAX else "asymp"
    x, y = np.asarray(baseline, float), np.asarray(current, float)
    res = _scipy_stats().ks_2samp(x, y, method=method)
    return KsResult(float(res.statistic), float(res.pvalue), len(baseline), len(current))


@dataclass(frozen=True, slots=True)
class PermutationResult:
    statistic: float  # Euclidean distance between the windows' mean vectors
    p_value: float  # (1 + #{permuted >= observed}) / (1 + permutations)
    permutations: int


def mean_distance(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """Euclidean distance between the mean vectors of two sets of embeddings."""
    return float(np.linalg.norm(x.mean(axis=0) - y.mean(axis=0)))


def permutation_test(
    baseline: Sequence[Sequence[float]] | NDArray[np.float64],
    current: Sequence[Sequence[float]] | NDArray[np.float64],
    permutations: int = 1000,
    seed: int = 0,
) -> PermutationResult:
    """Whether two windows of embeddings come from the same distribution: the distance between
    their means against its distribution under random relabelling (seeded, reproducible)."""
    x = np.asarray(baseline, dtype=np.float64)
    y = np.asarray(current, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError("embeddings must be two 2-D arrays with the same dimension")
    if len(x) < 2 or len(y) < 2:
        raise ValueError("each window needs at least two embeddings")
    if permutations < 1:
        raise ValueError("permutations must be at least 1")
    observed = mean_distance(x, y)
    pooled = np.vstack([x, y])
    n = len(x)
    total = pooled.sum(axis=0)
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(permutations):
        idx = rng.permutation(len(pooled))[:n]
        sx = pooled[idx].sum(axis=0)
        d = float(np.linalg.norm(sx / n - (total - sx) / (len(pooled) - n)))
        if d >= observed - 1e-12:
            hits += 1
    return PermutationResult(observed, (1 + hits) / (1 + permutations), permutations)


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float


def _check(successes: int, n: int, confidence: float) -> None:
    if n < 0 or successes < 0 or successes > n:
        raise ValueError("need 0 <= successes <= n")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a binomial proportion; [0, 1] when n is 0."""
    _check(successes, n, confidence)
    if n == 0:
        return Interval(0.0, 1.0)
    z = float(_scipy_stats().norm.ppf(1 - (1 - confidence) / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def clopper_pearson(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Exact (Clopper-Pearson) interval from the beta distribution; conservative."""
    _check(successes, n, confidence)
    if n == 0:
        return Interval(0.0, 1.0)
    alpha = 1 - confidence
    k = successes
    low = 0.0 if k == 0 else float(_scipy_stats().beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(_scipy_stats().beta.ppf(1 - alpha / 2, k + 1, n - k))
    return Interval(low, high)


__all__ = [
    "KS_ALPHA",
    "KS_MIN_SAMPLES",
    "PSI_ALERT",
    "PSI_WARN",
    "Interval",
    "KsResult",
    "PermutationResult",
    "PsiResult",
    "clopper_pearson",
    "histogram",
    "ks_two_sample",
    "mean_distance",
    "permutation_test",
    "psi",
    "psi_from_counts",
    "psi_level",
    "quantile_edges",
    "wilson_interval",
]


def _scipy_stats() -> Any:
    """scipy.stats, imported on first use: it costs ~1 s and tens of MB, and only the drift and
    SLO jobs need it (never the gateway's request path or the CLI's start)."""
    from scipy import stats

    return stats
