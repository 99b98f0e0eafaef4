"""Usage rollups: hour (main dimensions), day and month totals that reports read instead of the
raw events.

`apply(conn, rows)` is called by the event shipper, inside the transaction that inserts a batch
of usage events, with exactly the rows that insert added (`INSERT ... ON CONFLICT DO NOTHING
RETURNING id`). It aggregates them in memory and adds the totals to the rollup tables with one
upsert per table (`ON CONFLICT (...) DO UPDATE SET requests = requests + excluded.requests, ...`).
An event therefore reaches the rollups exactly once: a batch shipped twice inserts nothing the
second time and adds nothing, and a failed transaction adds neither the events nor the totals.

`rebuild(engine, since)` recomputes the rollups from the raw events (after an upgrade, or to
repair), under a lock that keeps the shipper's upserts out while it runs.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from steward.store.models import (
    LATENCY_COLUMNS,
    ROLLUP_SUMS,
    UsageEvent,
    usage_label_rollups,
    usage_rollups,
)
from steward.usage.histogram import bucket_of

MAIN_DIMENSIONS = (
    "team_id",
    "user_id",
    "app_id",
    "agent_id",
    "service_account_id",
    "key_id",
    "model",
    "provider",
    "upstream_model",
)
LABEL_DIMENSIONS = ("label", "value", "team_id", "app_id", "model")
END_USER_LABEL = "end_user"
TAG_PREFIX = "tag:"

# one event's contribution, and a rollup row's totals, as a flat list in this order:
# ROLLUP_SUMS..., latency_ms_total, LATENCY_COLUMNS...
METRICS = (*ROLLUP_SUMS, "latency_ms_total", *LATENCY_COLUMNS)
_N = len(ROLLUP_SUMS)
_LAT_TOTAL = _N
_HIST = _N + 1
_WIDTH = len(METRICS)
_ZERO: list[Any] = [0] * _WIDTH
# `_add` indexes the totals by position: the sums must stay in this order
assert ROLLUP_SUMS == (
    "requests",
    "errors",
    "blocked",
    "priced_requests",
    "unpriced_requests",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "unpriced_input_tokens",
    "unpriced_output_tokens",
    "cost_usd_e10",
), "usage rollup sums were reordered; update rollup._add"
_E10 = Decimal(10) ** 10
_ONE = Decimal(1)

Key = tuple[Any, ...]  # (bucket, *dimensions)
Row = Mapping[Any, Any]  # a usage_events row: a dict from the spool or a RowMapping
Totals = dict[Key, list[Any]]


@dataclass
class Rollups:
    """Totals of a set of events: hourly by the main dimensions, daily by label (end user,
    tag), whose values are too many for hour rows to pay their way."""

    main: Totals
    labels: Totals

    @property
    def empty(self) -> bool:
        return not self.main and not self.labels


# -- events -> totals ---------------------------------------------------------------------------


def hour_of(ts: datetime) -> datetime:
    """The start of the UTC hour of `ts` (naive values are UTC, as SQLite returns them)."""
    if ts.tzinfo is not UTC:
        ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    return ts.replace(minute=0, second=0, microsecond=0)


def cost_e10(cost: Any) -> int:
    """USD -> integer units of 1e-10 USD, rounded half to even."""
    value = cost if isinstance(cost, Decimal) else Decimal(str(cost))
    return int((value * _E10).quantize(_ONE, rounding=ROUND_HALF_EVEN))


def _measure(row: Row) -> tuple[Any, ...]:
    """One event's contribution, computed once for its main row and each of its label rows."""
    get = row.get
    tin = get("input_tokens") or 0
    tout = get("output_tokens") or 0
    cost = get("cost_usd")
    error = (get("status") or 0) >= 400
    blocked = get("guard_action") == "block" or get("error_type") == "content_policy_violation"
    unpriced = cost is None and (not error or tin > 0 or tout > 0)
    # latency of served requests only: fast refusals would flatter the percentiles
    latency = None if error else get("latency_ms")
    return (
        error,
        blocked,
        cost is not None,
        unpriced,
        tin,
        tout,
        get("cached_tokens") or 0,
        get("cache_write_tokens") or 0,
        get("reasoning_tokens") or 0,
        0 if cost is None else cost_e10(cost),
        latency,
        -1 if latency is None else _HIST + bucket_of(latency),
    )


