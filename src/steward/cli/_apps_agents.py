"""`steward apps ...`, `steward agents ...` and `steward service-accounts ...`."""

from __future__ import annotations

from typing import Annotated

import typer

from steward.cli._common import (
    ConfigOption,
    JsonOption,
    add_suspend_commands,
    attr,
    cli_actor,
    identity,
    show,
    show_list,
    split_list,
)
from steward.identity.records import DATA_CLASSES, RISK_TIERS

NameArg = Annotated[str, typer.Argument(help="Name or id.")]
TeamOption = Annotated[str | None, typer.Option("--team", "-t", help="Team name or id.")]
DescriptionOption = Annotated[str, typer.Option("--description", "-d")]
PurposeOption = Annotated[str | None, typer.Option("--purpose", "-p", help="What it is for.")]
DataClassesOption = Annotated[
    str | None,
    typer.Option(
        "--data-classes",
        help=f"Comma-separated data classes it may touch ({', '.join(DATA_CLASSES)}); '' clears.",
    ),
]
RiskTierOption = Annotated[
    str | None, typer.Option("--risk-tier", help=f"One of {', '.join(RISK_TIERS)}.")
]

apps_app = typer.Typer(help="Apps: applications that call models.", no_args_is_help=True)
agents_app = typer.Typer(
    help="Agents: autonomous callers, each with an accountable owner.", no_args_is_help=True
)
service_accounts_app = typer.Typer(
    help="Service accounts: non-human callers such as batch jobs.", no_args_is_help=True
)

_APP_COLUMNS = [
    ("NAME", attr("name")),
    ("TEAM", attr("team")),
    ("OWNER", attr("owner")),
    ("RISK", attr("risk_tier")),
    ("MANAGED", attr("managed")),
    ("SUSPENDED", attr("suspended")),
    ("ID", attr("id")),
]
_AGENT_COLUMNS = [
    ("NAME", attr("name")),
    ("OWNER", attr("owner")),
    ("TEAM", attr("team")),
    ("RISK", attr("risk_tier")),
    ("SUSPENDED", attr("suspended")),
    ("ID", attr("id")),
]
_SA_COLUMNS = [
    ("NAME", attr("name")),
    ("TEAM", attr("team")),
    ("SUSPENDED", attr("suspended")),
    ("ID", attr("id")),
]


# -- apps ------------------------------------------------------------------------------------


