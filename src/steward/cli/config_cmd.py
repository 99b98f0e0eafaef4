"""`steward config check|schema`."""

from __future__ import annotations

import json

import typer

from steward.config import ConfigError, StewardConfig, load_config

app = typer.Typer(help="Check a configuration file or print its JSON Schema.", no_args_is_help=True)


@app.command("check")
def check(path: str = typer.Argument(..., help="The YAML configuration file.")) -> None:
    """Validate a configuration file; errors name the file, the key and what was expected."""
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{path}: OK ({len(cfg.providers)} providers, {len(cfg.models)} models)")


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of the configuration file."""
    typer.echo(json.dumps(StewardConfig.model_json_schema(), indent=2))
