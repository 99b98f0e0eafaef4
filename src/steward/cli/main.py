"""The `steward` command: one Typer app with a sub-command per concept."""

from __future__ import annotations

import typer

from steward import __version__
from steward.cli import config_cmd, db_cmd, serve_cmd

app = typer.Typer(
    name="steward",
    help="Steward: an AI control plane. Gateway, identities, data protection, usage ledger "
    "and audit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve_cmd.serve)
app.command("demo")(serve_cmd.demo)
app.add_typer(config_cmd.app, name="config")
app.add_typer(db_cmd.app, name="db")


def _register_identity() -> None:
    from steward.cli.audit import audit_app
    from steward.cli.keys import admin_keys_app, keys_app
    from steward.cli.principals import (
        agents_app,
        apps_app,
        service_accounts_app,
        teams_app,
        users_app,
    )

    app.add_typer(teams_app, name="teams")
    app.add_typer(users_app, name="users")
    app.add_typer(apps_app, name="apps")
    app.add_typer(agents_app, name="agents")
    app.add_typer(service_accounts_app, name="service-accounts")
    app.add_typer(keys_app, name="keys")
    app.add_typer(admin_keys_app, name="admin-keys")
    app.add_typer(audit_app, name="audit")


_register_identity()


def _register_guard() -> None:
    from steward.cli.guard import guard_app

    app.add_typer(guard_app, name="guard")


_register_guard()


@app.command("version")
def version() -> None:
    """Print Steward's version."""
    typer.echo(__version__)


def main() -> None:
    app()
