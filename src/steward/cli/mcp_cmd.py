"""`steward mcp ...`: the MCP gateway's upstream servers and pinned tools; approve a tool whose
definition changed, or quarantine one. A thin front end over `PinService`, like the admin API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError

from steward.agents.mcp.store import PinService
from steward.cli._common import ConfigOption, JsonOption, attr, cli_actor, fail, show, show_list
from steward.config import ConfigError, Runtime
from steward.identity.errors import ServiceError
from steward.store.db import make_engine, session_factory, upgrade

mcp_app = typer.Typer(
    help="The MCP gateway: upstream servers and pinned tools (approve, quarantine).",
    no_args_is_help=True,
)

ToolArg = Annotated[
    str, typer.Argument(help="Namespaced tool name, e.g. crm__lookup_customer.", show_default=False)
]


@contextmanager
def _pins(config: str | None) -> Iterator[tuple[PinService, Runtime]]:
    """Open the pin service for one command; expected failures become a clean exit."""
    try:
        runtime = Runtime.load(config)
        upgrade(runtime.database_url)
        engine = make_engine(runtime.database_url)
    except ConfigError as exc:
        fail(str(exc).replace("\n", " "))
    except SQLAlchemyError as exc:
        fail(f"cannot open the database: {exc.__class__.__name__}: {exc}")
    try:
        yield PinService(session_factory(engine)), runtime
    except ServiceError as exc:
        fail(exc.message)
    except SQLAlchemyError as exc:
        fail(f"database error: {exc.__class__.__name__}: {exc}")
    finally:
        engine.dispose()


@dataclass(frozen=True)
class _Server:
    server: str
    transport: str
    target: str
    enabled: bool
    approved: int
    quarantined: int


@mcp_app.command("servers")
def servers(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Configured upstream servers and their pinned tools by status."""
    with _pins(config) as (pins, runtime):
        counts: dict[str, dict[str, int]] = {}
        for t in pins.list_tools():
            by = counts.setdefault(t.server, {})
            by[t.status] = by.get(t.status, 0) + 1
        rows = []
        for name, cfg in runtime.config.mcp.servers.items():
            by = counts.get(name, {})
            target = cfg.url or " ".join([cfg.command or "", *cfg.args])
            rows.append(
                _Server(
                    name,
                    cfg.transport,
                    target,
                    cfg.enabled,
                    by.get("approved", 0),
                    by.get("quarantined", 0),
                )
            )
    columns = [
        ("NAME", attr("server")),
        ("TRANSPORT", attr("transport")),
        ("TARGET", attr("target")),
        ("ENABLED", attr("enabled")),
        ("APPROVED", attr("approved")),
        ("QUARANTINED", attr("quarantined")),
    ]
    show_list(rows, columns, as_json, empty="no MCP servers are configured (mcp.servers)")


def _why(row: Any) -> str:
    if row.status == "approved":
        return "-"
    text = f"{row.reason}: {row.detail}" if row.detail else str(row.reason)
    if row.reason == "changed" and row.approved_description is not None:
        text += f' | approved: "{row.approved_description}" | now: "{row.description}"'
    return text


@mcp_app.command("tools")
def tools(
    server: Annotated[str | None, typer.Option("--server", help="Only this server.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="approved or quarantined.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pinned tools; a quarantined one shows why and what changed."""
    if status not in (None, "approved", "quarantined"):
        fail(f"--status must be approved or quarantined (got '{status}')")
    with _pins(config) as (pins, _):
        rows = pins.list_tools(server, status)
    columns = [
        ("TOOL", attr("tool")),
        ("STATUS", attr("status")),
        ("HASH", lambda r: r.current_hash[:12]),
        ("LAST SEEN", attr("last_seen")),
        ("WHY", _why),
    ]
    show_list(rows, columns, as_json, empty="no tools have been seen yet")


@mcp_app.command("approve-tool")
def approve_tool(
    tool: ToolArg,
    reason: Annotated[
        str | None, typer.Option("--reason", "-r", help="Why (recorded in the audit).")
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve a tool's current definition: agents may list and call it again."""
    with _pins(config) as (pins, _):
        info = pins.approve(tool, cli_actor(), reason)
    show(info, as_json, f"approved {info.tool} (hash {info.current_hash[:12]})")


@mcp_app.command("quarantine")
def quarantine(
    tool: ToolArg,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (recorded in the audit).")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Quarantine a tool until it is approved again."""
    with _pins(config) as (pins, _):
        info = pins.quarantine(tool, cli_actor(), reason)
    show(info, as_json, f"quarantined {info.tool}")


__all__ = ["mcp_app"]
