"""`steward approvals list|show|approve|deny`: the operator's side of human approvals, over the
same service as the admin API (the store is the truth every gateway process reads)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError

from steward.agents.approvals._store import ApprovalStore
from steward.agents.approvals.notify import DECIDED, decided_payload
from steward.agents.approvals.records import STATUSES, Approval
from steward.cli._common import ConfigOption, JsonOption, cli_actor, fail, print_json, show_list
from steward.config import ConfigError, Runtime
from steward.identity.errors import ServiceError
from steward.notify import Notifier
from steward.store.db import make_engine, session_factory, upgrade

approvals_app = typer.Typer(
    help="Human approvals: actions that policy holds until a person decides.",
    no_args_is_help=True,
)
IdArg = Annotated[str, typer.Argument(help="The approval id (apr_...).", show_default=False)]
NoteOption = Annotated[str, typer.Option("--note", "-n", help="Why; recorded and notified.")]


@contextmanager
def open_approvals(config: str | None) -> Iterator[tuple[Runtime, ApprovalStore]]:
    """Load the configuration, migrate the store and open the approvals; clean exits on error."""
    try:
        runtime = Runtime.load(config)
        upgrade(runtime.database_url)
        engine = make_engine(runtime.database_url)
    except ConfigError as exc:
        fail(str(exc).replace("\n", " "))
    except SQLAlchemyError as exc:
        fail(f"cannot open the database: {exc.__class__.__name__}: {exc}")
    try:
        yield runtime, ApprovalStore(session_factory(engine), runtime.config.approvals)
    except ServiceError as exc:
        fail(exc.message)
    except SQLAlchemyError as exc:
        fail(f"database error: {exc.__class__.__name__}: {exc}")
    finally:
        engine.dispose()


def notify_decided(runtime: Runtime, approval: Approval) -> None:
    """Deliver `approval.decided` to the subscribed webhooks (with the notifier's retries)."""
    settings = runtime.config.notifications
    if not settings.webhooks:
        return

    async def send() -> None:
        notifier = Notifier(settings, None)
        await notifier.start()
        await notifier.notify(DECIDED, decided_payload(approval))
        await notifier.close(timeout_s=30.0)

    asyncio.run(send())


def _who(a: Approval) -> str:
    ident = a.agent_id or a.user_id or a.app_id or a.service_account_id
    return a.names.get(ident, ident) if ident else a.principal_kind


def _name(a: Approval, ident: str | None) -> str | None:
    return None if ident is None else a.names.get(ident, ident)


_COLUMNS: list[tuple[str, Any]] = [
    ("ID", lambda a: a.id),
    ("STATUS", lambda a: a.status),
    ("ACTION", lambda a: a.action),
    ("RESOURCE", lambda a: a.resource),
    ("REQUESTER", _who),
    ("ON BEHALF OF", lambda a: _name(a, a.on_behalf_of)),
    ("CREATED", lambda a: a.created_at),
    ("EXPIRES", lambda a: a.expires_at),
]


@approvals_app.command("list")
def list_cmd(
    status: Annotated[
        str | None, typer.Option("--status", "-s", help=f"One of {', '.join(STATUSES)}.")
    ] = None,
    agent: Annotated[str | None, typer.Option("--agent", "-a", help="Agent name or id.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.")] = 100,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List approvals, newest first."""
    with open_approvals(config) as (_, store):
        rows = store.list_approvals(status=status, agent=agent, limit=limit)
    show_list(rows, _COLUMNS, as_json, empty="No approvals.")


def _show(a: Approval, as_json: bool, message: str | None = None) -> None:
    if as_json:
        print_json(a)
        return
    if message:
        typer.echo(message)
    lines = [
        ("id", a.id),
        ("status", a.status),
        ("action", a.action),
        ("resource", a.resource),
        ("arguments", a.arguments),
        ("reason", a.reason or "-"),
        ("policies", ", ".join(a.policies) or "-"),
        ("requester", f"{a.principal_kind} {_who(a)} (key {a.key_id or '-'})"),
        ("on behalf of", _name(a, a.on_behalf_of) or "-"),
        ("owner", _name(a, a.owner_id) or "-"),
        ("chain", " > ".join(a.names.get(c, c) for c in a.chain) or "-"),
        ("binding", a.binding),
        ("created", a.created_at.isoformat()),
        ("expires", a.expires_at.isoformat()),
        ("decided", a.decided_at.isoformat() if a.decided_at else "-"),
        ("decided by", a.decided_by or "-"),
        ("approver", _name(a, a.approver_id) or "-"),
        ("note", a.note or "-"),
        ("uses", a.uses),
    ]
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        typer.echo(f"{key.ljust(width)}  {value}")


@approvals_app.command("show")
def show_cmd(approval_id: IdArg, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show one approval: the exact action, its arguments, who asked and its state."""
    with open_approvals(config) as (_, store):
        approval = store.get(approval_id)
    _show(approval, as_json)


@approvals_app.command("approve")
def approve_cmd(
    approval_id: IdArg,
    approver: Annotated[
        str,
        typer.Option(
            "--as",
            help="The person approving (user name or id); not the requester or the user the "
            "agent acts for.",
            show_default=False,
        ),
    ],
    note: NoteOption = "",
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve a pending approval: the agent's identical call may go through."""
    with open_approvals(config) as (runtime, store):
        approval = store.decide(approval_id, True, actor=cli_actor(), approver=approver, note=note)
    notify_decided(runtime, approval)
    _show(approval, as_json, f"Approved {approval.id}.")


@approvals_app.command("deny")
def deny_cmd(
    approval_id: IdArg,
    approver: Annotated[
        str | None, typer.Option("--as", help="The person denying (user name or id).")
    ] = None,
    note: NoteOption = "",
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Deny a pending approval: the call is refused until the approval expires."""
    with open_approvals(config) as (runtime, store):
        approval = store.decide(approval_id, False, actor=cli_actor(), approver=approver, note=note)
    notify_decided(runtime, approval)
    _show(approval, as_json, f"Denied {approval.id}.")
