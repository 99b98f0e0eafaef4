"""`steward slo ...`: the SLOs with their error budgets and burn rates, drift events, and the
scheduler that evaluates SLOs, drift and remediation rules."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from steward.cli._common import ConfigOption, JsonOption, console, fail, print_json, show_list
from steward.config import ConfigError, Runtime
from steward.drift.sources import Scope
from steward.slo.burn import SloStatus
from steward.slo.evaluate import evaluate_slo, slo_states
from steward.slo.report import status_json
from steward.store.db import make_engine, session_factory, upgrade
from steward.store.models_slo import DriftEvent

slo_app = typer.Typer(
    help="SLOs: error budgets, burn-rate alerts, drift events and the scheduler.",
    no_args_is_help=True,
)


@dataclass
class Store:
    runtime: Runtime
    engine: Engine
    sessions: sessionmaker[Session]


@contextmanager
def open_store(config: str | None) -> Iterator[Store]:
    """Load the configuration, migrate the store and open it; failures become a clean exit."""
    try:
        runtime = Runtime.load(config)
        upgrade(runtime.database_url)
        engine = make_engine(runtime.database_url)
    except ConfigError as exc:
        fail(str(exc).replace("\n", " "))
    except SQLAlchemyError as exc:
        fail(f"cannot open the database: {exc.__class__.__name__}: {exc}")
    try:
        yield Store(runtime, engine, session_factory(engine))
    except SQLAlchemyError as exc:
        fail(f"database error: {exc.__class__.__name__}: {exc}")
    finally:
        engine.dispose()


def parse_at(value: str | None) -> datetime:
    """An ISO 8601 instant (UTC when no offset is given), or now."""
    if value is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--at '{value}' is not an ISO 8601 time, e.g. 2026-11-29T12:00:00Z")
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _burn(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _status_table(statuses: list[SloStatus]) -> Table:
    table = Table(show_lines=False)
    for name in ("SLO", "KIND", "OBJECTIVE", "SLI", "BUDGET LEFT", "BURN RATES", "ALERT"):
        table.add_column(name, no_wrap=name in ("SLO", "ALERT"))
    for st in statuses:
        burns = "\n".join(
            f"{c.alert.long}/{c.alert.short} >{c.alert.factor:g}x: "
            f"{_burn(st.windows[c.alert.long].burn)}/{_burn(st.windows[c.alert.short].burn)}"
            + (" FIRING" if c.firing else "")
            for c in st.checks
        )
        alert = st.severity or "ok"
        table.add_row(
            st.name,
            st.kind,
            f"{st.objective * 100:g}% / {st.window}",
            f"{_pct(st.sli)} ({st.total} events)",
            _pct(st.budget_left),
            burns,
            f"[bold red]{alert}[/]" if st.severity == "page" else alert,
        )
    return table


@slo_app.command("status")
def status(
    name: Annotated[str | None, typer.Argument(help="Only this SLO.", show_default=False)] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Evaluate as of this ISO 8601 time (default: now).")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """SLI, error budget left, burn rate per alert window and alerting state of each SLO."""
    now = parse_at(at)
    with open_store(config) as store:
        slos = store.runtime.config.slos
        if name is not None:
            slos = [s for s in slos if s.name == name]
            if not slos:
                fail(f"SLO '{name}' is not defined (`steward slo list` shows the SLOs)")
        with store.sessions() as s:
            statuses = [evaluate_slo(s, slo, now) for slo in slos]
            states = slo_states(s)
    if as_json:
        print_json([status_json(st, states.get(st.name)) for st in statuses])
        return
    if not statuses:
        typer.echo("no SLOs are defined (add them under `slos:` in the configuration)")
        return
    console().print(_status_table(statuses))


_LIST_COLUMNS = [
    ("NAME", lambda s: s.name),
    ("KIND", lambda s: s.kind),
    ("OBJECTIVE", lambda s: f"{s.objective * 100:g}%"),
    ("WINDOW", lambda s: s.window),
    ("APP", lambda s: s.app or "-"),
    ("MODEL", lambda s: s.model or "-"),
    ("THRESHOLD", lambda s: f"{s.latency_threshold_ms:g} ms" if s.latency_threshold_ms else "-"),
    ("ALERTS", lambda s: ", ".join(f"{a.long}/{a.short}@{a.factor:g}x" for a in s.alerts)),
]  # fmt: skip


@slo_app.command("list")
def list_slos(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """The SLOs defined in the configuration."""
    try:
        runtime = Runtime.load(config)
    except ConfigError as exc:
        fail(str(exc).replace("\n", " "))
    slos = runtime.config.slos
    if as_json:
        print_json([s.model_dump() for s in slos])
        return
    show_list(slos, _LIST_COLUMNS, False, empty="no SLOs are defined")


_DRIFT_COLUMNS = [
    ("TIME", lambda e: e.ts),
    ("SCOPE", lambda e: Scope(e.app_id, e.model).label()),
    ("METRIC", lambda e: e.metric),
    ("TEST", lambda e: e.test),
    ("VALUE", lambda e: f"{e.statistic:.4g}"),
    ("THRESHOLD", lambda e: f"{e.threshold:.4g}"),
    ("P", lambda e: "-" if e.p_value is None else f"{e.p_value:.2g}"),
    ("SEVERITY", lambda e: e.severity),
    ("N (BASE/CUR)", lambda e: f"{e.baseline_n}/{e.current_n}"),
]  # fmt: skip


@slo_app.command("drift")
def drift(
    model: Annotated[str | None, typer.Option("--model", help="Only this model alias.")] = None,
    app: Annotated[str | None, typer.Option("--app", help="Only this app id.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most recent events shown.")] = 50,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Drift events, newest first: metric, statistic, threshold, windows and sample sizes."""
    with open_store(config) as store, store.sessions() as s:
        stmt = select(DriftEvent).order_by(DriftEvent.ts.desc()).limit(limit)
        if model:
            stmt = stmt.where(DriftEvent.model == model)
        if app:
            stmt = stmt.where(DriftEvent.app_id == app)
        events = list(s.scalars(stmt))
    if as_json:
        print_json(
            [{c.name: getattr(e, c.name) for c in DriftEvent.__table__.columns} for e in events]
        )
        return
    show_list(events, _DRIFT_COLUMNS, False, empty="no drift events")


@slo_app.command("worker")
def worker(
    interval: Annotated[
        float | None,
        typer.Option(
            "--interval", min=0.05, help="Seconds between ticks (default: slo_worker.interval_s)."
        ),
    ] = None,
    ticks: Annotated[
        int | None, typer.Option("--ticks", min=1, help="Stop after this many ticks run here.")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Run one tick now and exit.")] = False,
    config: ConfigOption = None,
) -> None:
    """Evaluate SLOs, drift and remediation rules periodically, one replica at a time."""
    from steward.slo.service import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with open_store(config) as store:
        every = interval if interval is not None else store.runtime.config.slo_worker.interval_s
        asyncio.run(run_worker(store.runtime, store.engine, every, 1 if once else ticks))
