"""Budget periods: UTC days, weeks from Monday, months (leap years, year ends), rolling windows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from steward.usage.budgets.periods import calendar_bounds, describe_window, span


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.mark.parametrize(
    ("period", "now", "start", "end"),
    [
        ("day", "2026-03-14T23:59:59", "2026-03-14T00:00:00", "2026-03-15T00:00:00"),
        ("day", "2026-03-15T00:00:00", "2026-03-15T00:00:00", "2026-03-16T00:00:00"),
        # weeks start on Monday: Sunday night is still the previous week
        ("week", "2026-11-29T23:59:59", "2026-11-23T00:00:00", "2026-11-30T00:00:00"),
        ("week", "2026-11-30T00:00:00", "2026-11-30T00:00:00", "2026-12-07T00:00:00"),
        ("week", "2026-12-31T12:00:00", "2026-12-28T00:00:00", "2027-01-04T00:00:00"),
        ("month", "2026-01-31T23:59:59", "2026-01-01T00:00:00", "2026-02-01T00:00:00"),
        ("month", "2028-02-29T12:00:00", "2028-02-01T00:00:00", "2028-03-01T00:00:00"),
        ("month", "2026-12-15T00:00:00", "2026-12-01T00:00:00", "2027-01-01T00:00:00"),
        ("month", "2027-01-01T00:00:00", "2027-01-01T00:00:00", "2027-02-01T00:00:00"),
    ],
)
def test_calendar_bounds(period: str, now: str, start: str, end: str) -> None:
    s, e = calendar_bounds(period, ts(now))
    assert (iso(s), iso(e)) == (start, end)


def test_rolling_window_uses_hour_buckets_from_a_day_up() -> None:
    now = ts("2026-11-30T10:30:00")
    sp = span("rolling", 7 * 86400, now)
    assert sp.rolling and sp.bucket_s == 3600 and sp.buckets == 168
    assert iso(sp.end) == "2026-11-30T11:00:00"  # end of the current bucket
    assert iso(sp.start) == "2026-11-23T11:00:00"  # the oldest bucket still counted
    assert sp.bucket == int(now // 3600)


def test_short_rolling_windows_use_minute_buckets() -> None:
    sp = span("rolling", 90 * 60, ts("2026-11-30T10:30:30"))
    assert sp.bucket_s == 60 and sp.buckets == 90
    assert iso(sp.start) == "2026-11-30T09:01:00"


def test_rolling_needs_a_window() -> None:
    with pytest.raises(ValueError):
        span("rolling", None, 0)


@pytest.mark.parametrize(
    ("seconds", "text"), [(7 * 86400, "7d"), (86400, "1d"), (7200, "2h"), (5400, "90m")]
)
def test_describe_window(seconds: int, text: str) -> None:
    assert describe_window(seconds) == text
