"""Time for reports: parsing, and covering a range with whole month, day and hour rows."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from steward.usage.periods import (
    PeriodError,
    ceil_hour,
    floor_day,
    floor_hour,
    floor_month,
    parse_month,
    parse_time,
    plan,
)

NOW = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)


def test_parse_time() -> None:
    assert parse_time("30d", NOW) == NOW - timedelta(days=30)
    assert parse_time("12h", NOW) == NOW - timedelta(hours=12)
    assert parse_time("90m", NOW) == NOW - timedelta(minutes=90)
    assert parse_time("2w", NOW) == NOW - timedelta(weeks=2)
    assert parse_time("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_time("2026-11-01T12:00:00Z") == datetime(2026, 11, 1, 12, tzinfo=UTC)
    east = parse_time("2026-11-01T12:00:00+02:00")
    assert east == datetime(2026, 11, 1, 10, tzinfo=UTC) and east.tzinfo == UTC
    for bad in ("yesterday", "30x", "0d", "2026-13-01"):
        with pytest.raises(PeriodError, match="--since"):
            parse_time(bad, NOW)
    with pytest.raises(PeriodError, match="--until"):
        parse_time("soon", option="--until")


def test_parse_month() -> None:
    assert parse_month("2026-11") == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert parse_month("2026-12")[1] == datetime(2027, 1, 1, tzinfo=UTC)
    for bad in ("2026-13", "2026-1", "Nov 2026", "2026-11-01"):
        with pytest.raises(PeriodError, match="YYYY-MM"):
            parse_month(bad)


def hours(ranges: list[tuple[datetime, datetime]], grain: str) -> list[datetime]:
    """Every hour the ranges of one grain cover (checking they are aligned to the grain)."""
    align = {"hour": floor_hour, "day": floor_day, "month": floor_month}[grain]
    out = []
    for a, b in ranges:
        assert a < b and a == align(a) and b == align(b)
        t = a
        while t < b:
            out.append(t)
            t += timedelta(hours=1)
    return out


@pytest.mark.parametrize("coarsest", ["hour", "day", "month"])
def test_plans_tile_the_range_exactly(coarsest: str) -> None:
    rnd = random.Random(coarsest)
    base = datetime(2025, 12, 20, tzinfo=UTC)
    for _ in range(200):
        a = base + timedelta(minutes=rnd.randrange(60 * 24 * 120))
        b = a + timedelta(minutes=rnd.randrange(1, 60 * 24 * 100))
        p = plan(a, b, coarsest)  # type: ignore[arg-type]
        covered = [h for grain in ("hour", "day", "month") for h in hours(p.ranges[grain], grain)]
        expected = []
        t = floor_hour(a)
        while t < ceil_hour(b):
            expected.append(t)
            t += timedelta(hours=1)
        assert sorted(covered) == expected  # no gap, no overlap
        if coarsest == "hour":
            assert not p.ranges["day"] and not p.ranges["month"]
        if coarsest == "day":
            assert not p.ranges["month"]


def test_day_resolution_for_labels() -> None:
    p = plan(NOW - timedelta(days=3), NOW, "month", "day")
    assert p.start == datetime(2026, 11, 15, tzinfo=UTC)
    assert p.end == datetime(2026, 11, 19, tzinfo=UTC)
    assert not p.ranges["hour"] and p.ranges["day"] == [(p.start, p.end)]


def test_open_ranges_and_offsets() -> None:
    p = plan(None, None, "month")
    assert p.ranges["month"] and not p.ranges["hour"] and not p.ranges["day"]
    local = datetime(2026, 11, 18, 1, 30, tzinfo=timezone(timedelta(hours=3)))
    assert plan(local, None, "hour").start == datetime(2026, 11, 17, 22, tzinfo=UTC)
    with pytest.raises(PeriodError, match="empty"):
        plan(NOW, NOW - timedelta(hours=2), "day")
