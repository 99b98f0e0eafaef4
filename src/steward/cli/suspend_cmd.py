"""`steward suspend`, `steward resume` and `steward suspensions`: the kill switch. Every gateway
process refuses the next request of what is suspended within a second."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from steward.agents.suspension_service import (
    KINDS,
    SuspensionInfo,
    SuspensionService,
    suspension_service,
)
from steward.cli._common import ConfigOption, JsonOption, attr, cli_actor, fail, show, show_list
from steward.config import ConfigError, Runtime
from steward.identity.errors import ServiceError
from steward.store.db import make_engine, session_factory, upgrade

KindArg = Annotated[
    str | None,
    typer.Argument(help=f"What to suspend: {', '.join(KINDS)}.", show_default=False),
]
NameArg = Annotated[
    str | None,
    typer.Argument(help="Its name or id (a key's id or prefix).", show_default=False),
]
AllAgentsOption = Annotated[
    bool, typer.Option("--all-agents", help="Every agent at once (no KIND or NAME).")
]


@contextmanager
def _service(config: str | None) -> Iterator[SuspensionService]:
    try:
        runtime = Runtime.load(config)
        upgrade(runtime.database_url)
        engine = make_engine(runtime.database_url)
    except ConfigError as exc:
        fail(str(exc).replace("\n", " "))
    except SQLAlchemyError as exc:
        fail(f"cannot open the database: {exc.__class__.__name__}: {exc}")
    try:
        yield suspension_service(session_factory(engine), runtime.config)
    except ServiceError as exc:
        fail(exc.message)
    except SQLAlchemyError as exc:
        fail(f"database error: {exc.__class__.__name__}: {exc}")
    finally:
        engine.dispose()


def _target(kind: str | None, name: str | None, all_agents: bool) -> tuple[str, str] | None:
    if all_agents:
        if kind or name:
            fail("--all-agents takes no KIND or NAME")
        return None
    if kind is None or name is None:
        fail(f"give KIND and NAME (KIND is one of {', '.join(KINDS)}), or --all-agents")
    if kind not in KINDS:
        fail(f"unknown KIND '{kind}'; use one of {', '.join(KINDS)}")
    return kind, name


def _announce(config: str | None, approval_ids: list[str]) -> None:
    """Tell approvers about the approvals the suspension cancelled (`approval.decided`)."""
    if not approval_ids:
        return
    from steward.cli.approvals_cmd import notify_decided, open_approvals

    with open_approvals(config) as (runtime, store):
        cancelled = [store.get(i) for i in approval_ids]
    for approval in cancelled:
        notify_decided(runtime, approval)


def _done(info: SuspensionInfo, as_json: bool, verb: str) -> None:
    what = "every agent" if info.kind == "all-agents" else f"{info.kind} {info.name}"
    message = f"{verb} {what}."
    if info.cancelled_approvals:
        message += f" Cancelled {len(info.cancelled_approvals)} open approval(s)."
    show(info, as_json, message)


def suspend(
    kind: KindArg = None,
    name: NameArg = None,
    reason: Annotated[
        str, typer.Option("--reason", "-r", help="Why (required; recorded in the audit).")
    ] = "",
    all_agents: AllAgentsOption = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Suspend an agent, app, key, user, service account, model or tool server (or every
    agent): requests are refused, open streams and MCP sessions closed, and the agents' open
    approvals cancelled."""
    target = _target(kind, name, all_agents)
    with _service(config) as svc:
        if target is None:
            info = svc.freeze_agents(reason, actor=cli_actor())
        else:
            info = svc.suspend(target[0], target[1], reason, actor=cli_actor())
    _announce(config, info.cancelled_approvals)
    _done(info, as_json, "Froze" if target is None else "Suspended")


def resume(
    kind: KindArg = None,
    name: NameArg = None,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (recorded).")] = "",
    all_agents: AllAgentsOption = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Lift a suspension (or the all-agents freeze)."""
    target = _target(kind, name, all_agents)
    with _service(config) as svc:
        if target is None:
            info = svc.thaw_agents(reason, actor=cli_actor())
        else:
            info = svc.resume(target[0], target[1], reason, actor=cli_actor())
    _done(info, as_json, "Unfroze" if target is None else "Resumed")


def suspensions(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List everything suspended now, with the reason and who suspended it."""
    with _service(config) as svc:
        rows = svc.list_suspensions()
    columns = [
        ("KIND", attr("kind")),
        ("NAME", attr("name")),
        ("REASON", attr("reason")),
        ("BY", attr("actor")),
        ("SINCE", attr("since")),
        ("ID", attr("id")),
    ]
    show_list(rows, columns, as_json, empty="Nothing is suspended.")
