"""Usage reports over any combination of dimensions and a time range, from the rollup tables
only (never the raw events), with names resolved.

Dimensions: organisation (the configured name), team, user, app, agent, service_account, key,
model, provider, upstream_model, end_user and tag:<key>. The last two are labels: they live in
their own rollup (day and month rows only), which also carries team, app and model, so a report
may use one label together with those three, over whole days. Buckets: none (totals), hour,
day or month (UTC). A range is covered by whole month rows, then day rows, then hour rows, so a
30-day report reads about 30 days' worth of day rows plus the hours at either edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import BigInteger, ColumnElement, Table, cast, func, or_, select
from sqlalchemy.orm import Session

from steward.store.models import (
    Agent,
    ApiKey,
    App,
    ServiceAccount,
    Team,
    UsageEvent,
    User,
    usage_label_rollups,
    usage_rollups,
)
from steward.usage.histogram import quantiles
from steward.usage.periods import HOUR, Grain, PeriodError, Plan, plan, truncate
from steward.usage.rollup import END_USER_LABEL, METRICS, TAG_PREFIX

Bucket = Literal["hour", "day", "month"] | None
NONE_LABEL = "(none)"

# dimension -> its column in usage_rollups (None: label-only)
_MAIN: dict[str, str] = {
    "team": "team_id",
    "user": "user_id",
    "app": "app_id",
    "agent": "agent_id",
    "service_account": "service_account_id",
    "key": "key_id",
    "model": "model",
    "provider": "provider",
    "upstream_model": "upstream_model",
}
_WITH_LABELS: dict[str, str] = {"team": "team_id", "app": "app_id", "model": "model"}
_NAMED: dict[str, Any] = {
    "team": Team,
    "user": User,
    "app": App,
    "agent": Agent,
    "service_account": ServiceAccount,
}
DIMENSIONS = ("organisation", *_MAIN, END_USER_LABEL, f"{TAG_PREFIX}<key>")
_N_SUMS = METRICS.index("latency_ms_total")


def _sums(table: Table) -> list[ColumnElement[Any]]:
    """SUM of every metric. Integer sums are cast back to BIGINT: PostgreSQL sums BIGINT as
    NUMERIC, which the driver would turn into one Decimal per value (slow for wide rows)."""
    return [
        func.sum(table.c[m]) if m == "latency_ms_total" else cast(func.sum(table.c[m]), BigInteger)
        for m in METRICS
    ]


_SUMS = {t.name: _sums(t) for t in (usage_rollups, usage_label_rollups)}
_HIST = _N_SUMS + 1
_E10 = Decimal(10) ** 10


class ReportError(ValueError):
    """A report that cannot be made as asked; the message says what to change."""

    def __init__(self, message: str, code: str = "invalid_report") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True, slots=True)
class ReportRow:
    """Totals of one group (and bucket). `group` holds display values (names, key prefixes,
    `(none)` when absent), `ids` the stored identifiers (None when absent)."""

    group: dict[str, str]
    ids: dict[str, str | None]
    bucket: datetime | None
    requests: int
    errors: int
    blocked: int
    priced_requests: int
    unpriced_requests: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    unpriced_input_tokens: int
    unpriced_output_tokens: int
    cost_usd: Decimal  # priced requests only; see unpriced_*
    latency_avg_ms: float | None  # over successful requests
    latency_p50_ms: float | None  # from the merged histogram: within 11.3% (histogram.py)
    latency_p95_ms: float | None


# -- the query ----------------------------------------------------------------------------------


def _check_dimension(name: str) -> None:
    if name == "organisation" or name in _MAIN or name == END_USER_LABEL:
        return
    if name.startswith(TAG_PREFIX) and len(name) > len(TAG_PREFIX):
        return
    raise ReportError(
        f"unknown dimension '{name}'; use {', '.join(DIMENSIONS)}", code="unknown_dimension"
    )


def _label_of(dimensions: Iterable[str]) -> str | None:
    """The one label (end_user or tag:<key>) a report uses, if any; checks the combination."""
    dims = set(dimensions) - {"organisation"}
    for d in dims:
        _check_dimension(d)
    labels = sorted(d for d in dims if d == END_USER_LABEL or d.startswith(TAG_PREFIX))
    if not labels:
        return None
    if len(labels) > 1:
        raise ReportError(
            f"a report can use one of end_user and tag:<key> at a time, not {' and '.join(labels)}",
            code="unsupported_combination",
        )
    others = sorted(dims - set(labels) - set(_WITH_LABELS))
    if others:
        raise ReportError(
            f"{labels[0]} can be combined with team, app and model only, not {', '.join(others)}",
            code="unsupported_combination",
        )
    return labels[0]


def _lookup(session: Session, dim: str, ref: str) -> list[str]:
    """Stored values matching what the user wrote: an id or a name (a key: id, prefix or
    name), `(none)` for absent, anything else literally."""
    if ref in (NONE_LABEL, ""):
        return [""]
    if dim == "key":
        hits = session.scalars(
            select(ApiKey.id).where(or_(ApiKey.id == ref, ApiKey.prefix == ref, ApiKey.name == ref))
        ).all()
    elif dim in _NAMED:
        model = _NAMED[dim]
        hits = session.scalars(
            select(model.id).where(or_(model.id == ref, model.name == ref))
        ).all()
    else:
        return [ref]
    if not hits:
        what = dim.replace("_", " ")
        raise ReportError(f"no {what} '{ref}'; check the name or id", code=f"unknown_{dim}")
    return list(hits)


_Totals = dict[tuple[tuple[str, ...], datetime | None], list[Any]]


@dataclass
class _Scan:
    """One rollup table grouped by some of its columns, restricted by filters, over a plan."""

    session: Session
    covered: Plan
    bucket: Bucket

    def totals(
        self, table: Table, columns: Sequence[str], where: Sequence[ColumnElement[bool]]
    ) -> _Totals:
        into: _Totals = {}
        for grain, ranges in self.covered.ranges.items():
            for a, b in ranges:
                self._collect(table, columns, where, grain, a, b, into)
        return into

    def _collect(
        self,
        t: Table,
        columns: Sequence[str],
        where: Sequence[ColumnElement[bool]],
        grain: Grain,
        a: datetime,
        b: datetime,
        into: _Totals,
    ) -> None:
        """Sum the rows of one grain in [a, b) into `into`. A range inside one output bucket
        (the hours at the edges of a daily report) is summed whole, not row by row."""
        groups = [t.c[c] for c in columns]
        whole: datetime | None = None
        if self.bucket is not None:
            whole = truncate(a, self.bucket)
            if whole != truncate(b - HOUR, self.bucket):
                whole = None
                groups.append(t.c.bucket)
        stmt = select(*groups, *_SUMS[t.name]).where(
            t.c.grain == grain, t.c.bucket >= a, t.c.bucket < b, *where
        )
        if groups:
            stmt = stmt.group_by(*groups)
        n, n_dims = len(groups), len(columns)
        bucket = self.bucket
        for row in self.session.execute(stmt):
            out = whole if n == n_dims or bucket is None else truncate(row[n_dims], bucket)
            _merge(into, (tuple(row[:n_dims]), out), row[n:])


def _merge(into: _Totals, key: tuple[tuple[str, ...], datetime | None], sums: Any) -> None:
    acc = into.get(key)
    if acc is None:
        into[key] = [0 if v is None else v for v in sums]
        return
    for i, v in enumerate(sums):
        if v is not None:
            acc[i] += v


@dataclass
class _Request:
    """A report request with its filters resolved to stored values."""

    by: list[str]  # without organisation
    filters: dict[str, list[str]]  # dimension -> stored values, without organisation
    label: str | None

    def where(self, table: Table, columns: Mapping[str, str]) -> list[ColumnElement[bool]]:
        return [
            table.c[columns[d]].in_(values) for d, values in self.filters.items() if d != self.label
        ]


def _main_totals(scan: _Scan, req: _Request) -> _Totals:
    return scan.totals(usage_rollups, [_MAIN[d] for d in req.by], req.where(usage_rollups, _MAIN))


def _label_totals(scan: _Scan, req: _Request, label: str) -> _Totals:
    """Rows per label value, plus `(none)` rows for the requests without one: the main totals
    minus the label totals of the same group. Every sum (histogram counts included) is
    additive and an event has at most one value per label, so the difference is exact."""
    t = usage_label_rollups
    columns = {**_WITH_LABELS, label: "value"}
    base = [t.c.label == label, *req.where(t, columns)]
    wanted = req.filters.get(label)  # None: every value
    named = None if wanted is None else [v for v in wanted if v]
    out: _Totals = {}
    if named is None or named:
        where = base if named is None else [*base, t.c.value.in_(named)]
        out = scan.totals(t, [columns[d] for d in req.by], where)
    if wanted is not None and "" not in wanted:
        return out
    others = [d for d in req.by if d != label]
    at = req.by.index(label) if label in req.by else None
    if named is None and at is not None:  # every value is in `out` already: sum them up
        labelled: _Totals = {}
        for (values, b), sums in out.items():
            _merge(labelled, ((*values[:at], *values[at + 1 :]), b), sums)
    else:
        labelled = scan.totals(t, [columns[d] for d in others], base)
    for (values, b), sums in _main_totals(scan, _Request(others, req.filters, label)).items():
        rest = sums
        minus = labelled.get((values, b))
        if minus is not None:
            rest = [x - y for x, y in zip(sums, minus, strict=True)]
        if rest[0] > 0:
            key = values if at is None else (*values[:at], "", *values[at:])
            _merge(out, (key, b), rest)
    return out


# -- names --------------------------------------------------------------------------------------


def _names(session: Session, dim: str, ids: set[str]) -> dict[str, str]:
    ids.discard("")
    if not ids or (dim not in _NAMED and dim != "key"):
        return {}
    out: dict[str, str] = {}
    chunk = sorted(ids)
    for i in range(0, len(chunk), 500):
        part = chunk[i : i + 500]
        if dim == "key":
            stmt = select(ApiKey.id, ApiKey.prefix).where(ApiKey.id.in_(part))
        else:
            model = _NAMED[dim]
            stmt = select(model.id, model.name).where(model.id.in_(part))
        out.update({row[0]: row[1] for row in session.execute(stmt)})
    return out


def _row(
    by: Sequence[str],
    values: tuple[str, ...],
    bucket: datetime | None,
    sums: list[Any],
    names: dict[str, dict[str, str]],
    org: str,
) -> ReportRow:
    group: dict[str, str] = {}
    ids: dict[str, str | None] = {}
    it = iter(values)
    for dim in by:
        if dim == "organisation":
            group[dim], ids[dim] = org, org
            continue
        value = str(next(it))
        ids[dim] = value or None
        group[dim] = names.get(dim, {}).get(value, value) if value else NONE_LABEL
    s = [int(v) for v in sums[:_N_SUMS]]
    hist = [int(v) for v in sums[_HIST:]]
    served = sum(hist)
    p50, p95 = quantiles(hist, (0.50, 0.95))
    return ReportRow(
        group=group,
        ids=ids,
        bucket=bucket,
        requests=s[0],
        errors=s[1],
        blocked=s[2],
        priced_requests=s[3],
        unpriced_requests=s[4],
        input_tokens=s[5],
        output_tokens=s[6],
        cached_tokens=s[7],
        cache_write_tokens=s[8],
        reasoning_tokens=s[9],
        unpriced_input_tokens=s[10],
        unpriced_output_tokens=s[11],
        cost_usd=Decimal(s[12]) / _E10,
        latency_avg_ms=float(sums[_N_SUMS]) / served if served else None,
        latency_p50_ms=p50,
        latency_p95_ms=p95,
    )


# -- the report ---------------------------------------------------------------------------------


def _coarsest(bucket: Bucket) -> Grain:
    if bucket not in (None, "hour", "day", "month"):
        raise ReportError(f"unknown bucket '{bucket}'; use hour, day or month", "invalid_bucket")
    return "month" if bucket is None else bucket


def report(
    session: Session,
    by: Sequence[str],
    since: datetime | None = None,
    until: datetime | None = None,
    bucket: Bucket = None,
    filters: Mapping[str, str | Sequence[str]] | None = None,
    *,
    organisation: str = "default",
    limit: int | None = None,
) -> list[ReportRow]:
    """Usage per combination of the `by` dimensions (and per bucket), within [since, until)
    rounded out to whole hours (whole days for end_user and tag reports), restricted by
    `filters` (dimension -> name/id or list of them).
    Sorted by bucket, then cost and requests, largest first; `limit` keeps the top groups by
    cost over the whole range (with all their buckets)."""
    by = list(dict.fromkeys(by))
    wanted = {d: [v] if isinstance(v, str) else list(v) for d, v in (filters or {}).items()}
    label = _label_of([*by, *wanted])
    if label is not None and bucket == "hour":
        raise ReportError(
            f"{label} is rolled up per day, not per hour; use bucket day or month",
            code="unsupported_combination",
        )
    try:
        covered = plan(since, until, _coarsest(bucket), "hour" if label is None else "day")
        scan = _Scan(session, covered, bucket)
    except PeriodError as exc:
        raise ReportError(str(exc), "invalid_range") from None
    if organisation not in wanted.pop("organisation", [organisation]):
        return []
    req = _Request(
        [d for d in by if d != "organisation"],
        {d: [s for ref in refs for s in _lookup(session, d, ref)] for d, refs in wanted.items()},
        label,
    )
    totals = _main_totals(scan, req) if label is None else _label_totals(scan, req, label)
    names = {
        dim: _names(session, dim, {key[0][i] for key in totals}) for i, dim in enumerate(req.by)
    }
    rows = [
        _row(by, values, b, sums, names, organisation)
        for (values, b), sums in totals.items()
        if sums[0]
    ]
    start = scan.covered.start
    rows.sort(key=lambda r: (r.bucket or start, -r.cost_usd, -r.requests, *r.group.values()))
    return _top(rows, limit) if limit is not None else rows


def _top(rows: list[ReportRow], limit: int) -> list[ReportRow]:
    if limit < 1:
        raise ReportError(f"limit must be at least 1, not {limit}", code="invalid_limit")
    score: dict[tuple[str, ...], tuple[Decimal, int]] = {}
    for r in rows:
        k = tuple(r.group.values())
        cost, reqs = score.get(k, (Decimal(0), 0))
        score[k] = (cost + r.cost_usd, reqs + r.requests)
    keep = set(sorted(score, key=lambda k: (-score[k][0], -score[k][1], k))[:limit])
    return [r for r in rows if tuple(r.group.values()) in keep]


def rollups_missing(session: Session) -> bool:
    """True when usage events exist but no rollups do (an upgraded store not yet rebuilt)."""
    has_events = session.scalar(select(UsageEvent.id).limit(1)) is not None
    return has_events and session.scalar(select(usage_rollups.c.grain).limit(1)) is None


__all__ = [
    "DIMENSIONS",
    "NONE_LABEL",
    "Bucket",
    "ReportError",
    "ReportRow",
    "report",
    "rollups_missing",
]
