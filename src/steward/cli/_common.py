"""Shared pieces of the identity commands: opening the service, the actor, output, errors."""

from __future__ import annotations

import dataclasses
import getpass
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from steward.config import ConfigError, Runtime
from steward.identity.errors import ServiceError
from steward.identity.records import Actor
from steward.identity.service import IdentityService
from steward.store.db import make_engine, session_factory, upgrade

ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config",
        "-c",
        envvar="STEWARD_CONFIG",
        help="YAML configuration file.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
NameOrIdArg = Annotated[str, typer.Argument(help="Name or id.", show_default=False)]
ReasonOption = Annotated[str, typer.Option("--reason", "-r", help="Why (recorded in the audit).")]

Column = tuple[str, Callable[[Any], Any]]
_NO_WRAP = frozenset({"NAME", "PREFIX", "ID", "TIME"})  # identifiers people copy and paste
_PIPE_WIDTH = 200


def fail(message: str) -> NoReturn:
    """Print a one-line error to stderr and exit 1."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def open_identity(config: str | None) -> IdentityService:
    """Load the runtime, migrate the store to the current schema and open the service. The
    service owns its engine; call `close()` (or use `identity()`) when done."""
    runtime = Runtime.load(config)
    upgrade(runtime.database_url)
    engine = make_engine(runtime.database_url)
    return IdentityService(session_factory(engine), engine=engine)


@contextmanager
def identity(config: str | None) -> Iterator[IdentityService]:
    """Open the service for one command; turn every expected failure into a clean exit."""
    try:
        service = open_identity(config)
    except ConfigError as exc:
        fail(str(exc).replace("\n", " "))
    except SQLAlchemyError as exc:
        fail(
            f"cannot open the database: {exc.__class__.__name__}: {exc.args[0] if exc.args else ''}"
        )
    try:
        yield service
    except ServiceError as exc:
        fail(exc.message)
    except SQLAlchemyError as exc:
        fail(f"database error: {exc.__class__.__name__}: {exc.args[0] if exc.args else ''}")
    finally:
        service.close()


def cli_actor() -> Actor:
    """The operator running the CLI, by operating-system user name."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError):
        name = "unknown"
    return Actor("cli", name)


def split_list(value: str | None) -> list[str] | None:
    """`a,b` -> ['a', 'b']; None stays None."""
    if value is None:
        return None
    return [part.strip() for part in value.split(",")]


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def print_json(value: Any) -> None:
    typer.echo(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False))


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%SZ")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def console() -> Console:
    """Terminal width on a terminal; wide lines when piped, so rows stay greppable."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else _PIPE_WIDTH)


def print_table(rows: Sequence[Any], columns: Sequence[Column], *, empty: str) -> None:
    if not rows:
        typer.echo(empty)
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for header, _ in columns:
        table.add_column(header, overflow="fold", no_wrap=header in _NO_WRAP)
    for row in rows:
        table.add_row(*(fmt(get(row)) for _, get in columns))
    console().print(table)


def print_record(record: Any) -> None:
    """One record as aligned `field  value` lines."""
    table = Table(show_header=False, show_edge=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for f in dataclasses.fields(record):
        table.add_row(f.name, fmt(getattr(record, f.name)))
    console().print(table)


def show(record: Any, as_json: bool, message: str | None = None) -> None:
    """Print a record as JSON, or a message line followed by its fields."""
    if as_json:
        print_json(record)
        return
    if message:
        typer.echo(message)
    print_record(record)


def show_list(rows: Sequence[Any], columns: Sequence[Column], as_json: bool, *, empty: str) -> None:
    if as_json:
        print_json(list(rows))
    else:
        print_table(rows, columns, empty=empty)


def attr(name: str) -> Callable[[Any], Any]:
    return lambda row: getattr(row, name)


Suspender = Callable[[IdentityService, str, bool, str, Actor], Any]


def add_suspend_commands(app: typer.Typer, kind: str, setter: Suspender) -> None:
    """Add `suspend NAME [--reason]` and `unsuspend NAME` to a principal's command group."""

    @app.command(
        "suspend",
        help=f"Suspend {_article(kind)} {kind}: its keys are refused until unsuspended.",
    )
    def suspend(
        name: NameOrIdArg,
        reason: ReasonOption = "",
        config: ConfigOption = None,
        as_json: JsonOption = False,
    ) -> None:
        with identity(config) as svc:
            record = setter(svc, name, True, reason, cli_actor())
        show(record, as_json, f"Suspended {kind} {record.name}.")

    @app.command("unsuspend", help=f"Lift the suspension of a {kind}.")
    def unsuspend(
        name: NameOrIdArg,
        reason: ReasonOption = "",
        config: ConfigOption = None,
        as_json: JsonOption = False,
    ) -> None:
        with identity(config) as svc:
            record = setter(svc, name, False, reason, cli_actor())
        show(record, as_json, f"Unsuspended {kind} {record.name}.")


def _article(noun: str) -> str:
    return "an" if noun[:1] in "aeiou" else "a"