def _add(totals: Totals, key: Key, m: tuple[Any, ...]) -> None:
    v = totals.get(key)
    if v is None:
        v = totals[key] = _ZERO.copy()
    error, blocked, priced, unpriced, tin, tout, cached, written, reasoning, cost, ms, h = m
    v[0] += 1
    if error:
        v[1] += 1
    if blocked:
        v[2] += 1
    if priced:
        v[3] += 1
        v[12] += cost
    if unpriced:
        v[4] += 1
        v[10] += tin
        v[11] += tout
    v[5] += tin
    v[6] += tout
    if cached:
        v[7] += cached
    if written:
        v[8] += written
    if reasoning:
        v[9] += reasoning
    if h >= 0:
        v[_LAT_TOTAL] += ms
        v[h] += 1


def _labels(row: Row) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    end_user = row.get("end_user")
    if end_user:
        out.append((END_USER_LABEL, str(end_user)[:200]))
    tags = row.get("tags")
    if isinstance(tags, Mapping):
        for k, v in tags.items():
            out.append((f"{TAG_PREFIX}{str(k)[:200]}", "" if v is None else str(v)[:200]))
    return out


def aggregate(rows: Iterable[Row], into: Rollups | None = None) -> Rollups:
    """Totals of usage-event rows (dicts or row mappings with usage_events' columns): hourly
    main rows, daily label rows; adds to `into` when given."""
    out = into if into is not None else Rollups({}, {})
    main, labels = out.main, out.labels
    for row in rows:
        hour = hour_of(row["ts"])
        m = _measure(row)
        team = row.get("team_id") or ""
        app = row.get("app_id") or ""
        model = row.get("model") or ""
        _add(
            main,
            (
                hour,
                team,
                row.get("user_id") or "",
                app,
                row.get("agent_id") or "",
                row.get("service_account_id") or "",
                row.get("key_id") or "",
                model,
                row.get("provider") or "",
                row.get("upstream_model") or "",
            ),
            m,
        )
        day = hour.replace(hour=0)
        for label, value in _labels(row):
            _add(labels, (day, label, value, team, app, model), m)
    return out


def _roll(totals: Totals, grain: str) -> Totals:
    """The same totals over the day or month holding each key's bucket."""
    out: Totals = {}
    for key, v in totals.items():
        b = key[0].replace(hour=0) if grain == "day" else key[0].replace(day=1, hour=0)
        k = (b, *key[1:])
        acc = out.get(k)
        out[k] = v.copy() if acc is None else list(map(operator.add, acc, v))
    return out


def _coarsen(totals: Totals, finest: str, ordered: bool) -> list[tuple[str, Key, list[Any]]]:
    """(grain, key, totals) for the `finest` rows and the coarser rows they add up to;
    `ordered`: sorted, so that concurrent writers (PostgreSQL) lock rows in the same order and
    cannot deadlock. SQLite has one writer at a time and skips the sort."""
    grains = {finest: totals}
    if finest == "hour":
        grains["day"] = _roll(totals, "day")
    grains["month"] = _roll(grains["day"], "month")
    out = [(grain, k, v) for grain, t in grains.items() for k, v in t.items()]
    if ordered:
        out.sort(key=operator.itemgetter(0, 1))
    return out


# -- totals -> tables ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _upsert(dialect: str, table: Table) -> Insert:
    keys = [c.name for c in table.primary_key.columns]
    if dialect == "postgresql":
        pg = postgresql.insert(table)
        return pg.on_conflict_do_update(
            index_elements=keys, set_={n: table.c[n] + pg.excluded[n] for n in METRICS}
        )
    if dialect == "sqlite":
        lite = sqlite.insert(table)
        return lite.on_conflict_do_update(
            index_elements=keys, set_={n: table.c[n] + lite.excluded[n] for n in METRICS}
        )
    raise RuntimeError(f"usage rollups support sqlite and postgresql, not {dialect}")


@dataclass(frozen=True)
class _Compiled:
    """The upsert as driver SQL: executed with executemany straight on the DB-API cursor,
    without SQLAlchemy's per-row parameter processing (4x cheaper for these wide rows)."""

    sql: str
    positional: bool  # placeholders by position (SQLite) or by name (psycopg)
    order: tuple[int, ...] | None  # value index per placeholder, when not in column order
    names: tuple[str, ...]
    bucket: Callable[[Any], Any] | None  # the dialect's conversion of the bucket column


@functools.lru_cache(maxsize=8)
def _compiled(dialect: Dialect, table: Table, dims: tuple[str, ...]) -> _Compiled:
    names = ("grain", "bucket", *dims, *METRICS)
    assert set(names) == set(table.c.keys()), "rollup columns and METRICS are out of step"
    compiled = _upsert(dialect.name, table).compile(dialect=dialect)
    order = None
    if compiled.positiontup is not None:
        order = tuple(names.index(name) for name in compiled.positiontup)
        if order == tuple(range(len(names))):
            order = None  # placeholders in column order: the values need no reordering
    positional = compiled.positiontup is not None
    bucket = table.c.bucket.type.dialect_impl(dialect).bind_processor(dialect)
    return _Compiled(compiled.string, positional, order, names, bucket)


