"""Sampling is deterministic by request id and takes the configured share of requests."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from steward.evals.sampling import Sampler, bucket, is_sampled
from steward.evals.settings import SamplingSettings


@settings(max_examples=40, deadline=None)
@given(rate=st.floats(min_value=0.01, max_value=0.99), seed=st.integers(0, 2**32))
def test_rate_within_tolerance(rate: float, seed: int) -> None:
    n = 20_000
    ids = [str(uuid.UUID(int=(seed << 64) + i * 7919 + 1)) for i in range(n)]
    share = sum(is_sampled(i, rate) for i in ids) / n
    # 5 standard deviations of a binomial share: fails by chance about once in 3.5 million
    sigma = (rate * (1 - rate) / n) ** 0.5
    assert abs(share - rate) < 5 * sigma


@given(st.text(min_size=1, max_size=64))
def test_deterministic_and_in_range(request_id: str) -> None:
    b = bucket(request_id)
    assert 0.0 <= b < 1.0
    assert bucket(request_id) == b
    assert is_sampled(request_id, 1.0)
    assert not is_sampled(request_id, 0.0)


@given(st.text(min_size=1, max_size=64), st.floats(0, 1), st.floats(0, 1))
def test_monotonic_in_rate(request_id: str, a: float, b: float) -> None:
    """A request sampled at some rate is sampled at every higher rate (raising the rate only
    adds requests)."""
    lo, hi = sorted((a, b))
    assert not is_sampled(request_id, lo) or is_sampled(request_id, hi)


def test_app_then_model_then_default() -> None:
    s = Sampler(SamplingSettings(default_rate=0.1, apps={"support": 1.0}, models={"gpt": 0.0}))
    names = {"app_1": "support", "app_2": "other"}
    assert s.rate("support", "gpt") == 1.0
    assert s.rate("other", "gpt") == 0.0
    assert s.rate("other", "claude") == 0.1
    assert s.sampled("any-id", "app_1", "gpt", names)
    assert not s.sampled("any-id", "app_2", "gpt", names)
    # remediation raises rates at run time: the higher of raised and configured applies
    quiet = Sampler(SamplingSettings(default_rate=0.0, models={"gpt": 0.5}))
    assert not quiet.sampled("any-id", "app_2", "claude", names)
    assert quiet.sampled("any-id", "app_2", "claude", names, {"app:app_2": 1.0})
    assert quiet.sampled("any-id", "app_9", "claude", names, {"model:claude": 1.0})
    assert not quiet.sampled("any-id", "app_2", "claude", names, {"app:app_1": 1.0})
    ids = [f"r{i}" for i in range(2000)]
    lowered = sum(quiet.sampled(i, "app_2", "gpt", names, {"model:gpt": 0.1}) for i in ids)
    assert 850 < lowered < 1150  # a raise never lowers the configured 0.5
    # the judge's own app is never sampled, whatever the rates
    everything = Sampler(SamplingSettings(default_rate=1.0, apps={"steward-evals": 1.0}))
    assert not everything.sampled("any-id", "app_3", "gpt", {"app_3": "steward-evals"})
    assert everything.sampled("any-id", "app_2", "gpt", names)
    assert not SamplingSettings().enabled
    assert SamplingSettings(apps={"a": 0.5}).enabled
