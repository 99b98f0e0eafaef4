"""`steward eval ...`: the evaluation worker, golden-dataset runs, their comparison, records,
and the retention purge."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from steward.cli._common import ConfigOption, JsonOption, console, fail
from steward.config import ConfigError, Runtime

eval_app = typer.Typer(
    help="Continuous evaluation: the worker over sampled live traffic, golden-dataset runs and "
    "their comparison, evaluation records.",
    no_args_is_help=True,
)


@contextmanager
def _store(config: str | None) -> Iterator[tuple[Runtime, sessionmaker[Session]]]:
    """The runtime and a session factory on the migrated store; clean exits on failure."""
    from steward.store.db import make_engine, session_factory, upgrade

    try:
        runtime = Runtime.load(config)
        upgrade(runtime.database_url)
        engine = make_engine(runtime.database_url)
    except ConfigError as exc:
        fail(str(exc).replace("\n", " "))
    except SQLAlchemyError as exc:
        fail(f"cannot open the database: {type(exc).__name__}: {exc.args[0] if exc.args else ''}")
    try:
        yield runtime, session_factory(engine)
    except SQLAlchemyError as exc:
        fail(f"database error: {type(exc).__name__}: {exc.args[0] if exc.args else ''}")
    finally:
        engine.dispose()


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _num(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@eval_app.command("worker")
def worker(
    config: ConfigOption = None,
    once: Annotated[
        bool, typer.Option("--once", help="Evaluate what is pending (all batches), then exit.")
    ] = False,
    duration: Annotated[
        float | None,
        typer.Option("--duration", help="Stop after this many seconds.", show_default=False),
    ] = None,
) -> None:
    """Evaluate sampled live requests with the configured evaluators (one replica at a time)."""
    from steward.evals.worker import make_worker
    from steward.observability.setup import build_telemetry

    with _store(config) as (runtime, sessions):
        telemetry = build_telemetry(runtime.config.observability)
        w = make_worker(runtime, sessions, telemetry)
        names = ", ".join(e.name for e in w.evaluators) or "none"
        console().print(f"evaluators: {names}", highlight=False)

        async def main() -> None:
            if once:
                while True:
                    result = await w.run_once()
                    if result.locked_out:
                        fail("another worker holds the evaluation lock; try again later")
                    if result.samples < w.settings.worker.batch:
                        break
                await asyncio.to_thread(w.lock.release)
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with suppress(NotImplementedError):
                    loop.add_signal_handler(sig, stop.set)
            if duration is not None:
                loop.call_later(duration, stop.set)
            await w.run(stop)

        try:
            asyncio.run(main())
        finally:
            if telemetry is not None:
                telemetry.shutdown()
        console().print(f"evaluated {w.evaluated} sample(s)", highlight=False)


@eval_app.command("run")
def run(
    dataset: Annotated[
        str, typer.Option("--dataset", "-d", help="Golden dataset (JSONL).", show_default=False)
    ],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model alias to evaluate.", show_default=False)
    ],
    evaluators: Annotated[
        str | None,
        typer.Option(
            "--evaluators",
            "-e",
            help="Comma-separated evaluator names or kinds (default: the configured set).",
            show_default=False,
        ),
    ] = None,
    upstream_model: Annotated[
        str | None,
        typer.Option(
            "--upstream-model",
            help="Ask this upstream model on the alias's provider instead (a candidate).",
            show_default=False,
        ),
    ] = None,
    gateway: Annotated[
        str | None,
        typer.Option(
            "--gateway", help="Go through a running gateway at this URL.", show_default=False
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            envvar="STEWARD_API_KEY",
            help="API key for --gateway (or STEWARD_API_KEY).",
            show_default=False,
        ),
    ] = None,
    label: Annotated[
        str | None, typer.Option("--label", help="A note stored with the run.", show_default=False)
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=64, help="Items asked at once.")
    ] = 4,
    min_pass_rate: Annotated[
        float | None,
        typer.Option(
            "--min-pass-rate",
            min=0.0,
            max=1.0,
            help="Exit 3 when an evaluator's pass rate is below this (0-1).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a golden dataset through a model and score every answer; the run is stored."""
    from steward.evals.datasets import DatasetError, load_dataset
    from steward.evals.evaluators import EvaluatorUnavailable, build_evaluators, close_evaluators
    from steward.evals.runs import run_dataset
    from steward.evals.targets import DirectTarget, GatewayTarget, Target, TargetError
    from steward.evals.worker import judge_url

    if gateway and upstream_model:
        fail("--upstream-model applies to direct runs; the gateway routes by alias")
    if gateway and not key:
        fail("--gateway needs --key (or STEWARD_API_KEY)")
    try:
        data = load_dataset(dataset)
    except DatasetError as exc:
        fail(str(exc))
    with _store(config) as (runtime, sessions):
        cfg = runtime.config
        names = [n.strip() for n in evaluators.split(",") if n.strip()] if evaluators else None
        try:
            evs = build_evaluators(
                cfg.evaluation, judge_url(cfg.server.host, cfg.server.port), names, strict=True
            )
            target: Target = (
                GatewayTarget(gateway, key or "", model)
                if gateway
                else DirectTarget(cfg, model, upstream_model)
            )
        except (EvaluatorUnavailable, TargetError) as exc:
            fail(str(exc))

        async def main() -> Any:
            try:
                return await run_dataset(
                    sessions,
                    data,
                    target,
                    evs,
                    model=model,
                    upstream_model=upstream_model,
                    label=label,
                    concurrency=concurrency,
                )
            finally:
                await target.aclose()
                await close_evaluators(evs)

        result = asyncio.run(main())
    failing = result.failing(min_pass_rate) if min_pass_rate is not None else {}
    if as_json:
        _print_json(
            {
                "run_id": result.run_id,
                "model": result.model,
                "dataset": result.dataset,
                "items": result.items,
                "errors": result.errors,
                "metrics": {n: m.as_dict() for n, m in result.metrics.items()},
                "failing": failing,
            }
        )
    else:
        console().print(
            f"run {result.run_id}: {result.items} item(s), {result.errors} unanswered",
            highlight=False,
        )
        _metrics_table({n: m.as_dict() for n, m in result.metrics.items()})
        for name, rate in failing.items():
            typer.echo(f"below --min-pass-rate {min_pass_rate}: {name} at {_pct(rate)}", err=True)
    if failing:
        raise typer.Exit(3)


