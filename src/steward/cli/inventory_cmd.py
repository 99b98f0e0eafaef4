"""`steward inventory`: apps, agents and models in use, with owners, purposes, data classes and
risk tiers, and the flags that need attention."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from steward.cli._common import ConfigOption, attr, console, fail, print_json, print_table
from steward.config import ConfigError, Runtime
from steward.inventory import Inventory, InventoryService
from steward.store.db import make_engine, session_factory, upgrade


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table or json.", case_sensitive=False)
]


@contextmanager
def open_inventory(config: str | None) -> Iterator[InventoryService]:
    """The inventory over the configured store (migrated first), for one command."""
    try:
        runtime = Runtime.load(config)
        upgrade(runtime.database_url)
        engine = make_engine(runtime.database_url)
    except ConfigError as exc:
        fail(str(exc).replace("\n", " "))
    except SQLAlchemyError as exc:
        fail(f"cannot open the database: {exc.__class__.__name__}: {exc}")
    try:
        yield InventoryService(session_factory(engine), runtime.config)
    except SQLAlchemyError as exc:
        fail(f"database error: {exc.__class__.__name__}: {exc}")
    finally:
        engine.dispose()


_APP_COLUMNS = [
    ("NAME", attr("name")),
    ("OWNER", attr("owner")),
    ("TEAM", attr("team")),
    ("RISK", attr("risk_tier")),
    ("DATA", attr("data_classes")),
    ("MANAGED", attr("managed")),
    ("KEYS", attr("active_keys")),
    ("REQUESTS", attr("requests")),
    ("PURPOSE", attr("purpose")),
]
_AGENT_COLUMNS = [
    ("NAME", attr("name")),
    ("OWNER", attr("owner")),
    ("TEAM", attr("team")),
    ("RISK", attr("risk_tier")),
    ("DATA", attr("data_classes")),
    ("KEYS", attr("active_keys")),
    ("REQUESTS", attr("requests")),
    ("PURPOSE", attr("purpose")),
]
_MODEL_COLUMNS = [
    ("NAME", attr("name")),
    ("CATALOGUE", attr("in_catalogue")),
    ("PROVIDER", attr("provider")),
    ("UPSTREAM", attr("upstream_model")),
    ("OWNER", attr("owner")),
    ("RISK", attr("risk_tier")),
    ("DATA", attr("data_classes")),
    ("REQUESTS", attr("requests")),
    ("LAST SEEN", attr("last_seen")),
]
_FLAG_COLUMNS = [
    ("SEVERITY", attr("severity")),
    ("KIND", attr("kind")),
    ("NAME", attr("name")),
    ("CODE", attr("code")),
    ("WHAT TO DO", attr("message")),
]


def print_inventory(inv: Inventory, *, flags_only: bool) -> None:
    """The inventory as tables: apps, agents, models, then the flags."""
    if not flags_only:
        for title, rows, columns in (
            ("Apps", inv.apps, _APP_COLUMNS),
            ("Agents", inv.agents, _AGENT_COLUMNS),
            ("Models", inv.models, _MODEL_COLUMNS),
        ):
            console().print(f"[bold]{title}[/]")
            print_table(rows, columns, empty=f"No {title.lower()}.")
            typer.echo("")
    if not inv.flags:
        typer.echo("No flags.")
        return
    counts = {s: sum(1 for f in inv.flags if f.severity == s) for s in ("high", "medium", "low")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    console().print(f"[bold]Flags[/] ({len(inv.flags)}: {summary})")
    print_table(inv.flags, _FLAG_COLUMNS, empty="")


def inventory(
    output: FormatOption = OutputFormat.table,
    flags_only: Annotated[
        bool, typer.Option("--flags-only", help="Only the flags and the flagged entries.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Apps, agents and models in use with owner, purpose, data classes and risk tier; flags."""
    with open_inventory(config) as svc:
        inv = svc.build(flags_only=flags_only)
    if output is OutputFormat.json:
        print_json(inv)
    else:
        print_inventory(inv, flags_only=flags_only)


__all__ = ["OutputFormat", "inventory", "open_inventory", "print_inventory"]
