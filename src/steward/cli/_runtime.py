"""Load the runtime for a CLI command, turning configuration errors into a clean exit."""

from __future__ import annotations

import typer

from steward.config import ConfigError, Runtime


def load_runtime(config: str | None) -> Runtime:
    try:
        return Runtime.load(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
