"""A fixed latency histogram: 64 log-spaced buckets that merge by adding counts.

Bucket 0 holds latencies under 1 ms, bucket 63 those of 10 minutes or more; buckets 1..62 split
[1 ms, 10 min) into 62 intervals whose bounds grow by the factor `RATIO` (about 1.239). Because
the buckets are the same everywhere, histograms of any rollup rows add up exactly, and a
percentile read from the merged counts falls in the same bucket as the true nearest-rank
percentile. Reporting the bucket's geometric midpoint then errs by at most `MAX_RELATIVE_ERROR`
(about 11.3%) for latencies within [1 ms, 10 min); outside that range values are clamped.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence

BUCKETS = 64
LOW_MS = 1.0
HIGH_MS = 600_000.0
_STEPS = BUCKETS - 2
_LOG_RATIO = math.log(HIGH_MS / LOW_MS) / _STEPS
RATIO = math.exp(_LOG_RATIO)
MAX_RELATIVE_ERROR = math.sqrt(RATIO) - 1.0

# bounds[i] is the lower bound of bucket i + 1: bounds[0] = 1 ms ... bounds[62] = 10 min
BOUNDS: tuple[float, ...] = (
    *(LOW_MS * math.exp(_LOG_RATIO * i) for i in range(_STEPS)),
    HIGH_MS,
)
# the value reported for a percentile that falls in each bucket
REPRESENTATIVE: tuple[float, ...] = (
    LOW_MS / 2,
    *(math.sqrt(BOUNDS[i] * BOUNDS[i + 1]) for i in range(_STEPS)),
    HIGH_MS,
)


def bucket_of(latency_ms: float) -> int:
    """The bucket index (0..63) of a latency in milliseconds."""
    if latency_ms < LOW_MS:
        return 0
    if latency_ms >= HIGH_MS:
        return BUCKETS - 1
    i = int(math.log(latency_ms / LOW_MS) / _LOG_RATIO) + 1
    # guard the float rounding at a bound: the bucket's interval must hold the value
    if i > 1 and latency_ms < BOUNDS[i - 1]:
        i -= 1
    elif i < _STEPS and latency_ms >= BOUNDS[i]:
        i += 1
    return min(i, _STEPS)


def quantiles(counts: Sequence[int], qs: Sequence[float]) -> list[float | None]:
    """The nearest-rank quantiles `qs` (each 0 < q <= 1) of a histogram, in milliseconds, each
    the geometric midpoint of its bucket; None for an empty histogram."""
    cumulative = list(itertools.accumulate(counts))
    total = cumulative[-1] if cumulative else 0
    if total <= 0:
        return [None for _ in qs]
    last = len(REPRESENTATIVE) - 1
    return [
        REPRESENTATIVE[min(bisect.bisect_left(cumulative, max(1, math.ceil(q * total))), last)]
        for q in qs
    ]


def quantile(counts: Sequence[int], q: float) -> float | None:
    """The nearest-rank `q`-quantile of a histogram (see `quantiles`)."""
    return quantiles(counts, (q,))[0]


def bucket_range(index: int) -> tuple[float, float]:
    """[low, high) of a bucket in milliseconds (the outer buckets reach 0 and infinity)."""
    if index <= 0:
        return 0.0, LOW_MS
    if index >= BUCKETS - 1:
        return HIGH_MS, math.inf
    return BOUNDS[index - 1], BOUNDS[index]


__all__ = [
    "BOUNDS",
    "BUCKETS",
    "HIGH_MS",
    "LOW_MS",
    "MAX_RELATIVE_ERROR",
    "RATIO",
    "REPRESENTATIVE",
    "bucket_of",
    "bucket_range",
    "quantile",
    "quantiles",
]