@apps_app.command("create")
def create_app(
    name: Annotated[str, typer.Argument(help="Unique app name, e.g. helpdesk.")],
    team: TeamOption = None,
    owner: Annotated[str | None, typer.Option("--owner", "-o", help="Accountable user.")] = None,
    description: DescriptionOption = "",
    purpose: PurposeOption = None,
    data_classes: DataClassesOption = None,
    risk_tier: RiskTierOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register an app."""
    with identity(config) as svc:
        app = svc.create_app(
            name,
            team,
            owner,
            description,
            purpose=purpose or "",
            data_classes=split_list(data_classes),
            risk_tier=risk_tier,
            actor=cli_actor(),
        )
    show(app, as_json, f"Created app {app.name}.")


@apps_app.command("update")
def update_app(
    name: NameArg,
    purpose: PurposeOption = None,
    data_classes: DataClassesOption = None,
    risk_tier: RiskTierOption = None,
    owner: Annotated[
        str | None, typer.Option("--owner", "-o", help="Accountable user; '' clears.")
    ] = None,
    team: Annotated[
        str | None, typer.Option("--team", "-t", help="Team name or id; '' clears.")
    ] = None,
    description: Annotated[str | None, typer.Option("--description", "-d")] = None,
    managed: Annotated[
        bool | None,
        typer.Option(
            "--managed/--unmanaged", help="Bring a discovered app under management, or not."
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change an app's inventory fields; options not given stay as they are."""
    with identity(config) as svc:
        app = svc.update_app(
            name,
            team=team,
            owner=owner,
            description=description,
            purpose=purpose,
            data_classes=split_list(data_classes),
            risk_tier=risk_tier,
            managed=managed,
            actor=cli_actor(),
        )
    show(app, as_json, f"Updated app {app.name}.")


@apps_app.command("list")
def list_apps(
    team: TeamOption = None, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """List apps."""
    with identity(config) as svc:
        apps = svc.list_apps(team=team)
    show_list(apps, _APP_COLUMNS, as_json, empty="No apps found.")


@apps_app.command("show")
def show_app(name: NameArg, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show one app."""
    with identity(config) as svc:
        app = svc.get_app(name)
    show(app, as_json)


@apps_app.command("delete")
def delete_app(name: NameArg, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Delete an app and the keys attributed to it."""
    with identity(config) as svc:
        app = svc.delete_app(name, actor=cli_actor())
    show(app, as_json, f"Deleted app {app.name}.")


add_suspend_commands(
    apps_app,
    "app",
    lambda svc, ref, on, reason, actor: svc.set_app_suspended(ref, on, reason, actor=actor),
)


# -- agents ----------------------------------------------------------------------------------


@agents_app.command("create")
def create_agent(
    name: Annotated[str, typer.Argument(help="Unique agent name, e.g. refund-bot.")],
    owner: Annotated[str, typer.Option("--owner", "-o", help="Accountable user (required).")],
    team: TeamOption = None,
    purpose: Annotated[str, typer.Option("--purpose", "-p")] = "",
    risk_tier: Annotated[
        str, typer.Option("--risk-tier", help=f"One of {', '.join(RISK_TIERS)}.")
    ] = "limited",
    sponsor: Annotated[
        str | None, typer.Option("--sponsor", help="A user who sponsors the agent (optional).")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register an agent with its accountable owner."""
    with identity(config) as svc:
        agent = svc.create_agent(
            name, owner, team, purpose, risk_tier, sponsor=sponsor, actor=cli_actor()
        )
    show(agent, as_json, f"Created agent {agent.name} (owner {agent.owner}).")


@agents_app.command("list")
def list_agents(
    owner: Annotated[str | None, typer.Option("--owner", "-o", help="Only this owner.")] = None,
    team: TeamOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List agents."""
    with identity(config) as svc:
        agents = svc.list_agents(owner=owner, team=team)
    show_list(agents, _AGENT_COLUMNS, as_json, empty="No agents found.")


@agents_app.command("show")
def show_agent(name: NameArg, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show one agent."""
    with identity(config) as svc:
        agent = svc.get_agent(name)
    show(agent, as_json)


@agents_app.command("delete")
def delete_agent(name: NameArg, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Delete an agent and its keys."""
    with identity(config) as svc:
        agent = svc.delete_agent(name, actor=cli_actor())
    show(agent, as_json, f"Deleted agent {agent.name}.")


@agents_app.command("update")
def update_agent(
    name: NameArg,
    purpose: PurposeOption = None,
    data_classes: DataClassesOption = None,
    risk_tier: RiskTierOption = None,
    owner: Annotated[
        str | None, typer.Option("--owner", "-o", help="The user who becomes accountable.")
    ] = None,
    team: Annotated[
        str | None, typer.Option("--team", "-t", help="Team name or id; '' clears.")
    ] = None,
    sponsor: Annotated[
        str | None, typer.Option("--sponsor", help="A user who sponsors the agent; '' clears.")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change an agent's owner, team, sponsor, purpose, data classes or risk tier."""
    with identity(config) as svc:
        agent = svc.update_agent(
            name,
            owner=owner,
            team=team,
            sponsor=sponsor,
            purpose=purpose,
            data_classes=split_list(data_classes),
            risk_tier=risk_tier,
            actor=cli_actor(),
        )
    show(agent, as_json, f"Updated agent {agent.name}.")


@agents_app.command("token")
def agent_token(
    subject_token: Annotated[
        str,
        typer.Option(
            "--subject-token",
            envvar="STEWARD_SUBJECT_TOKEN",
            help="The user's API key, or a delegation token (for a sub-agent).",
            show_default=False,
        ),
    ],
    actor_token: Annotated[
        str,
        typer.Option(
            "--actor-token",
            envvar="STEWARD_ACTOR_TOKEN",
            help="The acting agent's API key (or its delegation token).",
            show_default=False,
        ),
    ],
    scope: Annotated[
        str | None, typer.Option("--scope", help="Narrow to models: 'model:a model:b'.")
    ] = None,
    lifetime: Annotated[
        int | None, typer.Option("--lifetime", help="Seconds (default agents.token_ttl_s).")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Exchange at this gateway (POST /v1/agents/token)."),
    ] = None,
    token_only: Annotated[
        bool, typer.Option("--token-only", help="Print only the access token.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Exchange a user's credential and an agent's key for a delegation token (RFC 8693)."""
    from steward.cli.tokens_cmd import exchange_token

    exchange_token(subject_token, actor_token, scope, lifetime, url, config, token_only)


add_suspend_commands(
    agents_app,
    "agent",
    lambda svc, ref, on, reason, actor: svc.set_agent_suspended(ref, on, reason, actor=actor),
)


# -- service accounts ------------------------------------------------------------------------


@service_accounts_app.command("create")
def create_service_account(
    name: Annotated[str, typer.Argument(help="Unique name, e.g. nightly-batch.")],
    team: TeamOption = None,
    description: DescriptionOption = "",
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a service account."""
    with identity(config) as svc:
        sa = svc.create_service_account(name, team, description, actor=cli_actor())
    show(sa, as_json, f"Created service account {sa.name}.")


@service_accounts_app.command("list")
def list_service_accounts(
    team: TeamOption = None, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """List service accounts."""
    with identity(config) as svc:
        rows = svc.list_service_accounts(team=team)
    show_list(rows, _SA_COLUMNS, as_json, empty="No service accounts found.")


@service_accounts_app.command("show")
def show_service_account(
    name: NameArg, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """Show one service account."""
    with identity(config) as svc:
        sa = svc.get_service_account(name)
    show(sa, as_json)


@service_accounts_app.command("delete")
def delete_service_account(
    name: NameArg, config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """Delete a service account and its keys."""
    with identity(config) as svc:
        sa = svc.delete_service_account(name, actor=cli_actor())
    show(sa, as_json, f"Deleted service account {sa.name}.")


add_suspend_commands(
    service_accounts_app,
    "service account",
    lambda svc, ref, on, reason, actor: svc.set_service_account_suspended(
        ref, on, reason, actor=actor
    ),
)
