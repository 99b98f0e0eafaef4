"""`steward keys ...` (virtual API keys) and `steward admin-keys ...` (admin API keys)."""

from __future__ import annotations

from typing import Annotated

import typer

from steward.cli._common import (
    ConfigOption,
    JsonOption,
    attr,
    cli_actor,
    identity,
    print_json,
    show,
    show_list,
    split_list,
)
from steward.identity.durations import parse_duration
from steward.identity.records import AdminKeyInfo, ApiKeyInfo

SHOWN_ONCE = "Store it now: it is shown only once and cannot be retrieved again."

RefArg = Annotated[str, typer.Argument(help="Key id or prefix (e.g. sk-stw-AbCdEfGh).")]
UserOption = Annotated[str | None, typer.Option("--user", "-u", help="User name or id.")]
TeamOption = Annotated[str | None, typer.Option("--team", "-t", help="Team name or id.")]
AppOption = Annotated[str | None, typer.Option("--app", "-a", help="App name or id.")]
AgentOption = Annotated[str | None, typer.Option("--agent", help="Agent name or id.")]
ServiceOption = Annotated[
    str | None, typer.Option("--service-account", "-s", help="Service account name or id.")
]
ReasonOption = Annotated[str, typer.Option("--reason", "-r", help="Why (audited).")]

keys_app = typer.Typer(
    help="API keys: create, list, revoke. Keys are shown once.", no_args_is_help=True
)
admin_keys_app = typer.Typer(help="Admin API keys (roles: admin, auditor).", no_args_is_help=True)


def _principal(key: ApiKeyInfo) -> str:
    name = {
        "user": key.user,
        "agent": key.agent,
        "service": key.service_account,
        "app": key.app,
    }.get(key.principal_type)
    return f"{key.principal_type}:{name or '?'}"


_KEY_COLUMNS = [
    ("PREFIX", attr("prefix")),
    ("NAME", attr("name")),
    ("PRINCIPAL", _principal),
    ("TEAM", attr("team")),
    ("APP", attr("app")),
    ("MODELS", lambda k: "all" if k.models is None else k.models),
    ("STATUS", attr("status")),
    ("EXPIRES", attr("expires_at")),
]
_ADMIN_COLUMNS = [
    ("PREFIX", attr("prefix")),
    ("NAME", attr("name")),
    ("ROLE", attr("role")),
    ("CREATED", attr("created_at")),
    ("REVOKED", attr("revoked_at")),
    ("ID", attr("id")),
]


def _describe(key: ApiKeyInfo) -> str:
    extras = [
        f"{label} {value}" for label, value in (("team", key.team), ("app", key.app)) if value
    ]
    suffix = f" ({', '.join(extras)})" if extras else ""
    return (
        f"Created key {key.id} for {key.principal_type} {_principal(key).split(':', 1)[1]}{suffix}."
    )


@keys_app.command("create")
def create_key(
    user: UserOption = None,
    app: AppOption = None,
    agent: AgentOption = None,
    service_account: ServiceOption = None,
    team: TeamOption = None,
    models: Annotated[
        str | None,
        typer.Option("--models", "-m", help="Comma-separated allowed models (default: all)."),
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option("--expires", "-x", help="Lifetime such as 30d, 12h or 90m (default: never)."),
    ] = None,
    name: Annotated[str, typer.Option("--name", "-n", help="A label for the key.")] = "",
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a key for a user, agent or service account (or an app alone). Printed once."""
    with identity(config) as svc:
        info, plaintext = svc.create_key(
            user=user,
            app=app,
            agent=agent,
            service_account=service_account,
            team=team,
            name=name,
            models=split_list(models),
            expires_in=None if expires is None else parse_duration(expires),
            actor=cli_actor(),
        )
    if as_json:
        print_json({"key": plaintext, "note": SHOWN_ONCE, "api_key": info})
        return
    typer.echo(_describe(info))
    typer.echo("")
    typer.echo(f"    {plaintext}")
    typer.echo("")
    allowed = "all" if info.models is None else ", ".join(info.models)
    expiry = "never" if info.expires_at is None else info.expires_at.isoformat()
    typer.echo(f"Models: {allowed}. Expires: {expiry}.")
    typer.echo(SHOWN_ONCE)


@keys_app.command("list")
def list_keys(
    user: UserOption = None,
    team: TeamOption = None,
    app: AppOption = None,
    agent: AgentOption = None,
    service_account: ServiceOption = None,
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List keys, newest first (prefixes only; keys themselves are never stored)."""
    with identity(config) as svc:
        keys = svc.list_keys(
            user=user,
            team=team,
            app=app,
            agent=agent,
            service_account=service_account,
            include_revoked=include_revoked,
        )
    show_list(keys, _KEY_COLUMNS, as_json, empty="No keys found.")


@keys_app.command("show")
def show_key(ref: RefArg, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show one key."""
    with identity(config) as svc:
        key = svc.get_key(ref)
    show(key, as_json)


@keys_app.command("revoke")
def revoke_key(
    ref: RefArg, reason: ReasonOption = "", config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """Revoke a key for good."""
    with identity(config) as svc:
        key = svc.revoke_key(ref, reason, actor=cli_actor())
    show(key, as_json, f"Revoked key {key.prefix} ({key.id}).")


@keys_app.command("suspend")
def suspend_key(
    ref: RefArg, reason: ReasonOption = "", config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """Pause a key without revoking it."""
    with identity(config) as svc:
        key = svc.set_key_suspended(ref, True, reason, actor=cli_actor())
    show(key, as_json, f"Suspended key {key.prefix} ({key.id}).")


@keys_app.command("unsuspend")
def unsuspend_key(
    ref: RefArg, reason: ReasonOption = "", config: ConfigOption = None, as_json: JsonOption = False
) -> None:
    """Resume a suspended key."""
    with identity(config) as svc:
        key = svc.set_key_suspended(ref, False, reason, actor=cli_actor())
    show(key, as_json, f"Unsuspended key {key.prefix} ({key.id}).")


# -- admin keys ------------------------------------------------------------------------------


@admin_keys_app.command("create")
def create_admin_key(
    name: Annotated[str, typer.Option("--name", "-n", help="A label for the key.")] = "",
    role: Annotated[
        str, typer.Option("--role", help="admin (everything) or auditor (read only).")
    ] = "admin",
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue an admin API key. Printed once."""
    with identity(config) as svc:
        info, plaintext = svc.create_admin_key(name, role, actor=cli_actor())
    if as_json:
        print_json({"key": plaintext, "note": SHOWN_ONCE, "admin_key": info})
        return
    typer.echo(f"Created admin key {info.id} with role {info.role}.")
    typer.echo("")
    typer.echo(f"    {plaintext}")
    typer.echo("")
    typer.echo(SHOWN_ONCE)


@admin_keys_app.command("list")
def list_admin_keys(
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List admin keys."""
    with identity(config) as svc:
        keys: list[AdminKeyInfo] = svc.list_admin_keys(include_revoked=include_revoked)
    show_list(keys, _ADMIN_COLUMNS, as_json, empty="No admin keys.")


@admin_keys_app.command("revoke")
def revoke_admin_key(ref: RefArg, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Revoke an admin key (the last active admin-role key cannot be revoked)."""
    with identity(config) as svc:
        key = svc.revoke_admin_key(ref, actor=cli_actor())
    show(key, as_json, f"Revoked admin key {key.prefix} ({key.id}).")


__all__ = ["admin_keys_app", "keys_app"]
