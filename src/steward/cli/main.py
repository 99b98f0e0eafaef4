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
    from steward.cli.tokens_cmd import tokens_app

    app.add_typer(tokens_app, name="tokens")


_register_identity()


def _register_guard() -> None:
    from steward.cli.guard import guard_app

    app.add_typer(guard_app, name="guard")


_register_guard()


def _register_usage() -> None:
    from steward.cli.usage import usage_app

    app.add_typer(usage_app, name="usage")


_register_usage()


def _register_inventory() -> None:
    from steward.cli.discover_cmd import discover_cmd
    from steward.cli.inventory_cmd import inventory
    from steward.cli.prices_cmd import prices_app

    app.command("inventory")(inventory)
    app.command("discover")(discover_cmd)
    app.add_typer(prices_app, name="prices")


_register_inventory()


def _register_budgets() -> None:
    from steward.cli.budgets import budgets_app

    app.add_typer(budgets_app, name="budgets")


_register_budgets()


def _register_evals() -> None:
    from steward.cli.eval_cmd import eval_app

    app.add_typer(eval_app, name="eval")


_register_evals()


def _register_mcp() -> None:
    from steward.cli.mcp_cmd import mcp_app

    app.add_typer(mcp_app, name="mcp")


_register_mcp()


def _register_approvals() -> None:
    from steward.cli.approvals_cmd import approvals_app
    from steward.cli.suspend_cmd import resume, suspend, suspensions

    app.add_typer(approvals_app, name="approvals")
    app.command("suspend")(suspend)
    app.command("resume")(resume)
    app.command("suspensions")(suspensions)


_register_approvals()


def _register_slo() -> None:
    from steward.cli.remediation_cmd import remediation_app
    from steward.cli.slo_cmd import slo_app

    app.add_typer(slo_app, name="slo")
    app.add_typer(remediation_app, name="remediation")


_register_slo()


def _register_catalogue() -> None:
    from steward.cli.catalogue_cmd import catalogue_app
    from steward.cli.deploy_cmd import deploy_app

    app.add_typer(catalogue_app, name="catalogue")
    app.add_typer(deploy_app, name="deploy")


_register_catalogue()


def _register_policy() -> None:
    from steward.cli.policy_cmd import policy_app

    app.add_typer(policy_app, name="policy")


_register_policy()


@app.command("version")
def version() -> None:
    """Print Steward's version."""
    typer.echo(__version__)


def main() -> None:
    app()
