"""Model state transitions and the canary split: deterministic by request id, proportional."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steward.catalogue.gate import judge
from steward.catalogue.spec import SPLIT_BUCKETS, STATES, Split, bucket, can_move, to_candidate


@pytest.mark.parametrize(
    ("old", "new", "ok"),
    [
        (None, "approved", True),
        (None, "blocked", True),
        ("proposed", "approved", True),
        ("proposed", "deprecated", False),
        ("approved", "deprecated", True),
        ("approved", "proposed", False),
        ("deprecated", "approved", True),
        ("blocked", "approved", True),
        ("blocked", "deprecated", False),
        ("approved", "retired", False),
    ],
)
def test_transitions(old: str | None, new: str, ok: bool) -> None:
    assert can_move(old, new) is ok


def test_every_state_can_be_blocked_or_left() -> None:
    for state in STATES:
        assert state == "blocked" or can_move(state, "blocked")
        assert any(can_move(state, other) for other in STATES if other != state)


@given(st.text(min_size=1, max_size=40), st.floats(min_value=0.01, max_value=99.99))
def test_the_same_request_always_lands_on_the_same_side(request_id: str, percent: float) -> None:
    split = Split("chat", candidate="sim/x", percent=percent)
    assert to_candidate(split, request_id) == to_candidate(split, request_id)
    assert 0 <= bucket("chat", request_id) < SPLIT_BUCKETS


@given(st.text(min_size=1, max_size=40), st.floats(min_value=0.01, max_value=99.0))
def test_raising_the_share_never_moves_a_candidate_request_back(rid: str, percent: float) -> None:
    low = Split("chat", candidate="sim/x", percent=percent)
    high = Split("chat", candidate="sim/x", percent=percent + 0.99)
    assert not to_candidate(low, rid) or to_candidate(high, rid)


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=1, max_value=99), st.integers(min_value=0, max_value=10**6))
def test_the_share_of_requests_matches_the_percent(percent: int, salt: int) -> None:
    split = Split("chat", candidate="sim/x", percent=percent)
    n = 20_000
    hits = sum(to_candidate(split, f"req-{salt}-{i}") for i in range(n))
    # binomial: 5 standard deviations of n * p * (1 - p)
    p = percent / 100
    assert abs(hits - n * p) <= 5 * (n * p * (1 - p)) ** 0.5


def test_no_canary_without_candidate_or_share() -> None:
    assert not to_candidate(Split("chat", candidate=None, percent=50), "r")
    assert not to_candidate(Split("chat", candidate="sim/x", percent=0), "r")


@dataclass(frozen=True)
class Run:
    """A run result as the gate sees it (the RunOutcome protocol)."""

    pass_rates: dict[str, float]
    items: int


def _result(items: int, **rates: tuple[int, int]) -> Run:
    return Run({name: passed / total for name, (passed, total) in rates.items()}, items)


def test_gate_passes_when_every_metric_meets_its_threshold() -> None:
    v = judge(_result(10, answered=(10, 10), expected=(9, 10)), {"expected": 0.9}, 0.95)
    assert v.passed, v.reason()


def test_gate_refuses_with_the_failing_metrics() -> None:
    v = judge(_result(10, answered=(10, 10), expected=(8, 10)), {"expected": 0.9}, 0.95)
    assert not v.passed
    assert [c.name for c in v.failing] == ["expected"]
    assert "expected 80.0% < 90.0%" in v.reason()


def test_gate_refuses_an_unmeasured_required_metric_and_too_few_items() -> None:
    v = judge(_result(10, answered=(10, 10)), {}, 0.9, required=["expected"])
    assert not v.passed and "expected not measured" in v.reason()
    v = judge(_result(2, answered=(2, 2)), {}, 0.9, min_items=5)
    assert not v.passed and "only 2 item(s)" in v.reason()
    assert not judge(_result(0), {}, 0.9).passed  # nothing measured: never a pass