def _execute(conn: Connection, table: Table, dims: tuple[str, ...], rows: list[Any]) -> None:
    up = _compiled(conn.dialect, table, dims)
    buckets: dict[datetime, Any] = {}  # few distinct buckets per batch: convert each once
    if up.bucket is not None:
        for _, key, _ in rows:
            if key[0] not in buckets:
                buckets[key[0]] = up.bucket(key[0])
    else:
        buckets = {key[0]: key[0] for _, key, _ in rows}
    values = [(grain, buckets[key[0]], *key[1:], *v) for grain, key, v in rows]
    if not up.positional:
        conn.exec_driver_sql(up.sql, [dict(zip(up.names, row, strict=True)) for row in values])
    elif up.order is None:
        conn.exec_driver_sql(up.sql, values)
    else:
        order = up.order
        conn.exec_driver_sql(up.sql, [tuple(row[i] for i in order) for row in values])


def write(conn: Connection, rollups: Rollups) -> int:
    """Add totals (and the day and month totals they imply) to the rollup tables in the
    connection's transaction. Returns the number of rollup rows touched."""
    touched = 0
    for table, dims, totals, finest in (
        (usage_rollups, MAIN_DIMENSIONS, rollups.main, "hour"),
        (usage_label_rollups, LABEL_DIMENSIONS, rollups.labels, "day"),
    ):
        if not totals:
            continue
        rows = _coarsen(totals, finest, ordered=conn.dialect.name != "sqlite")
        _execute(conn, table, dims, rows)
        touched += len(rows)
    return touched


def apply(conn: Connection, rows: Sequence[Row]) -> None:
    """The shipper's hook: add newly inserted usage events to the rollups, in its transaction."""
    if rows:
        write(conn, aggregate(rows))


# -- rebuilding from the raw events -------------------------------------------------------------

_SOURCE_COLUMNS = (
    "id",
    "ts",
    *MAIN_DIMENSIONS,
    "status",
    "error_type",
    "guard_action",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "latency_ms",
    "end_user",
    "tags",
)


def month_start(ts: datetime) -> datetime:
    return hour_of(ts).replace(day=1, hour=0)


@dataclass(frozen=True, slots=True)
class RebuildResult:
    since: datetime | None  # the month start the rebuild began at (None: everything)
    events: int
    rollup_rows: int


def _lock(conn: Connection) -> None:
    """Keep the shipper's rollup upserts out until the rebuild commits. On SQLite the delete
    that follows takes the database's write lock, which does the same."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE usage_rollups, usage_label_rollups IN EXCLUSIVE MODE")


def rebuild(
    engine: Engine,
    since: datetime | None = None,
    *,
    chunk: int = 20_000,
    progress: Callable[[int], None] | None = None,
) -> RebuildResult:
    """Recompute the rollups from usage_events, from the start of the UTC month of `since`
    (month rollups must stay whole) or from the beginning. One transaction: reports see the
    old totals until it commits; events shipped meanwhile wait and are then added once."""
    start = month_start(since) if since is not None else None
    columns = [UsageEvent.__table__.c[name] for name in _SOURCE_COLUMNS]
    events = 0
    with engine.begin() as conn:
        _lock(conn)
        for table in (usage_rollups, usage_label_rollups):
            stmt = delete(table)
            conn.execute(stmt if start is None else stmt.where(table.c.bucket >= start))
        last = ""
        while True:
            query = select(*columns).where(UsageEvent.id > last)
            if start is not None:
                query = query.where(UsageEvent.ts >= start)
            page = conn.execute(query.order_by(UsageEvent.id).limit(chunk)).mappings().all()
            if not page:
                break
            write(conn, aggregate(page))
            events += len(page)
            last = page[-1]["id"]
            if progress is not None:
                progress(events)
        rows = sum(
            int(conn.scalar(select(func.count()).select_from(t)) or 0)
            for t in (usage_rollups, usage_label_rollups)
        )
    return RebuildResult(since=start, events=events, rollup_rows=rows)


__all__ = [
    "END_USER_LABEL",
    "LABEL_DIMENSIONS",
    "MAIN_DIMENSIONS",
    "METRICS",
    "TAG_PREFIX",
    "RebuildResult",
    "Rollups",
    "aggregate",
    "apply",
    "cost_e10",
    "hour_of",
    "month_start",
    "rebuild",
    "write",
]
