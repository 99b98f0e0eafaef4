"""The usage service: reports, chargeback and a key's own usage over one session factory. The
admin API, the CLI and the gateway's self-service endpoint are thin front ends over it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from steward.store.models import usage_rollups
from steward.usage.chargeback import Chargeback, chargeback
from steward.usage.periods import floor_day, floor_month
from steward.usage.reports import Bucket, ReportRow, report, rollups_missing

_E10 = Decimal(10) ** 10
_SELF_SUMS = (
    "requests",
    "errors",
    "unpriced_requests",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost_usd_e10",
)


@dataclass(frozen=True, slots=True)
class PeriodUsage:
    """A key's usage in one calendar period (UTC)."""

    start: datetime
    requests: int = 0
    errors: int = 0
    unpriced_requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal = Decimal(0)

    def as_json(self) -> dict[str, Any]:
        return {
            "start": self.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "requests": self.requests,
            "errors": self.errors,
            "unpriced_requests": self.unpriced_requests,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost_usd": float(self.cost_usd),
        }


def key_usage(
    session: Session, key_id: str, now: datetime | None = None
) -> tuple[PeriodUsage, PeriodUsage]:
    """(today, this month) for one key, from two kinds of rollup rows found by the key index."""
    now = now or datetime.now(UTC)
    day, month = floor_day(now), floor_month(now)
    t = usage_rollups
    stmt = (
        select(t.c.grain, *(func.sum(t.c[name]) for name in _SELF_SUMS))
        .where(
            t.c.key_id == key_id,
            or_(
                and_(t.c.grain == "day", t.c.bucket == day),
                and_(t.c.grain == "month", t.c.bucket == month),
            ),
        )
        .group_by(t.c.grain)
    )
    found = {row[0]: [int(v or 0) for v in row[1:]] for row in session.execute(stmt)}

    def period(grain: str, start: datetime) -> PeriodUsage:
        s = found.get(grain)
        if s is None:
            return PeriodUsage(start)
        return PeriodUsage(
            start,
            requests=s[0],
            errors=s[1],
            unpriced_requests=s[2],
            input_tokens=s[3],
            output_tokens=s[4],
            cached_tokens=s[5],
            reasoning_tokens=s[6],
            cost_usd=Decimal(s[7]) / _E10,
        )

    return period("day", day), period("month", month)


class UsageReports:
    """Reports for one store and organisation (`organisation` in the configuration)."""

    def __init__(self, sessions: sessionmaker[Session], organisation: str = "default") -> None:
        self.sessions = sessions
        self.organisation = organisation

    def report(
        self,
        by: Sequence[str],
        since: datetime | None = None,
        until: datetime | None = None,
        bucket: Bucket = None,
        filters: Mapping[str, str | Sequence[str]] | None = None,
        limit: int | None = None,
    ) -> list[ReportRow]:
        with self.sessions() as s:
            return report(
                s,
                by,
                since,
                until,
                bucket,
                filters,
                organisation=self.organisation,
                limit=limit,
            )

    def chargeback(
        self,
        month: str,
        by: Sequence[str],
        filters: Mapping[str, str | Sequence[str]] | None = None,
    ) -> Chargeback:
        with self.sessions() as s:
            return chargeback(s, month, by, filters, organisation=self.organisation)

    def key_usage(
        self, key_id: str, now: datetime | None = None
    ) -> tuple[PeriodUsage, PeriodUsage]:
        with self.sessions() as s:
            return key_usage(s, key_id, now)

    def rollups_missing(self) -> bool:
        with self.sessions() as s:
            return rollups_missing(s)


__all__ = ["PeriodUsage", "UsageReports", "key_usage"]
