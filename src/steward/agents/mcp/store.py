"""Pinned tools in the store: written when a gateway lists an upstream server, read by every
gateway process through the snapshot's `mcp_tools` section, and approved or quarantined by
admins (admin API and `steward mcp`). Every quarantine and approval is an audit event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from steward.agents.mcp.names import SEPARATOR, ToolNameError, split
from steward.agents.mcp.pinning import Change, Pin, PinKey, assess
from steward.events.ids import new_id
from steward.identity.errors import NotFound
from steward.identity.records import Actor
from steward.identity.snapshot import Section, register_section
from steward.identity.state import bump_version
from steward.store.models import AuditEvent
from steward.store.models_mcp import McpTool

SECTION_NAME = "mcp_tools"
_TOUCH_AFTER = timedelta(hours=1)  # last_seen is refreshed at most this often


def _now() -> datetime:
    return datetime.now(UTC)


def _pin(row: McpTool) -> Pin:
    return Pin(
        server=row.server,
        name=row.name,
        status="approved" if row.status == "approved" else "quarantined",
        approved_hash=row.approved_hash,
        current_hash=row.current_hash,
        reason=row.reason,
        detail=row.detail,
    )


def load_pins(session: Session) -> dict[PinKey, Pin]:
    """Every pin, by (server, tool)."""
    return {(r.server, r.name): _pin(r) for r in session.scalars(select(McpTool))}


def _dump(pins: dict[PinKey, Pin]) -> list[dict[str, Any]]:
    return [p.to_json() for p in pins.values()]


def _parse(raw: list[dict[str, Any]]) -> dict[PinKey, Pin]:
    pins = (Pin.from_json(d) for d in raw)
    return {(p.server, p.name): p for p in pins}


SECTION = register_section(Section(SECTION_NAME, load_pins, _dump, _parse, dict))


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    pin: Pin,
    *,
    reason: str | None,
    details: dict[str, Any],
) -> None:
    payload = {"server": pin.server, "tool": pin.name, **details}
    if actor.role is not None:
        payload["actor_role"] = actor.role
    session.add(
        AuditEvent(
            id=new_id(),
            ts=_now(),
            actor_type=actor.type,
            actor_id=actor.id,
            action=action,
            target_type="tool",
            target_id=f"{pin.server}{SEPARATOR}{pin.name}",
            outcome="succeeded",
            reason=reason,
            request_id=actor.request_id,
            details=payload,
        )
    )


def _apply(
    session: Session,
    change: Change,
    rows: Mapping[PinKey, McpTool],
    definitions: Mapping[str, dict[str, Any]],
    now: datetime,
) -> None:
    pin = change.pin
    defn = definitions[pin.name]
    row = rows.get((pin.server, pin.name))
    if row is None:
        row = McpTool(
            id=new_id(),
            server=pin.server,
            name=pin.name,
            first_seen=now,
            approved_definition=defn if pin.status == "approved" else None,
            approved_at=now if pin.status == "approved" else None,
            approved_by="steward (first seen)" if pin.status == "approved" else None,
        )
        session.add(row)
    row.status = pin.status
    row.reason = pin.reason
    row.detail = pin.detail
    row.current_hash = pin.current_hash
    row.approved_hash = pin.approved_hash
    row.definition = defn
    row.last_seen = now
    row.changed_at = now


def record_listing(
    sessions: sessionmaker[Session],
    server: str,
    definitions: Mapping[str, dict[str, Any]],
    hashes: Mapping[str, str],
    new_tools: Literal["pin", "quarantine"],
) -> tuple[dict[PinKey, Pin], list[Change], int | None]:
    """Pin what `server` lists now (tool name -> definition, hash): new pins, quarantines and
    their audit events in one transaction (retried once if another process raced us).
    Returns every pin afterwards, the changes made and the state version that publishes them
    (None when nothing changed)."""
    for attempt in (1, 2):
        try:
            return _record(sessions, server, definitions, hashes, new_tools)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _record(
    sessions: sessionmaker[Session],
    server: str,
    definitions: Mapping[str, dict[str, Any]],
    hashes: Mapping[str, str],
    new_tools: Literal["pin", "quarantine"],
) -> tuple[dict[PinKey, Pin], list[Change], int | None]:
    with sessions.begin() as session:
        rows = {(r.server, r.name): r for r in session.scalars(select(McpTool))}
        pins = {k: _pin(r) for k, r in rows.items()}
        changes = assess(server, hashes, pins, new_tools)
        now = _now()
        for change in changes:
            _apply(session, change, rows, definitions, now)
            pins[(change.pin.server, change.pin.name)] = change.pin
            if change.event == "quarantine":
                _audit(
                    session,
                    Actor("system", "steward"),
                    "mcp.tool.quarantine",
                    change.pin,
                    reason=change.pin.detail,
                    details={
                        "cause": change.pin.reason,
                        "hash": change.pin.current_hash,
                        "approved_hash": change.pin.approved_hash,
                    },
                )
            elif change.event == "pin":
                _audit(
                    session,
                    Actor("system", "steward"),
                    "mcp.tool.pin",
                    change.pin,
                    reason="first seen",
                    details={"hash": change.pin.current_hash},
                )
        for name in hashes:
            row = rows.get((server, name))
            if row is not None and now - _aware(row.last_seen) > _TOUCH_AFTER:
                row.last_seen = now
        version = bump_version(session) if changes else None
        return pins, changes, version


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ToolInfo:
    """A pinned tool as admins see it."""

    tool: str  # namespaced
    server: str
    name: str
    status: str
    reason: str | None
    detail: str | None
    current_hash: str
    approved_hash: str | None
    description: str
    input_schema: dict[str, Any]
    approved_description: str | None
    approved_input_schema: dict[str, Any] | None
    first_seen: datetime
    last_seen: datetime
    changed_at: datetime
    approved_at: datetime | None
    approved_by: str | None


def _info(row: McpTool) -> ToolInfo:
    approved = row.approved_definition or None
    return ToolInfo(
        tool=f"{row.server}{SEPARATOR}{row.name}",
        server=row.server,
        name=row.name,
        status=row.status,
        reason=row.reason,
        detail=row.detail,
        current_hash=row.current_hash,
        approved_hash=row.approved_hash,
        description=str(row.definition.get("description") or ""),
        input_schema=dict(row.definition.get("inputSchema") or {}),
        approved_description=str(approved.get("description") or "") if approved else None,
        approved_input_schema=dict(approved.get("inputSchema") or {}) if approved else None,
        first_seen=_aware(row.first_seen),
        last_seen=_aware(row.last_seen),
        changed_at=_aware(row.changed_at),
        approved_at=_aware(row.approved_at) if row.approved_at else None,
        approved_by=row.approved_by,
    )


class PinService:
    """What admins do with pinned tools; the admin API and the CLI are thin fronts over it."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def list_tools(self, server: str | None = None, status: str | None = None) -> list[ToolInfo]:
        """Pinned tools, optionally of one server or in one status."""
        stmt = select(McpTool).order_by(McpTool.server, McpTool.name)
        if server:
            stmt = stmt.where(McpTool.server == server)
        if status:
            stmt = stmt.where(McpTool.status == status)
        with self._sessions() as session:
            return [_info(r) for r in session.scalars(stmt)]

    def get_tool(self, tool: str) -> ToolInfo:
        """One pinned tool by its namespaced name."""
        with self._sessions() as session:
            return _info(self._row(session, tool))

    @staticmethod
    def _row(session: Session, tool: str) -> McpTool:
        try:
            server, name = split(tool)
        except ToolNameError:
            raise NotFound(
                f"'{tool}' is not a tool name: tools are named <server>__<tool> "
                "(`steward mcp tools` lists them)",
                code="tool_not_found",
            ) from None
        row = session.scalars(
            select(McpTool).where(McpTool.server == server, McpTool.name == name)
        ).first()
        if row is None:
            raise NotFound(
                f"no tool '{tool}' has been seen; `steward mcp tools` lists the known ones",
                code="tool_not_found",
            )
        return row

    def approve(self, tool: str, actor: Actor, reason: str | None = None) -> ToolInfo:
        """Approve the tool's current definition: agents may list and call it again."""
        with self._sessions.begin() as session:
            row = self._row(session, tool)
            previous = row.approved_hash
            row.status = "approved"
            row.approved_hash = row.current_hash
            row.approved_definition = dict(row.definition)
            row.approved_at = _now()
            row.approved_by = actor.label()
            cause, row.reason, row.detail = row.reason, None, None
            _audit(
                session,
                actor,
                "mcp.tool.approve",
                _pin(row),
                reason=reason,
                details={"hash": row.current_hash, "previous_hash": previous, "cause": cause},
            )
            bump_version(session)
            return _info(row)

    def quarantine(self, tool: str, actor: Actor, reason: str) -> ToolInfo:
        """Hold a tool: it is no longer listed and calls are refused until approved again."""
        with self._sessions.begin() as session:
            row = self._row(session, tool)
            row.status = "quarantined"
            row.reason = "admin"
            row.detail = f"quarantined by {actor.label()}: {reason}"
            row.changed_at = _now()
            _audit(
                session,
                actor,
                "mcp.tool.quarantine",
                _pin(row),
                reason=reason,
                details={"cause": "admin", "hash": row.current_hash},
            )
            bump_version(session)
            return _info(row)


__all__ = ["SECTION", "SECTION_NAME", "PinService", "ToolInfo", "load_pins", "record_listing"]
