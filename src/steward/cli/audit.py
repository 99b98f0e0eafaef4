"""`steward audit list`: read the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from steward.cli._common import ConfigOption, JsonOption, attr, fail, identity, show_list
from steward.identity.durations import parse_duration
from steward.identity.errors import Invalid
from steward.identity.records import AuditEntry

audit_app = typer.Typer(
    help="The audit trail: who changed what, and every refused request.", no_args_is_help=True
)


def parse_since(text: str) -> datetime:
    """A duration back from now (`1h`, `7d`) or an ISO 8601 time (UTC when no offset)."""
    try:
        return datetime.now(UTC) - parse_duration(text)
    except Invalid:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        fail(
            f"--since '{text}' is neither a duration (e.g. 1h, 7d) nor an ISO 8601 time "
            "(e.g. 2025-01-31T12:00:00Z)"
        )
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _target(entry: AuditEntry) -> str:
    if entry.target_type is None:
        return "-"
    return f"{entry.target_type}:{entry.target_id}"


_COLUMNS = [
    ("TIME", attr("ts")),
    ("ACTOR", lambda e: f"{e.actor_type}:{e.actor_id}"),
    ("ACTION", attr("action")),
    ("TARGET", _target),
    ("OUTCOME", attr("outcome")),
    ("REASON", attr("reason")),
]


@audit_app.command("list")
def list_audit(
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only newer events: a duration (1h, 7d) or an ISO time."),
    ] = None,
    action: Annotated[
        str | None,
        typer.Option("--action", help="Exact action, or a prefix ending in '*' (e.g. 'key.*')."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-l", help="At most this many (1-1000).")] = 100,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List audit events, newest first."""
    start = None if since is None else parse_since(since)
    with identity(config) as svc:
        entries = svc.list_audit(since=start, action=action, limit=limit)
    show_list(entries, _COLUMNS, as_json, empty="No audit events match.")


__all__ = ["audit_app"]
