"""Sliding-window arithmetic: use, reset, when a refused request fits, header durations."""

from __future__ import annotations

import pytest

from steward.usage.ratelimit.window import duration, reset_ms, retry_after_ms, used

W = 60_000


def test_use_weights_the_previous_window_by_its_overlap() -> None:
    assert used(60, 0, 0, W) == 60
    assert used(60, 5, 30_000, W) == 35
    assert used(60, 5, 59_999, W) == 5


def test_retry_after_waits_for_the_previous_window_to_shrink() -> None:
    # limit 10; 20 counted last minute, none in this one, 15 s into it: 20 x 45/60 = 15 used
    wait = retry_after_ms(10, 1, 20, 0, 15_000, W)
    assert wait == 15_001  # 20 x 29.999/60 = 9.9997 -> 9 used: one more fits
    assert used(20, 0, 15_000 + wait, W) + 1 <= 10
    assert used(20, 0, 15_000 + wait - 1, W) + 1 > 10


def test_retry_after_waits_for_the_next_window_when_this_one_is_full() -> None:
    wait = retry_after_ms(10, 1, 0, 10, 20_000, W)
    assert wait == 40_000 + 1  # the next window starts; 10 x 59.999/60 -> 9 used
    later = 20_000 + wait - W  # into the next window, this one is the previous
    assert used(10, 0, later, W) + 1 <= 10
    assert used(10, 0, later - 1, W) + 1 > 10


def test_a_request_larger_than_the_limit_never_fits() -> None:
    assert retry_after_ms(100, 101, 0, 0, 0, W) is None
    assert retry_after_ms(100, 100, 0, 0, 0, W) == 0


def test_reset_is_when_the_window_is_empty_again() -> None:
    assert reset_ms(0, 0, 10_000, W) == 0
    assert reset_ms(5, 0, 10_000, W) == 50_000
    assert reset_ms(5, 1, 10_000, W) == 110_000


@pytest.mark.parametrize(
    ("ms", "text"), [(0, "0ms"), (250, "250ms"), (1000, "1s"), (1001, "2s"), (90_000, "1m30s")]
)
def test_durations_are_written_like_openai(ms: int, text: str) -> None:
    assert duration(ms) == text
