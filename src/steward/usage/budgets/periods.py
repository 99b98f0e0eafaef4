"""Budget periods: UTC calendar days, weeks (from Monday) and months, or rolling windows kept as
time buckets. Pure functions of a unix time, so tests drive them with any clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

Period = Literal["day", "week", "month", "rolling"]
PERIODS: Final[tuple[str, ...]] = ("day", "week", "month", "rolling")
CALENDAR: Final[tuple[str, ...]] = ("day", "week", "month")

HOUR: Final = 3600
DAY: Final = 86400
MIN_WINDOW_S: Final = 60
MAX_WINDOW_S: Final = 400 * DAY


@dataclass(frozen=True, slots=True)
class Span:
    """Where `now` falls for one budget. Calendar periods: [start, end). Rolling windows: the
    current bucket (`bucket`, of `bucket_s` seconds) and the window length in buckets; spend
    leaves the window a whole bucket at a time, so `start` is the first second still counted
    and `end` the end of the current bucket (when the oldest live bucket may drop out)."""

    start: int  # unix seconds
    end: int
    bucket: int = 0
    buckets: int = 1
    bucket_s: int = 0

    @property
    def rolling(self) -> bool:
        return self.bucket_s > 0


def bucket_seconds(window_s: int) -> int:
    """Hourly buckets for windows of a day or more, minute buckets below: the window is exact
    to one bucket (at most 1/24 of a one-day window)."""
    return HOUR if window_s >= DAY else 60


def window_buckets(window_s: int) -> tuple[int, int]:
    """(bucket length in seconds, number of buckets that make the window)."""
    size = bucket_seconds(window_s)
    return size, -(-window_s // size)


def _midnight(now: float) -> datetime:
    t = datetime.fromtimestamp(now, UTC)
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def calendar_bounds(period: str, now: float) -> tuple[int, int]:
    """[start, end) in unix seconds of the UTC calendar `period` (day, week, month) holding
    `now`. Weeks start on Monday (ISO 8601)."""
    day = _midnight(now)
    if period == "day":
        start, end = day, day + timedelta(days=1)
    elif period == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    elif period == "month":
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(f"not a calendar period: {period}")
    return int(start.timestamp()), int(end.timestamp())


def span(period: str, window_s: int | None, now: float) -> Span:
    """The span of a budget at `now`."""
    if period == "rolling":
        if not window_s:
            raise ValueError("a rolling budget needs a window")
        size, n = window_buckets(window_s)
        bucket = int(now // size)
        return Span(
            start=(bucket - n + 1) * size,
            end=(bucket + 1) * size,
            bucket=bucket,
            buckets=n,
            bucket_s=size,
        )
    start, end = calendar_bounds(period, now)
    return Span(start=start, end=end)


def describe_window(window_s: int) -> str:
    """`7d`, `12h`, `90m`: the largest unit that divides it."""
    for unit, size in (("d", DAY), ("h", HOUR), ("m", 60)):
        if window_s % size == 0:
            return f"{window_s // size}{unit}"
    return f"{window_s}s"


def iso(ts: float) -> str:
    """`2026-12-01T00:00:00Z`."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = [
    "CALENDAR",
    "PERIODS",
    "Period",
    "Span",
    "bucket_seconds",
    "calendar_bounds",
    "describe_window",
    "iso",
    "span",
    "window_buckets",
]
