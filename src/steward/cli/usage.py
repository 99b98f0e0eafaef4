"""`steward usage` (a report), `steward usage chargeback` and `steward usage rebuild-rollups`."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from steward.cli._common import ConfigOption, console, fail
from steward.config import ConfigError, Runtime
from steward.store.db import make_engine, session_factory, upgrade
from steward.usage import chargeback as cb
from steward.usage.output import iso, row_json, to_csv
from steward.usage.periods import PeriodError, floor_hour, parse_time
from steward.usage.reports import ReportError, ReportRow
from steward.usage.rollup import rebuild
from steward.usage.service import UsageReports

Format = Literal["table", "csv", "json"]

usage_app = typer.Typer(
    help="Usage and cost reports from the rollups: by any dimensions, per hour, day or month; "
    "chargeback CSV; rebuilding the rollups.",
    invoke_without_command=True,
)

ByOption = Annotated[
    str,
    typer.Option(
        "--by",
        "-b",
        help="Dimensions to group by, comma-separated: organisation, team, user, app, agent, "
        "service_account, key, model, provider, upstream_model, end_user, tag:<key>.",
    ),
]
FilterOption = Annotated[
    list[str] | None,
    typer.Option(
        "--filter",
        "-f",
        help="Only usage where DIMENSION=VALUE (a name or id; '(none)' for absent). Repeat it; "
        "the same dimension twice means either value.",
        show_default=False,
    ),
]


@contextmanager
def _service(config: str | None) -> Iterator[tuple[UsageReports, Engine]]:
    """Open the store (migrated to the current schema); clean exits for expected failures."""
    try:
        runtime = Runtime.load(config)
        upgrade(runtime.database_url)
        engine = make_engine(runtime.database_url)
    except ConfigError as exc:
        fail(str(exc).replace("\n", " "))
    except SQLAlchemyError as exc:
        fail(f"cannot open the database: {type(exc).__name__}: {exc.args[0] if exc.args else ''}")
    try:
        yield UsageReports(session_factory(engine), runtime.config.organisation), engine
    except (ReportError, PeriodError) as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        fail(f"database error: {type(exc).__name__}: {exc.args[0] if exc.args else ''}")
    finally:
        engine.dispose()


def parse_filters(values: Sequence[str] | None) -> dict[str, list[str]]:
    """`team=support`, repeated -> {'team': ['support'], ...}."""
    out: dict[str, list[str]] = {}
    for item in values or ():
        dim, sep, value = item.partition("=")
        if not sep or not dim.strip():
            fail(f"--filter '{item}' is not DIMENSION=VALUE (e.g. team=support)")
        out.setdefault(dim.strip(), []).append(value.strip())
    return out


def _dims(by: str) -> list[str]:
    dims = [d.strip() for d in by.split(",") if d.strip()]
    if not dims:
        fail("--by needs at least one dimension, e.g. --by team or --by team,model")
    return dims


def _usd(value: Decimal) -> str:
    return f"{value:,.6f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def _print_table(rows: Sequence[ReportRow], by: Sequence[str], bucketed: bool, title: str) -> None:
    table = Table(title=title, title_justify="left", box=None, pad_edge=False, header_style="bold")
    heads = [*(["BUCKET"] if bucketed else []), *(d.upper() for d in by)]
    for head in heads:
        table.add_column(head, overflow="fold")
    metrics = ["REQUESTS", "ERRORS", "BLOCKED", "INPUT TOK", "OUTPUT TOK", "CACHED TOK"]
    metrics += ["REASONING TOK", "COST USD", "UNPRICED", "P50 MS", "P95 MS"]
    for head in metrics:
        table.add_column(head, justify="right")
    for r in rows:
        lead = [iso(r.bucket) or ""] if bucketed else []
        table.add_row(
            *lead,
            *(r.group[d] for d in by),
            f"{r.requests:,}",
            f"{r.errors:,}",
            f"{r.blocked:,}",
            f"{r.input_tokens:,}",
            f"{r.output_tokens:,}",
            f"{r.cached_tokens:,}",
            f"{r.reasoning_tokens:,}",
            _usd(r.cost_usd),
            f"{r.unpriced_requests:,}",
            _ms(r.latency_p50_ms),
            _ms(r.latency_p95_ms),
        )
    console().print(table)
    total = sum((r.cost_usd for r in rows), Decimal(0))
    unpriced = sum(r.unpriced_requests for r in rows)
    line = f"total: {sum(r.requests for r in rows):,} requests, {_usd(total)} USD"
    if unpriced:
        line += (
            f"; {unpriced:,} requests have no price and are not in the cost "
            "(UNPRICED; see `steward prices` or set a price in the configuration)"
        )
    typer.echo(line)


@usage_app.callback(invoke_without_command=True)
def usage(
    ctx: typer.Context,
    by: ByOption = "team",
    since: Annotated[
        str,
        typer.Option(
            "--since", "-s", help="Start: a duration back from now (30d, 12h), a date or a time."
        ),
    ] = "30d",
    until: Annotated[
        str | None,
        typer.Option("--until", "-u", help="End (exclusive), written like --since. Default: now."),
    ] = None,
    bucket: Annotated[
        Literal["hour", "day", "month"] | None,
        typer.Option("--bucket", help="Split into UTC hours, days or months.", show_default=False),
    ] = None,
    filters: FilterOption = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", "-n", help="Only the N groups that cost most.", show_default=False),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table, csv or json.")] = "table",
    config: ConfigOption = None,
) -> None:
    """Usage and cost by the chosen dimensions (default: by team over the last 30 days). Times
    are UTC and rounded out to whole hours."""
    if ctx.invoked_subcommand is not None:
        return
    dims = _dims(by)
    wanted = parse_filters(filters)
    with _service(config) as (svc, _engine):
        start = parse_time(since)
        end = parse_time(until, option="--until") if until is not None else None
        rows = svc.report(dims, start, end, bucket, wanted, limit)
        missing = not rows and svc.rollups_missing()
    if missing:
        typer.echo(
            "note: the store has usage events but no rollups yet (upgraded from an older "
            "version?); run `steward usage rebuild-rollups`",
            err=True,
        )
    if fmt == "json":
        typer.echo(json.dumps([row_json(r) for r in rows], indent=2, ensure_ascii=False))
    elif fmt == "csv":
        typer.echo(to_csv(rows, dims, bucket is not None), nl=False)
    else:
        span = f"{iso(floor_hour(start))} to {iso(end) if end is not None else 'now'}"
        per = f" per {bucket}" if bucket else ""
        _print_table(rows, dims, bucket is not None, f"Usage by {', '.join(dims)}{per}, {span}")


@usage_app.command("chargeback")
def chargeback_cmd(
    by: ByOption = "team",
    month: Annotated[
        str | None,
        typer.Option("--month", "-m", help="YYYY-MM (UTC). Default: the current month."),
    ] = None,
    filters: FilterOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the CSV to this file instead of stdout."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """One month's cost per group as CSV (kind `charge`), then the usage that has no price
    (kind `unpriced`: requests and tokens, cost left empty), never hidden."""
    dims = _dims(by)
    wanted = parse_filters(filters)
    with _service(config) as (svc, _engine):
        result = svc.chargeback(month or datetime.now(UTC).strftime("%Y-%m"), dims, wanted)
    text = cb.to_csv(result)
    unpriced = result.unpriced
    if output is None:
        typer.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}")
        typer.echo(
            f"wrote {output}: {len(result.lines) - len(unpriced)} charge line(s), "
            f"{_usd(result.total_usd)} USD in {result.month}"
        )
    if unpriced:
        reqs = sum(ln.requests for ln in unpriced)
        toks = sum(ln.input_tokens + ln.output_tokens for ln in unpriced)
        typer.echo(
            f"warning: {reqs:,} request(s) ({toks:,} tokens) in {result.month} have no price; "
            "they are listed as 'unpriced' lines, not counted as free",
            err=True,
        )


@usage_app.command("rebuild-rollups")
def rebuild_cmd(
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            "-s",
            help="Rebuild from the start of this time's UTC month (30d, 2026-11-01). "
            "Default: everything.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Recompute the usage rollups from the raw usage events (after upgrading, or to repair).
    Safe while gateways run: events shipped meanwhile wait for it and are counted once."""
    with _service(config) as (_svc, engine):
        start = parse_time(since) if since is not None else None
        result = rebuild(engine, start, progress=_progress)
    since_text = iso(result.since) if result.since is not None else "the beginning"
    typer.echo(
        f"rebuilt usage rollups from {since_text}: {result.events:,} events, "
        f"{result.rollup_rows:,} rollup rows"
    )


def _progress(events: int) -> None:
    if events % 200_000 == 0:
        typer.echo(f"  {events:,} events...", err=True)


__all__ = ["parse_filters", "usage_app"]
