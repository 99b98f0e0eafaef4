"""Statistics against hand-computed and published values, and their properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steward.drift.stats import (
    PSI_ALERT,
    PSI_WARN,
    clopper_pearson,
    histogram,
    ks_two_sample,
    permutation_test,
    psi,
    psi_from_counts,
    psi_level,
    quantile_edges,
    wilson_interval,
)


def test_psi_hand_computed() -> None:
    # (0.25-0.5)ln(0.25/0.5) + (0.75-0.5)ln(0.75/0.5) = 0.173287 + 0.101366
    assert psi_from_counts([50, 50], [25, 75]) == pytest.approx(0.2746531, abs=1e-6)
    # three bins: 0.1 ln(0.4/0.3)... computed term by term
    e, a = [0.3, 0.4, 0.3], [0.2, 0.4, 0.4]
    want = sum((ai - ei) * math.log(ai / ei) for ei, ai in zip(e, a, strict=True))
    assert psi_from_counts([30, 40, 30], [20, 40, 40]) == pytest.approx(want, abs=1e-9)


def test_psi_thresholds() -> None:
    assert (PSI_WARN, PSI_ALERT) == (0.1, 0.25)
    assert psi_level(0.05) == "ok"
    assert psi_level(0.1) == "warn"
    assert psi_level(0.2499) == "warn"
    assert psi_level(0.25) == "alert"


def test_psi_empty_bin_is_floored_not_infinite() -> None:
    value = psi_from_counts([100, 0], [50, 50])
    assert math.isfinite(value) and value > PSI_ALERT


def test_psi_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="same number"):
        psi_from_counts([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="at least one observation"):
        psi_from_counts([0, 0], [1, 1])
    with pytest.raises(ValueError, match="empty"):
        psi([1.0, 2.0], [])


def test_quantile_edges_and_histogram() -> None:
    edges = quantile_edges(list(range(100)), bins=4)
    assert edges[0] == -math.inf and edges[-1] == math.inf
    assert edges[1:-1] == pytest.approx((24.75, 49.5, 74.25))
    assert histogram(list(range(100)), edges).tolist() == [25, 25, 25, 25]
    assert quantile_edges([3.0] * 10) == (-math.inf, 3.0, math.inf)


def test_psi_of_shifted_normal_alerts_and_same_distribution_does_not() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(0, 1, 5000)
    same = rng.normal(0, 1, 5000)
    shifted = rng.normal(1, 1, 5000)
    assert psi(base, same).level == "ok"
    assert psi(base, shifted).level == "alert"


def test_ks_matches_exact_value() -> None:
    res = ks_two_sample([1, 2, 3, 4], [5, 6, 7, 8], min_samples=4)
    assert res is not None
    assert res.statistic == 1.0
    assert res.p_value == pytest.approx(2 / 70)  # exact: 2 of C(8,4) orderings as extreme


def test_ks_minimum_sample_size() -> None:
    assert ks_two_sample(list(range(49)), list(range(100))) is None
    assert ks_two_sample(list(range(50)), list(range(50))) is not None


def test_wilson_published_value() -> None:
    # 8 of 10 at 95%: (0.4902, 0.9433) (Wilson 1927; e.g. Newcombe 1998, table I)
    iv = wilson_interval(8, 10)
    assert (iv.low, iv.high) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson_interval(0, 0).low == 0.0


def test_clopper_pearson_published_value() -> None:
    # 8 of 10 at 95%: (0.4439, 0.9748)
    iv = clopper_pearson(8, 10)
    assert (iv.low, iv.high) == pytest.approx((0.4439, 0.9748), abs=1e-4)
    assert clopper_pearson(0, 10).low == 0.0
    assert clopper_pearson(10, 10).high == 1.0


def test_interval_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        wilson_interval(11, 10)
    with pytest.raises(ValueError):
        clopper_pearson(1, 10, confidence=1.0)


def test_permutation_detects_shift_and_is_seeded() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (60, 8))
    y = rng.normal(0.6, 1, (60, 8))
    z = rng.normal(0, 1, (60, 8))
    shifted = permutation_test(x, y, permutations=300, seed=7)
    assert shifted.p_value < 0.01
    same = permutation_test(x, z, permutations=300, seed=7)
    assert same.p_value > 0.01
    assert permutation_test(x, z, permutations=300, seed=7) == same
    with pytest.raises(ValueError, match="dimension"):
        permutation_test(x, rng.normal(0, 1, (5, 3)))


# -- properties ----------------------------------------------------------------------------------

counts = st.lists(st.integers(0, 1000), min_size=2, max_size=12)


@given(counts)
def test_psi_of_identical_distributions_is_zero(c: list[int]) -> None:
    if sum(c) == 0:
        return
    assert psi_from_counts(c, c) == pytest.approx(0.0, abs=1e-12)


@given(st.data())
def test_psi_is_non_negative_and_symmetric(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, 10))
    e = data.draw(st.lists(st.integers(1, 500), min_size=n, max_size=n))
    a = data.draw(st.lists(st.integers(1, 500), min_size=n, max_size=n))
    value = psi_from_counts(e, a)
    assert value >= -1e-12
    assert value == pytest.approx(psi_from_counts(a, e), rel=1e-9, abs=1e-12)


@given(st.integers(0, 500), st.integers(0, 500), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_intervals_contain_the_estimate(k: int, extra: int, conf: float) -> None:
    n = k + extra
    for iv in (wilson_interval(k, n, conf), clopper_pearson(k, n, conf)):
        assert 0.0 <= iv.low <= iv.high <= 1.0
        if n:
            assert iv.low - 1e-12 <= k / n <= iv.high + 1e-12


@settings(max_examples=40)
@given(st.integers(1, 200), st.integers(1, 200))
def test_clopper_pearson_is_wider_than_wilson(k: int, extra: int) -> None:
    n = k + extra
    cp, w = clopper_pearson(k, n), wilson_interval(k, n)
    assert cp.high - cp.low >= w.high - w.low - 1e-9


@settings(max_examples=30)
@given(st.lists(st.floats(-1e6, 1e6), min_size=50, max_size=200))
def test_ks_of_a_sample_with_itself_is_zero(values: list[float]) -> None:
    res = ks_two_sample(values, values)
    assert res is not None and res.statistic == 0.0 and res.p_value == pytest.approx(1.0)
