"""Chargeback: one calendar month's cost per group, as CSV for finance. Usage that has no price
is listed in rows of its own (kind `unpriced`: requests and tokens, no cost), never dropped and
never counted as free."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from steward.usage.periods import PeriodError, parse_month
from steward.usage.reports import ReportError, report

CHARGE = "charge"
UNPRICED = "unpriced"


@dataclass(frozen=True, slots=True)
class ChargebackLine:
    """A group's priced usage (`charge`) or its usage without a price (`unpriced`)."""

    kind: str
    group: dict[str, str]
    requests: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None  # None on unpriced lines: unknown, not zero


@dataclass(frozen=True, slots=True)
class Chargeback:
    month: str
    by: list[str]
    lines: list[ChargebackLine]

    @property
    def total_usd(self) -> Decimal:
        return sum((ln.cost_usd or Decimal(0) for ln in self.lines), Decimal(0))

    @property
    def unpriced(self) -> list[ChargebackLine]:
        return [ln for ln in self.lines if ln.kind == UNPRICED]


def chargeback(
    session: Session,
    month: str,
    by: Sequence[str],
    filters: Mapping[str, str | Sequence[str]] | None = None,
    *,
    organisation: str = "default",
) -> Chargeback:
    """The month's (`YYYY-MM`, UTC) charges per group, largest first, then the unpriced usage."""
    try:
        start, end = parse_month(month)
    except PeriodError as exc:
        raise ReportError(str(exc), "invalid_month") from None
    if not by:
        raise ReportError("chargeback needs at least one dimension to group by, e.g. team")
    rows = report(session, by, start, end, None, filters, organisation=organisation)
    charges = [
        ChargebackLine(
            CHARGE,
            r.group,
            r.priced_requests,
            r.input_tokens - r.unpriced_input_tokens,
            r.output_tokens - r.unpriced_output_tokens,
            r.cost_usd,
        )
        for r in rows
        if r.priced_requests
    ]
    unpriced = [
        ChargebackLine(
            UNPRICED,
            r.group,
            r.unpriced_requests,
            r.unpriced_input_tokens,
            r.unpriced_output_tokens,
            None,
        )
        for r in rows
        if r.unpriced_requests
    ]
    unpriced.sort(key=lambda ln: (-ln.requests, *ln.group.values()))
    return Chargeback(start.strftime("%Y-%m"), list(by), charges + unpriced)


def to_csv(cb: Chargeback) -> str:
    """month, kind, the dimensions, requests, input_tokens, output_tokens, cost_usd (exact,
    empty on unpriced lines)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["month", "kind", *cb.by, "requests", "input_tokens", "output_tokens", "cost_usd"])
    for ln in cb.lines:
        cost = "" if ln.cost_usd is None else f"{ln.cost_usd:.10f}"
        w.writerow(
            [cb.month, ln.kind, *(ln.group[d] for d in cb.by)]
            + [ln.requests, ln.input_tokens, ln.output_tokens, cost]
        )
    return out.getvalue()


__all__ = ["CHARGE", "UNPRICED", "Chargeback", "ChargebackLine", "chargeback", "to_csv"]