def _metrics_table(summary: dict[str, dict[str, Any]]) -> None:
    table = Table("EVALUATOR", "PASS RATE", "PASSED", "EVALUATED", "ERRORS", "MEAN SCORE")
    for name, m in summary.items():
        table.add_row(
            name,
            _pct(m.get("pass_rate")),
            str(m.get("passed")),
            str(m.get("evaluated")),
            str(m.get("errors")),
            _num(m.get("mean_score")),
        )
    console().print(table)


@eval_app.command("runs")
def runs(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Only runs of this model alias.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 20,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List dataset runs, newest first."""
    from steward.evals.queries import EvalQueries

    with _store(config) as (_, sessions):
        rows = EvalQueries(sessions).runs(limit=limit, model=model)
    if as_json:
        _print_json(rows)
        return
    table = Table("ID", "TIME", "MODEL", "DATASET", "ITEMS", "STATUS", "PASS RATES")
    for r in rows:
        rates = ", ".join(f"{n} {_pct(m.get('pass_rate'))}" for n, m in r["summary"].items())
        table.add_row(
            r["id"],
            r["created_at"][:19],
            r["model"] + (f" ({r['upstream_model']})" if r["upstream_model"] else ""),
            r["dataset"],
            str(r["items"]),
            r["status"],
            rates,
        )
    console().print(table)


@eval_app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="Run id (or a unique prefix).", show_default=False)],
    items: Annotated[bool, typer.Option("--items", help="Also list each item's results.")] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one run: its metrics and, with --items, every item's answer and labels."""
    from steward.evals.queries import EvalQueries, NotFound

    with _store(config) as (_, sessions):
        try:
            data = EvalQueries(sessions).run(run_id, items=items)
        except NotFound as exc:
            fail(str(exc))
    if as_json:
        _print_json(data)
        return
    console().print(
        f"run {data['id']}  model {data['model']}  dataset {data['dataset']}  "
        f"items {data['items']}  unanswered {data['errors']}  status {data['status']}",
        highlight=False,
    )
    _metrics_table(data["summary"])
    if items:
        table = Table("#", "ID", "ANSWER", "FAILED", "ERROR")
        for it in data["items"]:
            failed = ", ".join(r["name"] for r in it["records"] if r["score"]["label"] != "pass")
            table.add_row(
                str(it["index"]),
                it["id"] or "",
                (it["answer"] or "")[:80],
                failed,
                it["error"] or "",
            )
        console().print(table)


@eval_app.command("compare")
def compare_cmd(
    run_a: Annotated[str, typer.Argument(help="The baseline run.", show_default=False)],
    run_b: Annotated[str, typer.Argument(help="The run compared with it.", show_default=False)],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compare two runs evaluator by evaluator (B minus A)."""
    from steward.evals.queries import EvalQueries, NotFound

    with _store(config) as (_, sessions):
        try:
            data = EvalQueries(sessions).compare(run_a, run_b)
        except NotFound as exc:
            fail(str(exc))
    if as_json:
        _print_json(data)
        return
    a, b = data["a"], data["b"]
    console().print(f"A {a['id']} ({a['model']})  vs  B {b['id']} ({b['model']})", highlight=False)
    table = Table("EVALUATOR", "A PASS", "B PASS", "DELTA", "A MEAN", "B MEAN", "DELTA")
    for m in data["metrics"]:
        ma, mb = m["a"] or {}, m["b"] or {}
        table.add_row(
            m["name"],
            _pct(ma.get("pass_rate")),
            _pct(mb.get("pass_rate")),
            _num(m["pass_rate_delta"], signed=True),
            _num(ma.get("mean_score")),
            _num(mb.get("mean_score")),
            _num(m["mean_score_delta"], signed=True),
        )
    console().print(table)


@eval_app.command("records")
def records(
    app: Annotated[str | None, typer.Option("--app", help="App name or id.")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model alias.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Evaluator name.")] = None,
    label: Annotated[
        str | None, typer.Option("--label", help="pass, fail or error.", show_default=False)
    ] = None,
    run_id: Annotated[str | None, typer.Option("--run", help="Records of one dataset run.")] = None,
    live: Annotated[
        bool, typer.Option("--live", help="Live samples only (no dataset runs).")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 50,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List evaluation records, newest first."""
    from steward.evals.queries import EvalQueries, NotFound, RecordFilter

    if label is not None and label not in ("pass", "fail", "error"):
        fail(f"--label must be pass, fail or error, not '{label}'")
    f = RecordFilter(
        app=app,
        model=model,
        name=name,
        label=label,
        run_id=run_id,
        live=True if live else None,
        limit=limit,
    )
    with _store(config) as (_, sessions):
        try:
            rows = EvalQueries(sessions).records(f)
        except NotFound as exc:
            fail(str(exc))
    if as_json:
        _print_json(rows)
        return
    table = Table("TIME", "NAME", "LABEL", "SCORE", "MODEL", "REQUEST", "EXPLANATION")
    for r in rows:
        table.add_row(
            (r["time"] or "")[:19],
            r["name"],
            r["score"]["label"],
            _num(r["score"]["value"]),
            r["model"] or "",
            r["request_id"] or f"run {r['run_id']}#{r['item_index']}",
            r["explanation"][:60],
        )
    console().print(table)


@eval_app.command("purge")
def purge(config: ConfigOption = None) -> None:
    """Delete sampled content and records past their retention now (the worker does it hourly)."""
    from steward.evals.lock import JobLock
    from steward.evals.worker import JOB, EvalWorker

    with _store(config) as (runtime, sessions):
        w = EvalWorker(
            sessions,
            runtime.config.evaluation,
            [],
            JobLock(sessions.kw["bind"], JOB, runtime.data_dir),
        )
        samples, recs = w.purge()
    console().print(f"purged {samples} sample(s) and {recs} record(s)", highlight=False)
