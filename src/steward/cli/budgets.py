"""`steward budgets ...`: spending limits on a key, user, team, app, agent or the whole
organisation, per UTC calendar period or rolling window, optionally per model or provider."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from steward.cli._common import (
    ConfigOption,
    JsonOption,
    attr,
    cli_actor,
    fail,
    show,
    show_list,
)
from steward.config import ConfigError, Runtime
from steward.identity.errors import ServiceError
from steward.store.db import make_engine, session_factory, upgrade
from steward.usage.budgets.records import BudgetInfo
from steward.usage.budgets.service import BudgetService

budgets_app = typer.Typer(
    help="Budgets: spending limits per key, user, team, app, agent or organisation.",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="Budget name or id.", show_default=False)]
AlertOption = Annotated[
    str | None,
    typer.Option("--alert", help="Alert thresholds in percent, e.g. 50,80,100 ('' for none)."),
]


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _per(b: BudgetInfo) -> str:
    return f"rolling {b.window}" if b.period == "rolling" else b.period


_COLUMNS = [
    ("NAME", attr("name")),
    ("SCOPE", attr("scope")),
    ("TARGET", lambda b: b.target or ("-" if b.scope == "org" else b.target_id)),
    ("AMOUNT", lambda b: _money(b.amount_usd)),
    ("PER", _per),
    ("MODEL", attr("model")),
    ("PROVIDER", attr("provider")),
    ("ALERTS", lambda b: ",".join(str(a) for a in b.alerts) or "-"),
    ("HARD", attr("hard")),
    ("RESETS", attr("resets_at")),
]


@contextmanager
def budgets(config: str | None) -> Iterator[BudgetService]:
    """Open the budget service for one command; expected failures become a clean exit."""
    try:
        runtime = Runtime.load(config)
        upgrade(runtime.database_url)
        engine = make_engine(runtime.database_url)
    except ConfigError as exc:
        fail(str(exc).replace("\n", " "))
    except SQLAlchemyError as exc:
        fail(f"cannot open the database: {exc.__class__.__name__}: {exc}")
    service = BudgetService(
        session_factory(engine),
        models=[m.name for m in runtime.config.models],
        providers=list(runtime.config.providers),
        engine=engine,
    )
    try:
        yield service
    except ServiceError as exc:
        fail(exc.message)
    except SQLAlchemyError as exc:
        fail(f"database error: {exc.__class__.__name__}: {exc}")
    finally:
        service.close()


def _alerts(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return [int(p) for p in value.replace(" ", "").split(",") if p]
    except ValueError:
        fail(f"--alert wants percentages separated by commas, e.g. 50,80,100 (got '{value}')")


def _target(
    key: str | None,
    user: str | None,
    team: str | None,
    app: str | None,
    agent: str | None,
    org: bool,
) -> tuple[str, str | None]:
    given: list[tuple[str, str | None]] = [
        (scope, ref)
        for scope, ref in (
            ("key", key),
            ("user", user),
            ("team", team),
            ("app", app),
            ("agent", agent),
        )
        if ref
    ]
    if org:
        given.append(("org", None))
    if len(given) != 1:
        fail("say what the budget limits: one of --key, --user, --team, --app, --agent, --org")
    return given[0]


@budgets_app.command("create")
def create(
    amount: Annotated[float, typer.Option("--amount", help="The limit in USD.")],
    key: Annotated[str | None, typer.Option("--key", help="Key id or prefix.")] = None,
    user: Annotated[str | None, typer.Option("--user", "-u", help="User name or id.")] = None,
    team: Annotated[str | None, typer.Option("--team", "-t", help="Team name or id.")] = None,
    app: Annotated[str | None, typer.Option("--app", "-a", help="App name or id.")] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Agent name or id.")] = None,
    org: Annotated[bool, typer.Option("--org", help="The whole organisation.")] = False,
    period: Annotated[
        str | None, typer.Option("--period", help="day, week (from Monday) or month (UTC).")
    ] = None,
    window: Annotated[
        str | None, typer.Option("--window", help="A rolling window instead, e.g. 7d, 24h.")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Only this model alias.")] = None,
    provider: Annotated[str | None, typer.Option("--provider", help="Only this provider.")] = None,
    alert: AlertOption = None,
    hard: Annotated[
        bool, typer.Option("--hard/--soft", help="Refuse requests over it, or only alert.")
    ] = True,
    name: Annotated[str | None, typer.Option("--name", help="Unique name.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a budget."""
    scope, target = _target(key, user, team, app, agent, org)
    with budgets(config) as svc:
        info = svc.create_budget(
            scope,
            target,
            str(amount),
            period=period,
            window=window,
            model=model,
            provider=provider,
            alerts=_alerts(alert),
            hard=hard,
            name=name,
            actor=cli_actor(),
        )
    show(info, as_json, f"Created budget {info.name}.")


@budgets_app.command("list")
def list_budgets(
    scope: Annotated[
        str | None,
        typer.Option("--scope", help="Only budgets on key, user, team, app, agent or org."),
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="With --scope: only this principal.")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List budgets."""
    if target is not None and scope is None:
        fail("--target needs --scope (e.g. --scope team --target support)")
    with budgets(config) as svc:
        rows = svc.list_budgets(scope, target)
    show_list(rows, _COLUMNS, as_json, empty="No budgets.")


@budgets_app.command("show")
def show_budget(name: NameArg, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show a budget and the ledger's spend in its current period."""
    with budgets(config) as svc:
        info = svc.get_budget(name)
    show(info, as_json)


@budgets_app.command("update")
def update(
    name: NameArg,
    amount: Annotated[float | None, typer.Option("--amount", help="New limit in USD.")] = None,
    alert: AlertOption = None,
    hard: Annotated[
        bool | None, typer.Option("--hard/--soft", help="Refuse over it, or only alert.")
    ] = None,
    rename: Annotated[str | None, typer.Option("--rename", help="New name.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a budget's amount, alerts, hardness or name."""
    with budgets(config) as svc:
        info = svc.update_budget(
            name,
            amount=None if amount is None else str(amount),
            alerts=_alerts(alert),
            hard=hard,
            name=rename,
            actor=cli_actor(),
        )
    show(info, as_json, f"Updated budget {info.name}.")


@budgets_app.command("delete")
def delete(name: NameArg, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Delete a budget."""
    with budgets(config) as svc:
        info = svc.delete_budget(name, actor=cli_actor())
    show(info, as_json, f"Deleted budget {info.name}.")
