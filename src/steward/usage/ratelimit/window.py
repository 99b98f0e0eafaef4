"""Sliding-window arithmetic for rate limits: how much of a limit is left, when it is full
again, when a refused request could pass, and the OpenAI-style header values.

The window's use is `previous * (window - elapsed) / window + current`, where `previous` and
`current` are the counts of the fixed windows (one minute each) before and at `now`."""

from __future__ import annotations

import math


def used(prev: int, cur: int, elapsed_ms: int, window_ms: int) -> int:
    return prev * (window_ms - elapsed_ms) // window_ms + cur


def reset_ms(prev: int, cur: int, elapsed_ms: int, window_ms: int) -> int:
    """Until the limit is back to its full size if nothing else is counted."""
    if cur > 0:
        return 2 * window_ms - elapsed_ms
    if prev > 0:
        return window_ms - elapsed_ms
    return 0


def retry_after_ms(
    limit: int, cost: int, prev: int, cur: int, elapsed_ms: int, window_ms: int
) -> int | None:
    """Until a request of `cost` fits (None: it never fits, being larger than the limit)."""
    room = limit - max(cost, 1)  # what the window may hold before the request
    if room < 0:
        return None
    left = window_ms - elapsed_ms
    if cur <= room:
        if used(prev, cur, elapsed_ms, window_ms) <= room:
            return 0
        # wait until floor(prev * (left - t) / window) <= room - cur
        return max(0, math.floor(left - (room - cur + 1) * window_ms / prev) + 1)
    # this window alone is too full: wait for the next one and for this one's share to shrink
    return left + max(0, math.floor(window_ms - (room + 1) * window_ms / cur) + 1)


def duration(ms: int) -> str:
    """OpenAI's format: `250ms`, `12s`, `1m30s`."""
    if ms < 1000:
        return f"{max(ms, 0)}ms"
    seconds = math.ceil(ms / 1000)
    if seconds < 60:
        return f"{seconds}s"
    return f"{seconds // 60}m{seconds % 60}s"


__all__ = ["duration", "reset_ms", "retry_after_ms", "used"]
