"""Time for usage reports: parsing `--since 30d`, UTC calendar buckets, and splitting a range
into the coarsest rollup rows that cover it exactly (months, then days, then hours)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

Grain = Literal["hour", "day", "month"]
GRAINS: tuple[Grain, ...] = ("hour", "day", "month")
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# the bounds of an open range: whole months, so any grain covers them
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)

_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_MONTH = re.compile(r"^\s*(\d{4})-(\d{2})\s*$")


class PeriodError(ValueError):
    """A time or month the user wrote that cannot be read; the message says what to write."""


def utc(value: datetime) -> datetime:
    """Aware UTC (naive values are taken as UTC, as SQLite returns them)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def floor_hour(t: datetime) -> datetime:
    return utc(t).replace(minute=0, second=0, microsecond=0)


def ceil_hour(t: datetime) -> datetime:
    f = floor_hour(t)
    return f if f == utc(t) else f + HOUR


def floor_day(t: datetime) -> datetime:
    return floor_hour(t).replace(hour=0)


def ceil_day(t: datetime) -> datetime:
    f = floor_day(t)
    return f if f == utc(t) else f + DAY


def floor_month(t: datetime) -> datetime:
    return floor_day(t).replace(day=1)


def next_month(t: datetime) -> datetime:
    m = floor_month(t)
    return m.replace(year=m.year + 1, month=1) if m.month == 12 else m.replace(month=m.month + 1)


def ceil_month(t: datetime) -> datetime:
    f = floor_month(t)
    return f if f == utc(t) else next_month(f)


def truncate(t: datetime, grain: Grain) -> datetime:
    """The start of the hour, day or month holding `t`."""
    if grain == "hour":
        return floor_hour(t)
    return floor_day(t) if grain == "day" else floor_month(t)


def parse_time(text: str, now: datetime | None = None, *, option: str = "--since") -> datetime:
    """A duration back from now (`30d`, `12h`, `90m`, `2w`), a date (`2026-11-01`, midnight
    UTC) or an ISO 8601 time (UTC unless it carries an offset)."""
    now = utc(now) if now is not None else datetime.now(UTC)
    match = _DURATION.match(text)
    if match is not None:
        amount = int(match.group(1))
        if amount <= 0:
            raise PeriodError(f"{option} '{text}': the duration must be greater than zero")
        try:
            return now - timedelta(**{_UNITS[match.group(2).lower()]: amount})
        except OverflowError:
            raise PeriodError(f"{option} '{text}': the duration is too long") from None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(
            f"{option} '{text}' is neither a duration (30d, 12h, 90m, 2w) nor a date or time "
            "(2026-11-01, 2026-11-01T12:00:00Z)"
        ) from None
    return utc(when)


def parse_month(text: str) -> tuple[datetime, datetime]:
    """`2026-11` -> [2026-11-01, 2026-12-01) in UTC."""
    match = _MONTH.match(text)
    month = int(match.group(2)) if match else 0
    if match is None or not 1 <= month <= 12:
        raise PeriodError(f"month '{text}' is not a month; write YYYY-MM, e.g. 2026-11")
    start = datetime(int(match.group(1)), month, 1, tzinfo=UTC)
    return start, next_month(start)


@dataclass
class Plan:
    """The rollup rows that cover [start, end) exactly: ranges of bucket starts per grain."""

    start: datetime
    end: datetime
    ranges: dict[Grain, list[tuple[datetime, datetime]]] = field(
        default_factory=lambda: {g: [] for g in GRAINS}
    )

    def add(self, grain: Grain, a: datetime, b: datetime) -> None:
        if a < b:
            self.ranges[grain].append((a, b))


def plan(
    since: datetime | None, until: datetime | None, coarsest: Grain, finest: Grain = "hour"
) -> Plan:
    """Cover [since, until) with whole rollup buckets from `finest` to `coarsest`. `since` is
    rounded down and `until` up to a whole bucket of `finest` (an hour, or a day for label
    rollups, which keep no hours). Open ends reach the first and the last possible bucket."""
    if finest == "day":
        start = floor_day(since) if since is not None else EARLIEST
        end = ceil_day(until) if until is not None else LATEST
    else:
        start = floor_hour(since) if since is not None else EARLIEST
        end = ceil_hour(until) if until is not None else LATEST
    if start >= end:
        raise PeriodError("the time range is empty: --since must be before --until")
    out = Plan(start, end)
    if coarsest == "hour":
        out.add("hour", start, end)
        return out
    d0, d1 = ceil_day(start), floor_day(end)
    if d0 >= d1:
        out.add("hour", start, end)
        return out
    out.add("hour", start, d0)
    out.add("hour", d1, end)
    m0, m1 = ceil_month(d0), floor_month(d1)
    if coarsest == "day" or m0 >= m1:
        out.add("day", d0, d1)
        return out
    out.add("day", d0, m0)
    out.add("day", m1, d1)
    out.add("month", m0, m1)
    return out


__all__ = [
    "EARLIEST",
    "GRAINS",
    "LATEST",
    "Grain",
    "PeriodError",
    "Plan",
    "ceil_day",
    "ceil_hour",
    "floor_day",
    "floor_hour",
    "floor_month",
    "next_month",
    "parse_month",
    "parse_time",
    "plan",
    "truncate",
    "utc",
]
