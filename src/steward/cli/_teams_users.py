"""`steward teams ...` and `steward users ...`."""

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
)

NameArg = Annotated[str, typer.Argument(help="Name or id.")]

teams_app = typer.Typer(
    help="Teams: groups of users that own apps, agents and budgets.", no_args_is_help=True
)
users_app = typer.Typer(help="Users: people, members of teams.", no_args_is_help=True)

_TEAM_COLUMNS = [
    ("NAME", attr("name")),
    ("MEMBERS", attr("members")),
    ("DESCRIPTION", attr("description")),
    ("ID", attr("id")),
]
_USER_COLUMNS = [
    ("NAME", attr("name")),
    ("EMAIL", attr("email")),
    ("TEAMS", attr("teams")),
    ("SUSPENDED", attr("suspended")),
    ("ID", attr("id")),
]


@teams_app.command("create")
def create_team(
    name: Annotated[str, typer.Argument(help="Unique team name, e.g. support.")],
    description: Annotated[str, typer.Option("--description", "-d")] = "",
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a team."""
    with identity(config) as svc:
        team = svc.create_team(name, description, actor=cli_actor())
    show(team, as_json, f"Created team {team.name}.")


@teams_app.command("list")
def list_teams(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List teams."""
    with identity(config) as svc:
        teams = svc.list_teams()
    show_list(
        teams,
        _TEAM_COLUMNS,
        as_json,
        empty="No teams yet; create one with `steward teams create NAME`.",
    )


@teams_app.command("show")
def show_team(name: NameArg, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show one team and its members."""
    with identity(config) as svc:
        team = svc.get_team(name)
    show(team, as_json)


@teams_app.command("delete")
def delete_team(
    name: NameArg,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Also remove memberships, unassign principals and revoke the team's keys.",
        ),
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a team (refused while in use, unless --force)."""
    with identity(config) as svc:
        team = svc.delete_team(name, force=force, actor=cli_actor())
    show(team, as_json, f"Deleted team {team.name}.")


@users_app.command("create")
def create_user(
    name: Annotated[str, typer.Argument(help="Unique user name, e.g. alice.")],
    email: Annotated[str | None, typer.Option("--email", "-e")] = None,
    team: Annotated[
        list[str] | None, typer.Option("--team", "-t", help="Team to join (repeatable).")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a user, optionally in one or more teams."""
    with identity(config) as svc:
        user = svc.create_user(name, email, team or [], actor=cli_actor())
    show(user, as_json, f"Created user {user.name}.")


@users_app.command("list")
def list_users(
    team: Annotated[str | None, typer.Option("--team", "-t", help="Only this team.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List users."""
    with identity(config) as svc:
        users = svc.list_users(team=team)
    show_list(users, _USER_COLUMNS, as_json, empty="No users found.")


@users_app.command("show")
def show_user(name: NameArg, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show one user."""
    with identity(config) as svc:
        user = svc.get_user(name)
    show(user, as_json)


@users_app.command("delete")
def delete_user(name: NameArg, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Delete a user and their keys (refused while they own agents)."""
    with identity(config) as svc:
        user = svc.delete_user(name, actor=cli_actor())
    show(user, as_json, f"Deleted user {user.name}.")


@users_app.command("add-to-team")
def add_to_team(
    user: Annotated[str, typer.Argument(help="User name or id.")],
    team: Annotated[str, typer.Argument(help="Team name or id.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a user to a team."""
    with identity(config) as svc:
        info = svc.add_member(user, team, actor=cli_actor())
    show(info, as_json, f"Added {info.name} to team {team}.")


@users_app.command("remove-from-team")
def remove_from_team(
    user: Annotated[str, typer.Argument(help="User name or id.")],
    team: Annotated[str, typer.Argument(help="Team name or id.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove a user from a team; their keys for that team are revoked."""
    with identity(config) as svc:
        info = svc.remove_member(user, team, actor=cli_actor())
    show(info, as_json, f"Removed {info.name} from team {team}.")


add_suspend_commands(
    users_app,
    "user",
    lambda svc, ref, on, reason, actor: svc.set_user_suspended(ref, on, reason, actor=actor),
)
