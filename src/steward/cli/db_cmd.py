"""`steward db upgrade|current`."""

from __future__ import annotations

import typer

from steward.cli._runtime import load_runtime
from steward.store.db import current_revision, upgrade

app = typer.Typer(help="Database migrations.", no_args_is_help=True)

CONFIG_OPT = typer.Option(None, "--config", "-c", envvar="STEWARD_CONFIG", help="Config file.")


@app.command("upgrade")
def upgrade_cmd(config: str | None = CONFIG_OPT) -> None:
    """Apply all migrations to the configured database."""
    rt = load_runtime(config)
    upgrade(rt.database_url)
    typer.echo(f"database at revision {current_revision(rt.database_url)}")


@app.command("current")
def current_cmd(config: str | None = CONFIG_OPT) -> None:
    """Show the database's migration revision."""
    rt = load_runtime(config)
    typer.echo(current_revision(rt.database_url) or "(empty database)")
