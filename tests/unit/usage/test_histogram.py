"""The latency histogram: every value lands in the bucket that holds it, histograms merge by
adding, and percentiles stay within the stated bound."""

from __future__ import annotations

import math
import random

import pytest

from steward.usage.histogram import (
    BOUNDS,
    BUCKETS,
    HIGH_MS,
    LOW_MS,
    MAX_RELATIVE_ERROR,
    bucket_of,
    bucket_range,
    quantile,
)


def histogram(values: list[float]) -> list[int]:
    counts = [0] * BUCKETS
    for v in values:
        counts[bucket_of(v)] += 1
    return counts


def test_buckets_hold_their_values() -> None:
    rnd = random.Random(1)
    values = [10 ** rnd.uniform(-2, 6.5) for _ in range(50_000)]
    values += [b * f for b in BOUNDS for f in (1.0, 1 - 1e-12, 1 + 1e-12)] + [0.0, HIGH_MS]
    for v in values:
        low, high = bucket_range(bucket_of(v))
        assert low <= v < high, v
    assert bucket_of(0.2) == 0 and bucket_of(LOW_MS) == 1 and bucket_of(HIGH_MS) == BUCKETS - 1
    assert abs(MAX_RELATIVE_ERROR - 0.1133) < 1e-4


@pytest.mark.parametrize("seed", range(5))
def test_percentiles_within_the_bound_and_merging_is_exact(seed: int) -> None:
    rnd = random.Random(seed)
    parts = [[rnd.lognormvariate(rnd.uniform(2, 9), 1.2) for _ in range(rnd.randrange(1, 400))]]
    parts += [[rnd.uniform(1, 60_000) for _ in range(300)] for _ in range(3)]
    everything = sorted(v for part in parts for v in part)
    merged = [sum(col) for col in zip(*(histogram(p) for p in parts), strict=True)]
    assert merged == histogram(everything)
    for q in (0.01, 0.5, 0.9, 0.95, 0.99, 1.0):
        exact = everything[max(1, math.ceil(q * len(everything))) - 1]
        got = quantile(merged, q)
        assert got is not None
        if LOW_MS <= exact < HIGH_MS:
            assert abs(got / exact - 1) <= MAX_RELATIVE_ERROR + 1e-12, (q, exact, got)


def test_empty_and_clamped() -> None:
    assert quantile([0] * BUCKETS, 0.5) is None
    assert quantile(histogram([0.1, 0.2]), 0.5) == LOW_MS / 2
    assert quantile(histogram([3_600_000.0]), 0.95) == HIGH_MS
