"""`steward remediation ...`: the actions remediation rules took or propose; confirm, reject or
revert them; the runtime overrides in force."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from steward.cli._common import ConfigOption, JsonOption, cli_actor, fail, print_json, show_list
from steward.cli.slo_cmd import Store, open_store
from steward.identity.service import IdentityService
from steward.notify.notifier import Notifier
from steward.remediation import service
from steward.remediation.actions import ActionError, action_context
from steward.remediation.engine import Notice, summary
from steward.remediation.overrides import list_overrides
from steward.store.models_slo import RemediationAction

remediation_app = typer.Typer(
    help="Remediation: actions taken or proposed by rules; confirm, reject, revert.",
    no_args_is_help=True,
)

ActionArg = Annotated[
    str, typer.Argument(help="Action id (or a unique prefix of it).", show_default=False)
]
NoteOption = Annotated[str, typer.Option("--note", "-n", help="Why (recorded in the audit).")]


def _deliver(store: Store, notices: list[Notice]) -> None:
    """Send the notifications of a step to the configured webhooks before exiting."""
    if not notices or not store.runtime.config.notifications.webhooks:
        return

    async def send() -> None:
        notifier = Notifier(store.runtime.config.notifications, None)
        await notifier.start()
        try:
            for event, payload in notices:
                await notifier.notify(event, payload)
        finally:
            await notifier.close()

    asyncio.run(send())


def _target(a: RemediationAction) -> str:
    return f"{a.target_type}:{a.target_id}" if a.target_id else "-"


_COLUMNS = [
    ("ID", lambda a: a.id),
    ("TIME", lambda a: a.created_at),
    ("RULE", lambda a: a.rule),
    ("TRIGGER", lambda a: a.trigger_key),
    ("ACTION", lambda a: a.action),
    ("TARGET", _target),
    ("MODE", lambda a: a.mode),
    ("STATUS", lambda a: a.status),
    ("NOTE", lambda a: a.note or ""),
]


@remediation_app.command("proposals")
def proposals(
    show_all: Annotated[
        bool, typer.Option("--all", help="Every action, not only those waiting.")
    ] = False,
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only this status: " + ", ".join(service.STATUSES) + "."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most recent actions shown.")] = 100,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Proposed actions waiting for a human (or, with --all/--status, every action)."""
    wanted = status if status is not None else (None if show_all else "proposed")
    with open_store(config) as store:
        try:
            rows = service.list_actions(store.sessions, wanted, limit)
        except ActionError as exc:
            fail(str(exc))
    if as_json:
        print_json([summary(r) | {"created_at": r.created_at, "note": r.note} for r in rows])
        return
    show_list(rows, _COLUMNS, False, empty="no actions" if wanted != "proposed" else "no proposals")


def _step(config: str | None, as_json: bool, verb: str, run: Any) -> None:
    with open_store(config) as store:
        identity = IdentityService(store.sessions)
        ctx = action_context(store.runtime.config, identity)
        try:
            row, notices = run(store, ctx)
        except ActionError as exc:
            fail(str(exc))
        _deliver(store, notices)
    if as_json:
        print_json(summary(row))
    else:
        typer.echo(f"{verb} {row.id}: {row.action} {_target(row)} (rule {row.rule})")


@remediation_app.command("confirm")
def confirm(
    action_id: ActionArg, note: NoteOption = "", config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:  # fmt: skip
    """Apply a proposed action now."""
    now = datetime.now(UTC)
    _step(config, as_json, "applied", lambda st, ctx: service.confirm(
        st.sessions, action_id, ctx, cli_actor(), now, note))  # fmt: skip


@remediation_app.command("reject")
def reject(
    action_id: ActionArg, note: NoteOption = "", config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:  # fmt: skip
    """Decline a proposed action (the rule's cooldown still applies)."""
    now = datetime.now(UTC)
    _step(config, as_json, "rejected", lambda st, ctx: service.reject(
        st.sessions, action_id, cli_actor(), now, note))  # fmt: skip


@remediation_app.command("revert")
def revert(
    action_id: ActionArg, note: NoteOption = "", config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:  # fmt: skip
    """Undo an applied action (remove its override, or lift its suspension)."""
    now = datetime.now(UTC)
    _step(config, as_json, "reverted", lambda st, ctx: service.revert(
        st.sessions, action_id, ctx, cli_actor(), now, note))  # fmt: skip


_OVERRIDE_COLUMNS = [
    ("KIND", lambda o: o.kind),
    ("TARGET", lambda o: o.target),
    ("VALUE", lambda o: ", ".join(f"{k}={v}" for k, v in sorted(o.value.items()))),
    ("ACTION", lambda o: o.action_id or "-"),
    ("SINCE", lambda o: o.created_at),
    ("BY", lambda o: o.created_by),
]


@remediation_app.command("overrides")
def overrides(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Runtime overrides in force: rerouted aliases, guard profiles, sampling rates, approvals."""
    with open_store(config) as store, store.sessions() as s:
        rows = list_overrides(s)
    if as_json:
        print_json(
            [{"kind": o.kind, "target": o.target, "value": o.value, "action_id": o.action_id,
              "created_at": o.created_at, "created_by": o.created_by} for o in rows]
        )  # fmt: skip
        return
    show_list(rows, _OVERRIDE_COLUMNS, False, empty="no overrides")
